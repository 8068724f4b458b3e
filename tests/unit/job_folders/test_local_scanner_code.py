"""The local scanner reads a bounded part of a job's code, and says when it left files unread."""

from __future__ import annotations

from pathlib import Path

from syft_monitors.events import EventKind
from syft_monitors.monitors.local import LocalScanner
from syft_monitors.notify.preview import MAX_FILE_BYTES, MAX_TOTAL_CODE_BYTES

DO = "owner@hospital.example.org"
DS = "alice@uni-x.edu"


def job(root: Path, files: dict[str, bytes]) -> Path:
    folder = root / DO / "app_data" / "job" / "inbox" / DS / "census"
    (folder / "code").mkdir(parents=True)
    (folder / "config.yaml").write_text("name: census\ntype: python\nentrypoint: main.py\n")
    (folder / "run.sh").write_text("#!/bin/bash\npython code/main.py\n")
    for name, data in files.items():
        (folder / "code" / name).write_bytes(data)
    return folder


def new_job_details(root: Path) -> tuple[dict[str, bytes], bool]:
    [event] = [e for e in LocalScanner(root, DO).events() if e.kind is EventKind.NEW_JOB]
    return dict(event.details.code), event.details.code_truncated


def test_a_job_within_the_cap_is_read_whole(tmp_path: Path) -> None:
    job(tmp_path, {"main.py": b"print(1)\n", "lib.py": b"x = 1\n"})
    code, truncated = new_job_details(tmp_path)
    assert set(code) == {"code/main.py", "code/lib.py"}
    assert not truncated


def test_files_past_the_cap_are_not_read_and_the_event_says_so(tmp_path: Path) -> None:
    files = {f"part{n:02}.py": b"x" * MAX_FILE_BYTES for n in range(10)}
    files["zz.py"] = b"print('never shown')\n"
    job(tmp_path, files)
    assert 10 * MAX_FILE_BYTES >= MAX_TOTAL_CODE_BYTES
    code, truncated = new_job_details(tmp_path)
    assert "code/zz.py" not in code
    assert len(code) == 10
    assert truncated


def test_exactly_filling_the_cap_with_nothing_after_is_not_truncated(tmp_path: Path) -> None:
    job(tmp_path, {f"part{n:02}.py": b"x" * MAX_FILE_BYTES for n in range(10)})
    code, truncated = new_job_details(tmp_path)
    assert len(code) == 10
    assert not truncated
