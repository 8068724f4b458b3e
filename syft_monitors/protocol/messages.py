"""The SyftBox message wire format: `msgv2_*` proposals and `syfteventsmessagev3_*` events.

Both are a gzip tar with one member, `proposed_file_changes.json` (see `archive`). A proposal is
what a data scientist sends to a data owner: file changes under the owner's datasite, e.g. a job
folder. An events message is what the owner publishes after accepting changes, in its own event
log and in each peer's outbox; job status changes (`state.yaml`) travel this way.

`decode_message` is strict in one direction only: it rejects anything unsafe or inconsistent
(paths, emails, hashes, shapes) with a precise `ProtocolError`, and ignores unknown JSON fields so
newer upstream versions stay readable. The product only reads messages; writing them (what the
simulated peers and the benchmarks upload) lives in `syft_sandbox.messages`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from syft_monitors.errors import (
    CorruptMessageError,
    HashMismatchError,
    InvalidNameError,
    MessageTooLargeError,
)
from syft_monitors.protocol.archive import read_member
from syft_monitors.protocol.emails import safe_repr, validate_email
from syft_monitors.protocol.jsonfile import json_depth_exceeds
from syft_monitors.protocol.limits import DEFAULT_LIMITS, Limits
from syft_monitors.protocol.paths import safe_relative_path

__all__ = [
    "EventsMessage",
    "FileChange",
    "Message",
    "MessageFileName",
    "MessageKind",
    "ProposedChangesMessage",
    "decode_message",
    "is_message_filename",
    "parse_message_filename",
    "sha256_hex",
]

EXTENSION = ".tar.gz"
_MAX_NAME_LENGTH = 200


class MessageKind(StrEnum):
    PROPOSED_CHANGES = "proposed_changes"
    EVENTS = "events"


_PREFIXES = {MessageKind.PROPOSED_CHANGES: "msgv2_", MessageKind.EVENTS: "syfteventsmessagev3_"}
# The timestamp is whatever Python's `str(float)` printed ("1715690000.123456", "1e+16"); a plain
# integer is accepted too. Signs, spaces, underscores, "nan" and "inf" (which `float()` would take)
# are not.
_NAME_RE = re.compile(
    r"(?P<prefix>msgv2_|syfteventsmessagev3_)"
    r"(?P<ts>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)_"
    r"(?P<uid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"\.tar\.gz"
)
_HASH_RE = re.compile(r"[0-9a-f]{64}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_timestamp(value: float) -> bool:
    return math.isfinite(value) and value >= 0


@dataclass(frozen=True)
class MessageFileName:
    """The Drive file name of a message: `{prefix}{timestamp}_{uuid}.tar.gz`."""

    kind: MessageKind
    timestamp: float
    uid: UUID

    def __post_init__(self) -> None:
        if not _is_timestamp(self.timestamp):
            raise InvalidNameError(f"message timestamp must be finite and >= 0: {self.timestamp}")

    @property
    def name(self) -> str:
        """The canonical name (`str(float)` timestamp, lowercase hyphenated uuid)."""
        return f"{_PREFIXES[self.kind]}{self.timestamp}_{self.uid}{EXTENSION}"


def parse_message_filename(name: str) -> MessageFileName:
    """Parse a message file name; raise `InvalidNameError` when it is not one."""
    if not isinstance(name, str) or len(name) > _MAX_NAME_LENGTH:
        raise InvalidNameError(f"not a message file name: {safe_repr(name)}")
    match = _NAME_RE.fullmatch(name)
    if match is None:
        raise InvalidNameError(f"not a message file name: {safe_repr(name)}")
    kind = MessageKind.PROPOSED_CHANGES if match["prefix"] == "msgv2_" else MessageKind.EVENTS
    timestamp = float(match["ts"])
    if not _is_timestamp(timestamp):
        raise InvalidNameError(f"message file name has an out-of-range timestamp: {name!r}")
    return MessageFileName(kind=kind, timestamp=timestamp, uid=UUID(match["uid"]))


def is_message_filename(name: str) -> bool:
    try:
        parse_message_filename(name)
    except InvalidNameError:
        return False
    return True


@dataclass(frozen=True)
class FileChange:
    """One proposed file change, or one accepted event (then `timestamp` is the acceptance time).

    Invariants (checked on construction): `path` is a canonical relative path; a deletion has no
    content, no `new_hash` and is not binary; otherwise `new_hash` is the SHA-256 of `content`
    and text content is valid UTF-8.
    """

    path: str
    content: bytes | None
    is_binary: bool
    is_deleted: bool
    new_hash: str | None
    old_hash: str | None
    id: UUID
    submitted_timestamp: float
    datasite_email: str
    timestamp: float | None = None

    def __post_init__(self) -> None:
        # Length limits are applied by the decoder and builders; here only the shape is checked.
        safe_relative_path(self.path, what="path_in_datasite", max_length=sys.maxsize)
        validate_email(self.datasite_email, what="datasite_email")
        if self.old_hash is not None and not _HASH_RE.fullmatch(self.old_hash):
            raise CorruptMessageError(f"old_hash of {safe_repr(self.path)} is not a SHA-256 hex")
        for label, value in (
            ("submitted_timestamp", self.submitted_timestamp),
            ("timestamp", self.timestamp),
        ):
            if value is not None and not _is_timestamp(value):
                raise CorruptMessageError(f"{label} of {safe_repr(self.path)} is out of range")
        if self.is_deleted:
            if self.content is not None or self.new_hash is not None or self.is_binary:
                raise CorruptMessageError(
                    f"deletion of {safe_repr(self.path)} carries content or a new hash"
                )
            return
        if self.content is None:
            raise CorruptMessageError(f"change of {safe_repr(self.path)} has no content")
        if self.new_hash is None or sha256_hex(self.content) != self.new_hash:
            raise HashMismatchError(
                f"content of {safe_repr(self.path)} does not match its declared new_hash"
            )
        if not self.is_binary:
            try:
                self.content.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CorruptMessageError(
                    f"text content of {safe_repr(self.path)} is not UTF-8"
                ) from error

    @property
    def text(self) -> str | None:
        """The content as text, or None for deletions and binary content."""
        if self.content is None or self.is_binary:
            return None
        return self.content.decode("utf-8")


@dataclass(frozen=True)
class ProposedChangesMessage:
    """A `msgv2_*` message: changes a sender proposes for one or more datasites."""

    id: UUID
    sender_email: str
    filename: MessageFileName
    changes: tuple[FileChange, ...]

    def __post_init__(self) -> None:
        validate_email(self.sender_email, what="sender_email")
        if self.filename.kind is not MessageKind.PROPOSED_CHANGES:
            raise ValueError("a ProposedChangesMessage needs a msgv2 file name")

    @property
    def kind(self) -> MessageKind:
        return MessageKind.PROPOSED_CHANGES


@dataclass(frozen=True)
class EventsMessage:
    """A `syfteventsmessagev3_*` message: changes a datasite owner accepted.

    Upstream stores a single id (`message_filepath.id`), which is also the uuid in the file name,
    so `id == filename.uid` always.
    """

    id: UUID
    filename: MessageFileName
    events: tuple[FileChange, ...]

    def __post_init__(self) -> None:
        if self.filename.kind is not MessageKind.EVENTS:
            raise ValueError("an EventsMessage needs a syfteventsmessagev3 file name")
        if self.id != self.filename.uid:
            raise ValueError("an EventsMessage id must equal its file name uid")

    @property
    def kind(self) -> MessageKind:
        return MessageKind.EVENTS

    @property
    def changes(self) -> tuple[FileChange, ...]:
        """The events, under the name both message kinds share."""
        return self.events


Message = ProposedChangesMessage | EventsMessage


# --- decoding ---------------------------------------------------------------------------------


def decode_message(
    data: bytes, *, kind: MessageKind | None = None, limits: Limits = DEFAULT_LIMITS
) -> ProposedChangesMessage | EventsMessage:
    """Decode archive bytes into a message; `kind=None` guesses it from the JSON shape.

    Raises (all `MessageError`/`ProtocolError` subclasses): `EncryptedMessageError`,
    `MessageTooLargeError`, `CorruptMessageError`, `UnsafeArchiveError`, `HashMismatchError`,
    `InvalidEmailError`, `UnsafePathError`.
    """
    raw = read_member(bytes(data), limits=limits)
    document = _parse_json(raw, limits=limits)
    if not isinstance(document, dict):
        raise CorruptMessageError("message JSON is not an object")
    if kind is None:
        has_changes = "proposed_file_changes" in document
        has_events = "events" in document
        if has_changes == has_events:
            raise CorruptMessageError("message JSON is neither a proposal nor an events message")
        kind = MessageKind.PROPOSED_CHANGES if has_changes else MessageKind.EVENTS
    if kind is MessageKind.PROPOSED_CHANGES:
        return _proposal_from_json(document, limits=limits)
    return _events_from_json(document, limits=limits)


def _reject_constant(name: str) -> Any:
    raise CorruptMessageError(f"message JSON contains the non-standard constant {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two readers could pick different values for the same key: refuse to guess.
            raise CorruptMessageError(f"message JSON repeats the key {safe_repr(key)}")
        result[key] = value
    return result


def _parse_json(raw: bytes, *, limits: Limits) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptMessageError("message JSON is not valid UTF-8") from error
    if json_depth_exceeds(text, limits.max_json_depth):
        raise MessageTooLargeError(f"message JSON nests deeper than {limits.max_json_depth} levels")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except ValueError as error:  # JSONDecodeError, and int digit limits
        raise CorruptMessageError(f"message JSON is invalid: {_short(error)}") from error
    except RecursionError as error:  # pragma: no cover - prevented by the depth check
        raise MessageTooLargeError("message JSON nests too deeply") from error


def _short(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return type(error).__name__


def _get(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise CorruptMessageError(f"{where} has no {key!r} field")
    return obj[key]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CorruptMessageError(f"{where} is not a JSON object")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise CorruptMessageError(f"{where} is not a string")
    return value


def _optional_string(value: Any, where: str) -> str | None:
    return None if value is None else _string(value, where)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CorruptMessageError(f"{where} is not a number")
    result = float(value)
    if not _is_timestamp(result):
        raise CorruptMessageError(f"{where} is not a finite, non-negative number")
    return result


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise CorruptMessageError(f"{where} is not a boolean")
    return value


def _uuid(value: Any, where: str) -> UUID:
    text = _string(value, where)
    if len(text) > 64:
        raise CorruptMessageError(f"{where} is not a UUID")
    try:
        return UUID(text)
    except ValueError as error:
        raise CorruptMessageError(f"{where} is not a UUID") from error


def _list(value: Any, where: str, *, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise CorruptMessageError(f"{where} is not a JSON array")
    if len(value) > limit:
        raise MessageTooLargeError(f"{where} has {len(value)} entries, more than {limit}")
    return value


def _change_from_json(raw: Any, where: str, *, event: bool, limits: Limits) -> FileChange:
    obj = _object(raw, where)
    path = _string(_get(obj, "path_in_datasite", where), f"{where}.path_in_datasite")
    safe_relative_path(path, what=f"{where}.path_in_datasite", max_length=limits.max_path_length)
    datasite = validate_email(
        _string(_get(obj, "datasite_email", where), f"{where}.datasite_email"),
        what=f"{where}.datasite_email",
    )
    change_id = _uuid(_get(obj, "id", where), f"{where}.id")
    submitted = _number(_get(obj, "submitted_timestamp", where), f"{where}.submitted_timestamp")
    accepted: float | None = None
    if event:
        value = _get(obj, "timestamp", where)
        accepted = None if value is None else _number(value, f"{where}.timestamp")
    is_deleted = _boolean(obj.get("is_deleted", False), f"{where}.is_deleted")
    # old_hash is informational (the sender's last known version); an empty one means "none".
    old_hash = _optional_string(obj.get("old_hash"), f"{where}.old_hash") or None
    if old_hash is not None:
        old_hash = old_hash.lower()
    new_hash = _optional_string(obj.get("new_hash"), f"{where}.new_hash")
    content_type = _optional_string(obj.get("content_type"), f"{where}.content_type")
    raw_content = _optional_string(_get(obj, "content", where), f"{where}.content")

    content: bytes | None = None
    is_binary = False
    if is_deleted:
        if raw_content is not None or new_hash is not None:
            raise CorruptMessageError(f"{where} is a deletion but carries content or new_hash")
    else:
        if raw_content is None:
            raise CorruptMessageError(f"{where} has null content but is not a deletion")
        if content_type == "binary":
            is_binary = True
            try:
                content = base64.b64decode(raw_content, validate=True)
            except (binascii.Error, ValueError) as error:
                raise CorruptMessageError(f"{where}.content is not valid base64") from error
        elif content_type in (None, "text"):
            try:
                content = raw_content.encode("utf-8")
            except UnicodeEncodeError as error:
                raise CorruptMessageError(f"{where}.content is not valid Unicode") from error
        else:
            raise CorruptMessageError(f"{where}.content_type is not 'text' or 'binary'")
        # Upstream computes a missing hash on load; an explicit one must match the content.
        new_hash = sha256_hex(content) if new_hash is None else new_hash.lower()
    return FileChange(
        path=path,
        content=content,
        is_binary=is_binary,
        is_deleted=is_deleted,
        new_hash=new_hash,
        old_hash=old_hash,
        id=change_id,
        submitted_timestamp=submitted,
        datasite_email=datasite,
        timestamp=accepted,
    )


def _proposal_from_json(doc: dict[str, Any], *, limits: Limits) -> ProposedChangesMessage:
    where = "message"
    message_id = _uuid(_get(doc, "id", where), "message.id")
    sender = validate_email(
        _string(_get(doc, "sender_email", where), "message.sender_email"),
        what="message.sender_email",
    )
    name = _object(_get(doc, "message_filename", where), "message.message_filename")
    filename = MessageFileName(
        kind=MessageKind.PROPOSED_CHANGES,
        timestamp=_number(
            _get(name, "submitted_timestamp", "message.message_filename"),
            "message.message_filename.submitted_timestamp",
        ),
        uid=_uuid(_get(name, "uid", "message.message_filename"), "message.message_filename.uid"),
    )
    items = _list(
        _get(doc, "proposed_file_changes", where),
        "message.proposed_file_changes",
        limit=limits.max_changes,
    )
    changes = tuple(
        _change_from_json(item, f"proposed_file_changes[{index}]", event=False, limits=limits)
        for index, item in enumerate(items)
    )
    return ProposedChangesMessage(
        id=message_id, sender_email=sender, filename=filename, changes=changes
    )


def _events_from_json(doc: dict[str, Any], *, limits: Limits) -> EventsMessage:
    where = "message.message_filepath"
    filepath = _object(_get(doc, "message_filepath", "message"), where)
    uid = _uuid(_get(filepath, "id", where), f"{where}.id")
    timestamp = _number(_get(filepath, "timestamp", where), f"{where}.timestamp")
    _optional_string(filepath.get("extension"), f"{where}.extension")
    items = _list(_get(doc, "events", "message"), "message.events", limit=limits.max_changes)
    events = tuple(
        _change_from_json(item, f"events[{index}]", event=True, limits=limits)
        for index, item in enumerate(items)
    )
    filename = MessageFileName(kind=MessageKind.EVENTS, timestamp=timestamp, uid=uid)
    return EventsMessage(id=uid, filename=filename, events=events)
