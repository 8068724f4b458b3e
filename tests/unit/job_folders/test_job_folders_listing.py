"""Jobs on the data owner's disk: both layouts, every status, hostile entries skipped."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from syft_monitors.errors import (
    InvalidEmailError,
    InvalidJobError,
    JobFolderError,
    UnsafePathError,
)
from syft_monitors.job_folders.listing import list_local_jobs, parse_time
from syft_monitors.protocol.jobs import JobLayout
from syft_monitors.protocol.limits import Limits

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"
DS2 = "ds_two@lab.example.com"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class Tree:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs = root / DO / "app_data" / "job"
        self.jobs.mkdir(parents=True)

    def submit(self, ds: str, name: str, submitted_at: str = "2026-05-14T09:30:00+00:00") -> Path:
        folder = self.jobs / "inbox" / ds / name
        (folder / "code").mkdir(parents=True)
        (folder / "config.yaml").write_text(
            f"name: {name!r}\ntype: python\nsubmitted_at: '{submitted_at}'\nentrypoint: main.py\n"
        )
        (folder / "run.sh").write_text("#!/bin/bash\n")
        (folder / "code" / "main.py").write_text("print(1)\n")
        return folder

    def state(self, ds: str, name: str, text: str) -> Path:
        folder = self.jobs / "review" / ds / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "state.yaml").write_text(text)
        return folder

    def legacy(self, name: str, *markers: str, submitted_by: str | None = DS) -> Path:
        folder = self.jobs / name
        folder.mkdir(parents=True)
        lines = [f"name: {name!r}", "submitted_at: '2026-01-02T03:04:05'"]
        if submitted_by is not None:
            lines.append(f"submitted_by: {submitted_by}")
        (folder / "config.yaml").write_text("\n".join(lines) + "\n")
        for marker in markers:
            (folder / marker).write_text("")
        return folder


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "SyftBox")


def test_empty_or_missing_job_folder_lists_nothing(tmp_path: Path) -> None:
    (tmp_path / DO).mkdir()
    listing = list_local_jobs(tmp_path, DO)
    assert listing == []
    assert listing.jobs == []
    assert listing.rejected == []


def test_current_layout_statuses_and_details(tree: Tree) -> None:
    tree.submit(DS, "received job", "2026-05-14T09:00:00+00:00")
    tree.submit(DS, "approved job", "2026-05-14T10:00:00+00:00")
    tree.state(
        DS,
        "approved job",
        "status: approved\napproved_at: '2026-05-14T10:05:00+00:00'\napproved_by: x@y.org\n",
    )
    tree.submit(DS2, "finished", "2026-05-14T11:00:00Z")
    review = tree.state(
        DS2,
        "finished",
        "status: done\ncompleted_at: '2026-05-14T11:30:00+00:00'\nreturn_code: 0\n",
    )
    (review / "stdout.txt").write_text("ok\n")
    (review / "stderr.txt").write_text("")
    (review / "returncode.txt").write_text("0\n")

    listing = list_local_jobs(tree.root, DO)
    assert listing.rejected == []
    assert [(job.name, job.status) for job in listing] == [
        ("finished", "done"),
        ("approved job", "approved"),
        ("received job", "received"),
    ]
    finished, approved, received = listing.jobs
    assert finished.submitter == DS2
    assert finished.datasite == DO
    assert finished.layout is JobLayout.CURRENT
    assert finished.submitted_at == utc("2026-05-14T11:00:00+00:00")
    assert finished.completed_at == utc("2026-05-14T11:30:00+00:00")
    assert finished.return_code == 0
    assert finished.review_path == review.resolve()
    assert finished.stdout_path == (review / "stdout.txt").resolve()
    assert finished.returncode_path == (review / "returncode.txt").resolve()
    assert finished.path == (tree.jobs / "inbox" / DS2 / "finished").resolve()
    assert finished.updated_at is not None
    assert approved.approved_at == utc("2026-05-14T10:05:00+00:00")
    assert approved.state["approved_by"] == "x@y.org"
    assert received.review_path is None
    assert received.state == {}
    assert received.config["entrypoint"] == "main.py"
    assert received.key == (DS, "received job")


def test_legacy_layout_markers(tree: Tree) -> None:
    tree.legacy("plain")
    tree.legacy("approved one", "approved")
    done = tree.legacy("done one", "approved", "done")
    (done / "returncode.txt").write_text("3")
    os.utime(done / "done", (1_700_000_000, 1_700_000_000))
    listing = list_local_jobs(tree.root, DO)
    assert listing.rejected == []
    by_name = {job.name: job for job in listing}
    assert {name: job.status for name, job in by_name.items()} == {
        "plain": "received",
        "approved one": "approved",
        "done one": "done",
    }
    job = by_name["done one"]
    assert job.layout is JobLayout.LEGACY
    assert job.submitter == DS
    assert job.review_path is None
    assert job.return_code == 3
    assert job.completed_at == dt.datetime.fromtimestamp(1_700_000_000, tz=dt.UTC)
    assert job.submitted_at == utc("2026-01-02T03:04:05+00:00")  # naive means UTC


def test_both_layouts_side_by_side(tree: Tree) -> None:
    tree.submit(DS, "new")
    tree.legacy("old")
    layouts = {job.name: job.layout for job in list_local_jobs(tree.root, DO)}
    assert layouts == {"new": JobLayout.CURRENT, "old": JobLayout.LEGACY}


def test_hidden_entries_and_plain_files_are_skipped_silently(tree: Tree) -> None:
    tree.submit(DS, "real")
    (tree.jobs / "inbox" / DS / "syft.pub.yaml").write_text("rules: []\n")
    (tree.jobs / "inbox" / ".DS_Store").write_text("")
    (tree.jobs / ".cache").mkdir()
    (tree.jobs / "inbox" / DS / ".partial").mkdir()
    listing = list_local_jobs(tree.root, DO)
    assert [job.name for job in listing] == ["real"]
    assert listing.rejected == []


def test_bad_entries_are_rejected_without_hiding_good_ones(tree: Tree) -> None:
    tree.submit(DS, "good")
    tree.submit(DS, "bad state")
    tree.state(DS, "bad state", "status: hacked\n")
    tree.submit(DS, "broken yaml")
    (tree.jobs / "inbox" / DS / "broken yaml" / "config.yaml").write_text("a: [\n")
    (tree.jobs / "inbox" / DS / "no config").mkdir()
    (tree.jobs / "inbox" / "not-an-email" / "x").mkdir(parents=True)
    tree.legacy("anonymous", submitted_by=None)
    listing = list_local_jobs(tree.root, DO)
    assert [job.name for job in listing] == ["good"]
    errors = {path.name: type(error) for path, error in listing.rejected}
    assert errors == {
        "bad state": InvalidJobError,
        "broken yaml": InvalidJobError,
        "no config": JobFolderError,
        "not-an-email": InvalidEmailError,
        "anonymous": InvalidJobError,
    }


def test_control_characters_in_folder_names_are_rejected(tree: Tree) -> None:
    tree.submit(DS, "fine")
    tree.submit(DS, "evil\r\nBcc: x@y.org")
    listing = list_local_jobs(tree.root, DO)
    assert [job.name for job in listing] == ["fine"]
    ((_, error),) = listing.rejected
    assert type(error) is UnsafePathError


def test_symlinked_job_folder_escaping_the_root_is_rejected(tree: Tree, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "code").mkdir(parents=True)
    (outside / "config.yaml").write_text("name: stolen\n")
    (tree.jobs / "inbox" / DS).mkdir(parents=True)
    (tree.jobs / "inbox" / DS / "stolen").symlink_to(outside)
    tree.submit(DS, "fine")
    listing = list_local_jobs(tree.root, DO)
    assert [job.name for job in listing] == ["fine"]
    assert [type(error) for _, error in listing.rejected] == [UnsafePathError]


def test_symlinked_config_escaping_the_root_is_rejected(tree: Tree, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2\n")
    folder = tree.submit(DS, "leaky")
    (folder / "config.yaml").unlink()
    (folder / "config.yaml").symlink_to(secret)
    listing = list_local_jobs(tree.root, DO)
    assert listing.jobs == []
    ((_, error),) = listing.rejected
    assert type(error) is UnsafePathError
    assert "hunter2" not in str(error)


def test_symlinks_inside_the_root_are_followed(tree: Tree) -> None:
    real = tree.submit(DS, "real")
    (tree.jobs / "inbox" / DS / "alias").symlink_to(real)
    names = sorted(job.name for job in list_local_jobs(tree.root, DO))
    assert names == ["alias", "real"]


def test_fifo_config_is_rejected_without_blocking(tree: Tree) -> None:
    folder = tree.submit(DS, "fifo")
    (folder / "config.yaml").unlink()
    os.mkfifo(folder / "config.yaml")
    listing = list_local_jobs(tree.root, DO)
    assert [type(error) for _, error in listing.rejected] == [JobFolderError]


def test_oversized_yaml_is_rejected(tree: Tree) -> None:
    folder = tree.submit(DS, "huge")
    (folder / "config.yaml").write_text("a: " + "x" * 5000 + "\n")
    listing = list_local_jobs(tree.root, DO, limits=Limits(max_yaml_bytes=4096))
    assert [type(error) for _, error in listing.rejected] == [InvalidJobError]


def test_whole_job_tree_symlinked_outside_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "SyftBox"
    (root / DO / "app_data").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    (outside / "inbox").mkdir(parents=True)
    (root / DO / "app_data" / "job").symlink_to(outside)
    listing = list_local_jobs(root, DO)
    assert listing.jobs == []
    assert [type(error) for _, error in listing.rejected] == [UnsafePathError]


def test_arguments_are_validated(tmp_path: Path) -> None:
    with pytest.raises(InvalidEmailError):
        list_local_jobs(tmp_path, "../etc")
    with pytest.raises(JobFolderError):
        list_local_jobs(tmp_path / "missing", DO)


def test_parse_time() -> None:
    assert parse_time("2026-05-14T09:30:00Z") == utc("2026-05-14T09:30:00+00:00")
    assert parse_time("2026-05-14") == utc("2026-05-14T00:00:00+00:00")
    assert parse_time("yesterday") is None
    assert parse_time(None) is None
    assert parse_time(12) is None
