"""Load message files with the real upstream classes and print what upstream sees, as JSON.

Runs INSIDE the interop virtualenv (`.venv-interop`), never in ours:

    .venv-interop/bin/python tests/interop/upstream_reader.py DIR

For every `msgv2_*` / `syfteventsmessagev3_*` file in DIR (other names are loaded by JSON
shape), it reports how upstream parses the file name and the content (`ProposedFileChangesMessage`
/ `FileChangeEventsMessage.from_compressed_data`, i.e. upstream's own decompression), then feeds
the bytes through upstream's real sync over its in-process Drive double:

- a proposal is uploaded unchanged by the sender into the data owner's inbox with upstream's
  `watcher_send_raw_bytes_to_inbox`; the data owner runs `sync()` and lists its jobs;
- an events message is written unchanged into a peer's outbox with upstream's
  `owner_write_raw_bytes_to_outbox`; the peer runs `sync()`.

Each report then lists the SHA-256 of every file upstream wrote to disk (None when absent).
Failures are reported per file as `"error": "Type: message"`, never as a crash, so the caller
sees every file's fate.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import traceback
from importlib.metadata import version
from pathlib import Path
from typing import Any

from syft_client.sync.connections.drive.mock_drive_service import MockDriveBackingStore
from syft_client.sync.events.file_change_event import (
    FileChangeEventsMessage,
    FileChangeEventsMessageFileName,
)
from syft_client.sync.messages.proposed_filechange import (
    MessageFileName,
    ProposedFileChangesMessage,
)
from syft_client.sync.syftbox_manager import SyftboxManager
from syft_client.sync.utils.syftbox_utils import uncompress_data
from upstream_writer import change_bytes, make_manager, quiet, sha256_hex

# Receives events messages in the "apply" step; any peer the data owner approved would do.
EVENTS_PEER = "events.peer@example.net"


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:500]


def load(path: Path) -> ProposedFileChangesMessage | FileChangeEventsMessage:
    data = path.read_bytes()
    if path.name.startswith("msgv2_"):
        return ProposedFileChangesMessage.from_compressed_data(data)
    if path.name.startswith("syfteventsmessagev3_"):
        return FileChangeEventsMessage.from_compressed_data(data)
    if "proposed_file_changes" in json.loads(uncompress_data(data)):
        return ProposedFileChangesMessage.from_compressed_data(data)
    return FileChangeEventsMessage.from_compressed_data(data)


def describe(
    path: Path, message: ProposedFileChangesMessage | FileChangeEventsMessage
) -> dict[str, Any]:
    if isinstance(message, ProposedFileChangesMessage):
        name = MessageFileName.from_string(path.name)
        report: dict[str, Any] = {
            "kind": "proposed_changes",
            "id": str(message.id),
            "sender": message.sender_email,
            "name_fields": {"timestamp": name.submitted_timestamp, "uid": name.uid},
            "json_name": message.message_filename.as_string(),
        }
        items: list[Any] = list(message.proposed_file_changes)
    else:
        events_name = FileChangeEventsMessageFileName.from_string(path.name)
        report = {
            "kind": "events",
            "id": str(message.message_filepath.id),
            "sender": None,
            "name_fields": {"timestamp": events_name.timestamp, "uid": str(events_name.id)},
            "json_name": message.message_filepath.as_string(),
        }
        items = list(message.events)
    changes = []
    for item in items:
        raw = change_bytes(item.content)
        changes.append(
            {
                "id": str(item.id),
                "path": Path(item.path_in_datasite).as_posix(),
                "datasite": item.datasite_email,
                "deleted": item.is_deleted,
                "binary": item.content_type == "binary",
                "content_sha256": None if raw is None else sha256_hex(raw),
                "new_hash": item.new_hash,
                "old_hash": item.old_hash,
                "submitted_timestamp": item.submitted_timestamp,
                "timestamp": getattr(item, "timestamp", None),
            }
        )
    report["changes"] = changes
    return report


def disk_hashes(root: Path, paths: list[str]) -> dict[str, str | None]:
    return {
        path: sha256_hex((root / path).read_bytes()) if (root / path).is_file() else None
        for path in paths
    }


def connected(work: Path, owner: str, peer: str) -> tuple[SyftboxManager, SyftboxManager]:
    store = MockDriveBackingStore()
    do = make_manager(owner, work / "do", store, do_role=True)
    ds = make_manager(peer, work / "ds", store, do_role=False)
    do.peer_manager.write_own_version()
    ds.peer_manager.write_own_version()
    ds.add_peer(owner, sync=False)
    do.load_peers()
    do.approve_peer_request(peer)
    ds.load_peers()
    return do, ds


def apply_proposal(path: Path, message: ProposedFileChangesMessage) -> dict[str, Any]:
    if any(change.is_deleted for change in message.proposed_file_changes):
        # Upstream 0.1.117's data owner turns a proposed deletion into a content-less write and
        # raises; that is upstream's limitation, not something a message can fix.
        return {"skipped": "upstream's data owner cannot apply proposed deletions"}
    owner = message.proposed_file_changes[0].datasite_email
    with tempfile.TemporaryDirectory() as scratch, quiet():
        do, ds = connected(Path(scratch), owner, message.sender_email)
        connection = ds.datasite_watcher_syncer.connection_router.connection_for_send_message()
        connection.watcher_send_raw_bytes_to_inbox(owner, path.name, path.read_bytes())
        do.sync()
        written = disk_hashes(
            do.syftbox_folder / owner,
            [Path(c.path_in_datasite).as_posix() for c in message.proposed_file_changes],
        )
        archived = [
            f.name
            for f in do.datasite_owner_syncer.connection_router.connections[
                0
            ].drive_service._backing_store.files.values()
            if f.name == path.name
        ]
        jobs = [
            {"name": job.name, "submitter": job.submitted_by, "status": job.status}
            for job in do.job_client.jobs
        ]
    return {"written": written, "jobs": jobs, "drive_copies": len(archived)}


def apply_events(path: Path, message: FileChangeEventsMessage) -> dict[str, Any]:
    if not message.events:
        return {"skipped": "no events"}
    owner = message.events[0].datasite_email
    with tempfile.TemporaryDirectory() as scratch, quiet():
        do, ds = connected(Path(scratch), owner, EVENTS_PEER)
        # Files the events delete must exist first, or the deletion proves nothing.
        for event in message.events:
            if event.is_deleted:
                target = ds.syftbox_folder / owner / Path(event.path_in_datasite)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("present before the deletion event\n")
        connection = do.datasite_owner_syncer.connection_router.connection_for_outbox()
        connection.owner_write_raw_bytes_to_outbox(EVENTS_PEER, path.name, path.read_bytes())
        ds.sync()
        written = disk_hashes(
            ds.syftbox_folder / owner,
            [Path(e.path_in_datasite).as_posix() for e in message.events],
        )
    return {"written": written}


def read_one(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"file": path.name, "error": None}
    try:
        message = load(path)
        report.update(describe(path, message))
    except Exception as error:  # every failure is data for the caller
        report["error"] = error_text(error)
        return report
    try:
        if isinstance(message, ProposedFileChangesMessage):
            report["applied"] = apply_proposal(path, message)
        else:
            report["applied"] = apply_events(path, message)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        report["applied"] = {"error": error_text(error)}
    return report


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: upstream_reader.py DIR", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    reports = [read_one(path) for path in sorted(folder.iterdir()) if path.is_file()]
    document = {
        "upstream": {"syft-client": version("syft-client"), "syft-job": version("syft-job")},
        "messages": reports,
    }
    with contextlib.redirect_stdout(sys.__stdout__):
        print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
