"""We write, upstream reads: messages built with our codec load with syft-client 0.1.117.

The messages are built with `syft_monitors.protocol.messages`, written under the Drive file name
we give them, and handed to `upstream_reader.py`, which runs in `.venv-interop`: it parses each
file name and content with upstream's classes, then pushes the unchanged bytes through upstream's
real sync (a proposal into the data owner's inbox, an events message into a peer's outbox) and
reports which files upstream wrote to disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from interop_support import run_upstream_script

from syft_monitors.protocol.messages import EventsMessage, ProposedChangesMessage
from syft_sandbox.messages import encode_message, new_events_message, new_proposed_changes

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"
JOB = "our job ✓ 東京"
INBOX = f"app_data/job/inbox/{DS}/{JOB}"
REVIEW = f"app_data/job/review/{DS}/{JOB}"
BINARY = bytes(range(256)) + b"\x89PNG\r\n\x1a\n\xff\xfe\x00"
CONFIG_YAML = f"""code_path: /home/ds/our_job
dependencies:
- syft-client==0.1.117
entrypoint: main.py
files:
- main.py
- params.json
- data/blob.bin
headers: {{}}
is_folder_submission: true
job_type: local
name: {JOB}
submitted_at: '2026-01-02T03:04:05.678901+00:00'
type: python
"""
STATE_YAML = """approval_method: manual
approved_at: '2026-01-02T04:00:00+00:00'
approved_by: data.owner@hospital.example.org
completed_at: null
received_at: '2026-01-02T03:05:00+00:00'
rejected_at: null
rejected_by: null
return_code: null
review_reason: looks fine
status: approved
"""

JOB_FILES: dict[str, bytes | str | None] = {
    f"{INBOX}/config.yaml": CONFIG_YAML,
    f"{INBOX}/run.sh": "#!/bin/bash\nset -euo pipefail\ncd code\npython main.py\n",
    f"{INBOX}/code/main.py": "import json\nprint(json.load(open('params.json')))\n",
    f"{INBOX}/code/params.json": json.dumps({"alpha": 0.5, "label": "naïve ✓"}) + "\n",
    f"{INBOX}/code/data/blob.bin": BINARY,
}
DELETION_FILES: dict[str, bytes | str | None] = {
    f"shared/{DS}/notes.md": None,
    f"shared/{DS}/summary.txt": "kept, with ünïcode\n",
}
EVENT_FILES: dict[str, bytes | str | None] = {
    f"{REVIEW}/state.yaml": STATE_YAML,
    f"{REVIEW}/outputs/plot.png": BINARY,
    f"{REVIEW}/stdout.txt": "",
    f"shared/{DS}/old.txt": None,
}
OLD_HASH = "5" * 64


def sha(value: bytes | str) -> str:
    return hashlib.sha256(value.encode("utf-8") if isinstance(value, str) else value).hexdigest()


def build_messages() -> dict[str, ProposedChangesMessage | EventsMessage]:
    messages: list[ProposedChangesMessage | EventsMessage] = [
        new_proposed_changes(DS, DO, JOB_FILES, timestamp=1767225600.123456),
        new_proposed_changes(
            DS,
            DO,
            DELETION_FILES,
            timestamp=1767225601.5,
            old_hashes={f"shared/{DS}/notes.md": OLD_HASH},
        ),
        new_events_message(DO, EVENT_FILES, timestamp=1767225700.25),
    ]
    return {message.filename.name: message for message in messages}


@pytest.fixture(scope="module")
def upstream_view(
    interop_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, ProposedChangesMessage | EventsMessage], dict[str, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("upstream-reader")
    folder = base / "ours"
    folder.mkdir()
    ours = build_messages()
    for name, message in ours.items():
        (folder / name).write_bytes(encode_message(message))
    result = run_upstream_script(interop_python, "upstream_reader.py", folder, workdir=base)
    document = json.loads(result.stdout)
    assert document["upstream"] == {"syft-client": "0.1.117", "syft-job": "0.1.39"}
    seen = {report["file"]: report for report in document["messages"]}
    assert sorted(seen) == sorted(ours)
    return ours, seen


def expected_changes(
    message: ProposedChangesMessage | EventsMessage, files: Mapping[str, bytes | str | None]
) -> list[dict[str, Any]]:
    assert [change.path for change in message.changes] == list(files)
    rows = []
    for change in message.changes:
        content = files[change.path]
        digest = None if content is None else sha(content)
        rows.append(
            {
                "id": str(change.id),
                "path": change.path,
                "datasite": DO,
                "deleted": content is None,
                "binary": isinstance(content, bytes),
                "content_sha256": digest,
                "new_hash": digest,
                "old_hash": change.old_hash,
                "submitted_timestamp": change.submitted_timestamp,
                "timestamp": change.timestamp,
            }
        )
    return rows


def check_loaded(
    message: ProposedChangesMessage | EventsMessage,
    report: dict[str, Any],
    files: Mapping[str, bytes | str | None],
) -> None:
    assert report["error"] is None, report["error"]
    name = message.filename
    assert report["name_fields"] == {"timestamp": name.timestamp, "uid": str(name.uid)}
    # Upstream sorts and archives by the name; the JSON copy of it must agree.
    assert report["json_name"] == name.name
    assert report["id"] == str(message.id)
    assert report["changes"] == expected_changes(message, files)


def test_upstream_loads_our_job_proposal(upstream_view: Any) -> None:
    ours, seen = upstream_view
    message = next(m for m in ours.values() if m.changes[0].path.startswith(INBOX))
    report = seen[message.filename.name]
    assert report["kind"] == "proposed_changes"
    assert report["sender"] == DS
    check_loaded(message, report, JOB_FILES)
    assert report["changes"][0]["old_hash"] is None


def test_upstream_data_owner_accepts_our_job(upstream_view: Any) -> None:
    """Through upstream's sync: files land byte-exact and syft-job lists a valid pending job."""
    ours, seen = upstream_view
    message = next(m for m in ours.values() if m.changes[0].path.startswith(INBOX))
    applied = seen[message.filename.name]["applied"]
    assert "error" not in applied, applied
    assert applied["written"] == {
        path: sha(content) for path, content in JOB_FILES.items() if content is not None
    }
    assert applied["jobs"] == [{"name": JOB, "submitter": DS, "status": "pending"}]
    assert applied["drive_copies"] == 1


def test_upstream_loads_our_deletion(upstream_view: Any) -> None:
    ours, seen = upstream_view
    message = next(m for m in ours.values() if m.changes[0].path == f"shared/{DS}/notes.md")
    report = seen[message.filename.name]
    assert report["kind"] == "proposed_changes"
    check_loaded(message, report, DELETION_FILES)
    deleted = report["changes"][0]
    assert deleted["deleted"] is True
    assert deleted["old_hash"] == OLD_HASH
    # Upstream 0.1.117's data owner cannot apply any proposed deletion (see upstream_reader.py).
    assert report["applied"] == {"skipped": "upstream's data owner cannot apply proposed deletions"}


def test_upstream_loads_and_applies_our_events(upstream_view: Any) -> None:
    ours, seen = upstream_view
    message = next(m for m in ours.values() if isinstance(m, EventsMessage))
    report = seen[message.filename.name]
    assert report["kind"] == "events"
    assert report["sender"] is None
    check_loaded(message, report, EVENT_FILES)
    applied = report["applied"]
    assert "error" not in applied, applied
    assert applied["written"] == {
        path: None if content is None else sha(content) for path, content in EVENT_FILES.items()
    }
