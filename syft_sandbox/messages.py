"""Writing SyftBox messages the way upstream's client does: what the simulated peers upload.

`encode_message` writes the JSON the way upstream's pydantic models serialise it (same field
order, 2-space indent for proposals, compact events); `new_proposed_changes` and
`new_events_message` build a message from file contents, stamped with the current time unless told
otherwise. The product only decodes messages (`syft_monitors.protocol.messages`), so these live
with the test double and the benchmarks that need them.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from syft_monitors.protocol.archive import write_member
from syft_monitors.protocol.emails import validate_email
from syft_monitors.protocol.messages import (
    EXTENSION,
    EventsMessage,
    FileChange,
    MessageFileName,
    MessageKind,
    ProposedChangesMessage,
    sha256_hex,
)
from syft_monitors.protocol.paths import safe_relative_path

__all__ = ["encode_message", "new_events_message", "new_proposed_changes"]


# --- encoding ---------------------------------------------------------------------------------


def _content_json(change: FileChange) -> tuple[str | None, str | None]:
    """(content, content_type) as upstream serialises them."""
    if change.is_deleted or change.content is None:
        return None, None
    if change.is_binary:
        return base64.b64encode(change.content).decode("ascii"), "binary"
    return change.content.decode("utf-8"), "text"


def _proposal_json(message: ProposedChangesMessage) -> dict[str, Any]:
    changes = []
    for change in message.changes:
        content, content_type = _content_json(change)
        changes.append(
            {
                "id": str(change.id),
                "old_hash": change.old_hash,
                "new_hash": change.new_hash,
                "submitted_timestamp": change.submitted_timestamp,
                "path_in_datasite": change.path,
                "content": content,
                "datasite_email": change.datasite_email,
                "is_deleted": change.is_deleted,
                "content_type": content_type,
            }
        )
    return {
        "id": str(message.id),
        "sender_email": message.sender_email,
        "message_filename": {
            "submitted_timestamp": message.filename.timestamp,
            "uid": str(message.filename.uid),
        },
        "proposed_file_changes": changes,
    }


def _events_json(message: EventsMessage) -> dict[str, Any]:
    events = []
    for event in message.events:
        content, content_type = _content_json(event)
        events.append(
            {
                "id": str(event.id),
                "path_in_datasite": event.path,
                "datasite_email": event.datasite_email,
                "content": content,
                "old_hash": event.old_hash,
                "new_hash": event.new_hash,
                "is_deleted": event.is_deleted,
                "submitted_timestamp": event.submitted_timestamp,
                "timestamp": (
                    event.timestamp if event.timestamp is not None else message.filename.timestamp
                ),
                "content_type": content_type,
            }
        )
    return {
        "events": events,
        "message_filepath": {
            "id": str(message.id),
            "timestamp": message.filename.timestamp,
            "extension": EXTENSION,
        },
    }


def encode_message(message: ProposedChangesMessage | EventsMessage) -> bytes:
    """Serialise a message to the gzip tar bytes upstream reads (reproducible output)."""
    if isinstance(message, ProposedChangesMessage):
        text = json.dumps(_proposal_json(message), indent=2, ensure_ascii=False)
    else:
        text = json.dumps(_events_json(message), separators=(",", ":"), ensure_ascii=False)
    return write_member(text.encode("utf-8"))


# --- builders ---------------------------------------------------------------------------------


def _content_of(value: bytes | str | None, *, force_binary: bool) -> tuple[bytes | None, bool]:
    if value is None:
        return None, False
    if isinstance(value, str):
        return value.encode("utf-8"), force_binary
    if force_binary:
        return bytes(value), True
    try:
        bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return bytes(value), True
    return bytes(value), False


def _build_changes(
    datasite_email: str,
    files: Mapping[str, bytes | str | None],
    *,
    timestamp: float,
    accepted: float | None,
    old_hashes: Mapping[str, str] | None,
    binary: Collection[str],
) -> tuple[FileChange, ...]:
    changes = []
    for path, value in files.items():
        safe_relative_path(path, what="path_in_datasite")
        content, is_binary = _content_of(value, force_binary=path in binary)
        changes.append(
            FileChange(
                path=path,
                content=content,
                is_binary=is_binary,
                is_deleted=content is None,
                new_hash=None if content is None else sha256_hex(content),
                old_hash=(old_hashes or {}).get(path),
                id=uuid.uuid4(),
                submitted_timestamp=timestamp,
                datasite_email=datasite_email,
                timestamp=accepted,
            )
        )
    return tuple(changes)


def new_proposed_changes(
    sender_email: str,
    datasite_email: str,
    files: Mapping[str, bytes | str | None],
    *,
    timestamp: float | None = None,
    old_hashes: Mapping[str, str] | None = None,
    binary: Collection[str] = (),
) -> ProposedChangesMessage:
    """A proposal of `files` (path -> content, None = delete) for `datasite_email`'s datasite.

    Text vs binary: `str` values and UTF-8-decodable bytes travel as text, other bytes as base64;
    paths listed in `binary` always travel as base64.
    """
    when = time.time() if timestamp is None else timestamp
    validate_email(datasite_email, what="datasite_email")
    changes = _build_changes(
        datasite_email, files, timestamp=when, accepted=None, old_hashes=old_hashes, binary=binary
    )
    filename = MessageFileName(MessageKind.PROPOSED_CHANGES, when, uuid.uuid4())
    return ProposedChangesMessage(
        id=uuid.uuid4(), sender_email=sender_email, filename=filename, changes=changes
    )


def new_events_message(
    datasite_email: str,
    files: Mapping[str, bytes | str | None],
    *,
    timestamp: float | None = None,
    binary: Collection[str] = (),
) -> EventsMessage:
    """Events accepting `files` (path -> content, None = delete) in `datasite_email`'s datasite."""
    when = time.time() if timestamp is None else timestamp
    validate_email(datasite_email, what="datasite_email")
    events = _build_changes(
        datasite_email, files, timestamp=when, accepted=when, old_hashes=None, binary=binary
    )
    uid = uuid.uuid4()
    filename = MessageFileName(MessageKind.EVENTS, when, uid)
    return EventsMessage(id=uid, filename=filename, events=events)
