"""`syft-bg inspect message FILE`: JSON document, readable summary, errors and exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from syft_monitors.cli.errors import run_cli
from syft_monitors.cli.main import cli
from syft_monitors.errors import CorruptMessageError, EncryptedMessageError
from syft_monitors.protocol.messages import EventsMessage, ProposedChangesMessage
from syft_sandbox.messages import encode_message, new_events_message, new_proposed_changes

DS = "first_last+tag@uni-x.edu"
DO = "data.owner@hospital.example.org"
JOB = f"app_data/job/inbox/{DS}/Job - 1a2b"
CONFIG = "name: Job - 1a2b\ntype: python\n"


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def write(tmp_path: Path, message: ProposedChangesMessage | EventsMessage) -> Path:
    path = tmp_path / message.filename.name
    path.write_bytes(encode_message(message))
    return path


@pytest.fixture
def proposal(tmp_path: Path) -> Path:
    files: dict[str, str | bytes | None] = {
        f"{JOB}/config.yaml": CONFIG,
        f"{JOB}/run.sh": "#!/bin/bash\n",
        f"{JOB}/code/data.bin": b"\x00\xff",
        f"{JOB}/code/old.py": None,
    }
    return write(tmp_path, new_proposed_changes(DS, DO, files, timestamp=1715690000.5))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_proposal_json(proposal: Path) -> None:
    code, out, _ = invoke("inspect", "message", str(proposal), "--json")
    assert code == 0
    assert json.loads(out) == {
        "file": proposal.name,
        "kind": "proposed_changes",
        "sender": DS,
        "datasite": DO,
        "layout": "current",
        "changes": [
            {
                "path": f"{JOB}/config.yaml",
                "deleted": False,
                "binary": False,
                "sha256": sha(CONFIG),
            },
            {
                "path": f"{JOB}/run.sh",
                "deleted": False,
                "binary": False,
                "sha256": sha("#!/bin/bash\n"),
            },
            {
                "path": f"{JOB}/code/data.bin",
                "deleted": False,
                "binary": True,
                "sha256": sha(b"\x00\xff"),
            },
            {"path": f"{JOB}/code/old.py", "deleted": True, "binary": False, "sha256": None},
        ],
        "jobs": [
            {
                "name": "Job - 1a2b",
                "submitter": DS,
                "files": {
                    "config.yaml": sha(CONFIG),
                    "run.sh": sha("#!/bin/bash\n"),
                    "code/data.bin": sha(b"\x00\xff"),
                },
                "status": None,
            }
        ],
    }


def test_events_json_carries_status(tmp_path: Path) -> None:
    state = "status: done\nreturn_code: 0\n"
    message = new_events_message(
        DO, {f"app_data/job/review/{DS}/Job - 1a2b/state.yaml": state}, timestamp=5.0
    )
    code, out, _ = invoke("inspect", "message", "--json", str(write(tmp_path, message)))
    assert code == 0
    document = json.loads(out)
    assert document["kind"] == "events"
    assert document["sender"] is None
    assert document["datasite"] == DO
    assert document["jobs"] == [
        {"name": "Job - 1a2b", "submitter": DS, "files": {}, "status": "done"}
    ]


def test_message_without_jobs(tmp_path: Path) -> None:
    message = new_proposed_changes(DS, DO, {"public/readme.md": "hi"}, timestamp=5.0)
    code, out, _ = invoke("inspect", "message", "--json", str(write(tmp_path, message)))
    assert code == 0
    document = json.loads(out)
    assert document["layout"] is None
    assert document["jobs"] == []


def test_renamed_file_is_still_decoded(proposal: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "download.bin"
    renamed.write_bytes(proposal.read_bytes())
    code, out, _ = invoke("inspect", "message", "--json", str(renamed))
    assert code == 0
    assert json.loads(out)["file"] == "download.bin"


def test_readable_summary(proposal: Path) -> None:
    code, out, _ = invoke("inspect", "message", str(proposal))
    assert code == 0
    assert "kind:     proposed_changes" in out
    assert f"sender:   {DS}" in out
    assert f"{JOB}/code/old.py  (deleted)" in out
    binary_sha = sha(b"\x00\xff")[:12]
    assert f"{JOB}/code/data.bin  (binary, sha256 {binary_sha})" in out
    assert f"Job - 1a2b  (by {DS})" in out


def test_rejected_jobs_are_warned_about_on_stderr(tmp_path: Path) -> None:
    spoofed = "app_data/job/inbox/other@x.org/spoof/config.yaml"
    message = new_proposed_changes(DS, DO, {spoofed: "name: spoof\n"}, timestamp=5.0)
    code, out, err = invoke("inspect", "message", "--json", str(write(tmp_path, message)))
    assert code == 0
    assert json.loads(out)["jobs"] == []
    assert "warning: job folder" in err
    assert "spoof" in err


def test_mixed_datasites_are_an_error(tmp_path: Path) -> None:
    first = new_proposed_changes(DS, DO, {"a.txt": "a"}, timestamp=5.0)
    other = new_proposed_changes(DS, "other@owner.org", {"b.txt": "b"}, timestamp=5.0)
    mixed = type(first)(
        id=first.id,
        sender_email=DS,
        filename=first.filename,
        changes=first.changes + other.changes,
    )
    result = CliRunner().invoke(cli, ["inspect", "message", str(write(tmp_path, mixed))])
    assert isinstance(result.exception, CorruptMessageError)


def test_hostile_input_maps_to_exit_2_and_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "msgv2_1.0_3f2c8a4e-1b7d-4c55-9a0e-2d6b8f1c7e90.tar.gz"
    bogus.write_bytes(os.urandom(64).replace(b"\x1f", b"\x00"))
    result = CliRunner().invoke(cli, ["inspect", "message", str(bogus)])
    assert isinstance(result.exception, EncryptedMessageError)
    monkeypatch.setattr(sys, "argv", ["syft-bg", "inspect", "message", str(bogus)])
    assert run_cli(cli) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "encrypted message, cannot be read" in err


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, _ = invoke("inspect", "message", str(tmp_path / "nope.tar.gz"))
    assert code == 2


def syft_bg_command() -> list[str]:
    script = Path(sys.executable).with_name("syft-bg")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from syft_monitors.cli.main import main; main()"]


def test_real_process_exits_2_on_a_corrupt_message(tmp_path: Path) -> None:
    corrupt = tmp_path / "msgv2_1.0_3f2c8a4e-1b7d-4c55-9a0e-2d6b8f1c7e90.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 50)
    done = subprocess.run(
        [*syft_bg_command(), "inspect", "message", str(corrupt)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
