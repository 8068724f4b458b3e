"""Reading job folders for matching and writing approvals, on a real temporary disk."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
from pathlib import Path

import pytest
import yaml

from syft_monitors.errors import JobFolderError
from syft_monitors.job_folders.approval import (
    approval_problem,
    collect_code_files,
    is_eligible,
    job_folder_names,
    recorded_hashes,
    sha256_file,
    submission_hashes,
    sync_lock,
    withdraw_approval,
    write_approval,
)
from syft_monitors.job_folders.listing import LocalJob, list_local_jobs

DO = "do@x.org"
DS = "ds@y.org"
NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def current_job(root: Path, name: str = "job", state: dict[str, object] | None = None) -> Path:
    folder = root / DO / "app_data/job/inbox" / DS / name
    (folder / "code/lib").mkdir(parents=True)
    (folder / "config.yaml").write_text("name: job\n")
    (folder / "run.sh").write_text("python main.py\n")
    (folder / "code/main.py").write_text("print(1)\n")
    (folder / "code/lib/util.py").write_text("x = 1\n")
    (folder / "code/syft.pub.yaml").write_text("rules: []\n")
    if state is not None:
        review = root / DO / "app_data/job/review" / DS / name
        review.mkdir(parents=True)
        (review / "state.yaml").write_text(yaml.safe_dump(state))
    return folder


def legacy_job(root: Path, name: str = "old") -> Path:
    folder = root / DO / "app_data/job" / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"name: {name}\nsubmitted_by: {DS}\n")
    (folder / "run.sh").write_text("python main.py\n")
    (folder / "main.py").write_text("print(1)\n")
    return folder


def only_job(root: Path) -> LocalJob:
    jobs = list_local_jobs(root, DO).jobs
    assert len(jobs) == 1
    return jobs[0]


def test_current_layout_files_are_relative_to_code(tmp_path: Path) -> None:
    current_job(tmp_path)
    job = only_job(tmp_path)
    assert is_eligible(job)
    code = collect_code_files(job)
    assert sorted(code.files) == ["lib/util.py", "main.py"]
    assert code.run_script is not None
    assert sha256_file(code.files["main.py"]) == hashlib.sha256(b"print(1)\n").hexdigest()


def test_legacy_layout_leaves_out_config_and_run_script(tmp_path: Path) -> None:
    legacy_job(tmp_path)
    job = only_job(tmp_path)
    assert sorted(collect_code_files(job).files) == ["main.py"]


def test_symlink_or_bad_shape_makes_a_job_unusable(tmp_path: Path) -> None:
    folder = current_job(tmp_path)
    (folder / "code/link.py").symlink_to(folder / "code/main.py")
    with pytest.raises(JobFolderError, match="not a regular file"):
        collect_code_files(only_job(tmp_path))
    (folder / "code/link.py").unlink()
    (folder / "extra.txt").write_text("x")
    with pytest.raises(JobFolderError, match="extra"):
        collect_code_files(only_job(tmp_path))


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    folder = current_job(tmp_path)
    before = collect_code_files(only_job(tmp_path)).fingerprint
    assert collect_code_files(only_job(tmp_path)).fingerprint == before
    (folder / "code/main.py").write_text("print(22)\n")
    assert collect_code_files(only_job(tmp_path)).fingerprint != before


def test_received_job_gets_a_full_state_file(tmp_path: Path) -> None:
    current_job(tmp_path)
    write_approval(tmp_path, only_job(tmp_path), DO, NOW)
    state = yaml.safe_load(
        (tmp_path / DO / "app_data/job/review" / DS / "job/state.yaml").read_text()
    )
    assert state["status"] == "approved"
    assert state["approved_by"] == DO
    assert state["approval_method"] == "auto"
    assert state["approved_at"] == state["received_at"] == "2026-05-01T12:00:00+00:00"
    assert state["rejected_by"] is None
    assert not is_eligible(only_job(tmp_path))


def test_pending_job_keeps_other_keys(tmp_path: Path) -> None:
    current_job(tmp_path, state={"status": "pending", "received_at": "2026-04-30", "x": [1]})
    write_approval(tmp_path, only_job(tmp_path), DO, NOW)
    job = only_job(tmp_path)
    assert job.status == "approved"
    assert job.state["x"] == [1]
    assert job.state["received_at"] == "2026-04-30"


def test_state_file_symlink_is_not_written_through(tmp_path: Path) -> None:
    current_job(tmp_path, state={"status": "pending"})
    job = only_job(tmp_path)
    target = tmp_path / "elsewhere.yaml"
    target.write_text("status: pending\n")
    state_file = tmp_path / DO / "app_data/job/review" / DS / "job/state.yaml"
    state_file.unlink()
    state_file.symlink_to(target)
    with pytest.raises(JobFolderError):
        write_approval(tmp_path, job, DO, NOW)
    assert target.read_text() == "status: pending\n"


def test_legacy_approval_is_an_empty_marker(tmp_path: Path) -> None:
    folder = legacy_job(tmp_path)
    write_approval(tmp_path, only_job(tmp_path), DO, NOW)
    assert (folder / "approved").read_bytes() == b""
    assert only_job(tmp_path).status == "approved"


def test_sync_lock_is_shared_with_the_owner_client(tmp_path: Path) -> None:
    with sync_lock(tmp_path) as held:
        assert held
    with (tmp_path / ".sync.lock").open() as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with sync_lock(tmp_path) as held:
            assert not held


def test_folder_names_list_both_layouts_without_reading(tmp_path: Path) -> None:
    current_job(tmp_path)
    legacy_job(tmp_path)
    (tmp_path / DO / "app_data/job/.hidden").mkdir()
    os.chmod(tmp_path / DO / "app_data/job/old/config.yaml", 0)
    assert job_folder_names(tmp_path, DO) == {("inbox", DS, "job"), ("old",)}


def test_approval_record_is_checked_and_withdrawn_only_while_it_stands(tmp_path: Path) -> None:
    folder = current_job(tmp_path, state={"status": "pending", "received_at": "x"})
    hashes = submission_hashes(folder)
    assert sorted(hashes) == ["code/lib/util.py", "code/main.py", "config.yaml", "run.sh"]
    state = write_approval(tmp_path, only_job(tmp_path), DO, NOW, hashes, method="manual")
    assert state["approval_method"] == "manual"
    assert recorded_hashes(only_job(tmp_path).state) == hashes
    assert approval_problem(hashes, folder) is None
    (folder / "code/syft.pub.yaml").write_text("rules: [changed]\n")  # not the job's code
    assert approval_problem(hashes, folder) is None

    (folder / "code/lib/util.py").write_text("x = 2\n")
    (folder / "code/new.py").write_text("import os\n")
    (folder / "code/main.py").unlink()
    problem = approval_problem(hashes, folder)
    assert problem == (
        "changed 'code/lib/util.py'; added 'code/new.py'; removed 'code/main.py' after the approval"
    )
    (folder / "extra").write_text("")
    assert "the job folder changed" in (approval_problem(hashes, folder) or "")

    job = only_job(tmp_path)
    other = {**hashes, "run.sh": "0" * 64}
    assert withdraw_approval(tmp_path, job, other, "x") is None  # not the approval on disk
    written = withdraw_approval(tmp_path, job, hashes, problem or "")
    assert written is not None
    on_disk = yaml.safe_load(only_job(tmp_path).review_path.joinpath("state.yaml").read_text())  # type: ignore[union-attr]
    assert on_disk["status"] == "pending"
    assert on_disk["received_at"] == "x"
    assert on_disk["review_reason"] == "approval withdrawn: " + (problem or "")
    assert "approved_hashes" not in on_disk
    assert withdraw_approval(tmp_path, only_job(tmp_path), hashes, "again") is None
