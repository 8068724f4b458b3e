"""Drive file and folder names used by SyftBox, in both naming generations.

Two generations share one Drive:

- legacy (before the switch to `#`-separated names): peer channels
  `syft_outbox_inbox_{sender}_to_{recipient}` and the personal event folder `{email}`;
- current: peer channels `syft_datasite#{version}#{datasite}#{inbox|outbox}#{peer}` and the personal
  event folder `{version}#{email}`.

Archive folders `syft_{sender}_to_{recipient}_archive` and the files `SYFT_peers.json` /
`SYFT_version.json` are the same in both.

In every channel value `sender` is the side that writes messages into the folder and `recipient` the
side that reads them, whatever the generation; that is what a monitor needs to know.

`parse_drive_name` answers three ways: a typed value, `None` for a name that is simply not SyftBox's
(a user's `holiday.jpg`), or an `InvalidNameError` for a name that has a SyftBox shape but cannot be
trusted. Names with control, format or bidi characters, or longer than `MAX_NAME_LENGTH`, are
refused whatever their shape: no SyftBox client writes them, and they exist to confuse whoever
displays them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from syft_monitors.errors import AmbiguousNameError, InvalidNameError
from syft_monitors.protocol.emails import (
    is_valid_email,
    normalize_email,
    safe_repr,
    validate_email,
)

SYFTBOX_FOLDER = "SyftBox"
PEERS_FILE = "SYFT_peers.json"
VERSION_FILE = "SYFT_version.json"

MAX_NAME_LENGTH = 1024

CURRENT_CHANNEL_PREFIX = "syft_datasite"
LEGACY_CHANNEL_PREFIX = "syft_outbox_inbox_"
ARCHIVE_PREFIX = "syft_"
ARCHIVE_SUFFIX = "_archive"
PAIR_SEPARATOR = "_to_"
FIELD_SEPARATOR = "#"
_CURRENT_CHANNEL_FIELDS = 5

# PEP 440 subset: what syft-client has published (`0.1.117`) plus pre/post/dev tags. ASCII digits
# only (`\d` would accept other scripts' digits) and bounded, so it can be embedded in a name.
_NUM = r"(?:0|[1-9][0-9]{0,8})"
_VERSION_RE = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    r"(?:(?:a|b|rc)[0-9]{1,9})?(?:\.post[0-9]{1,9})?(?:\.dev[0-9]{1,9})?"
)
# Other SyftBox folders whose names happen to be valid email addresses (`a@b.io-0.1.117-checkpoints`
# has a syntactically valid domain); they must not be taken for a legacy `{email}` event folder.
_NOT_EVENT_LOG_SUFFIXES = ("-checkpoints", "-rolling-state")
# Unicode categories refused anywhere in a name: controls, format characters (bidi overrides,
# zero-width joiners), surrogates and line/paragraph separators.
_HOSTILE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class Generation(StrEnum):
    LEGACY = "legacy"
    CURRENT = "current"


class Direction(StrEnum):
    INBOX = "inbox"
    OUTBOX = "outbox"


SpecialKind = Literal["peers_file", "version_file", "syftbox_root"]


# --- versions -----------------------------------------------------------------------------------


def is_valid_version(value: str) -> bool:
    """True for `MAJOR.MINOR.PATCH` with an optional `aN`/`bN`/`rcN`, `.postN`, `.devN` tail."""
    return isinstance(value, str) and _VERSION_RE.fullmatch(value) is not None


def validate_version(value: str, *, what: str = "version") -> str:
    """Return `value` unchanged, or raise `InvalidNameError` naming `what` was expected."""
    if not is_valid_version(value):
        raise InvalidNameError(f"{what} is not a valid version: {safe_repr(value)}")
    return value


def version_key(value: str) -> tuple[int, int, int]:
    """`(major, minor, patch)` of a valid version; raises `InvalidNameError` otherwise."""
    match = _VERSION_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidNameError(f"version is not a valid version: {safe_repr(value)}")
    return int(match["major"]), int(match["minor"]), int(match["patch"])


def versions_compatible(a: str, b: str) -> bool:
    """Same major.minor: syft-client accepts any patch level of its own minor release."""
    return version_key(a)[:2] == version_key(b)[:2]


# --- typed names --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerChannel:
    """A peer-to-peer message folder. `sender` writes into it, `recipient` reads from it.

    For CURRENT channels `version`, `datasite`, `direction` and `peer` come from the name and
    sender/recipient are derived: an inbox carries the peer's proposals to the datasite owner, an
    outbox carries the datasite owner's events to the peer. LEGACY names carry only the pair.
    Build instances with `PeerChannel.legacy(...)` / `PeerChannel.current(...)`.
    """

    generation: Generation
    sender: str
    recipient: str
    version: str | None
    datasite: str | None
    direction: Direction | None
    peer: str | None

    def __post_init__(self) -> None:
        validate_email(self.sender, what="channel sender")
        validate_email(self.recipient, what="channel recipient")
        if self.generation is Generation.LEGACY:
            if (self.version, self.datasite, self.direction, self.peer) != (None,) * 4:
                raise InvalidNameError(
                    "a legacy channel has no version, datasite, direction or peer"
                )
            return
        if self.version is None or self.datasite is None or self.peer is None:
            raise InvalidNameError("a current channel needs version, datasite, direction and peer")
        if not isinstance(self.direction, Direction):
            raise InvalidNameError("a current channel needs version, datasite, direction and peer")
        validate_version(self.version, what="channel version")
        if (self.sender, self.recipient) != _pair_for(self.datasite, self.direction, self.peer):
            raise InvalidNameError(
                "current channel sender/recipient do not follow from datasite, direction and peer"
            )

    @classmethod
    def legacy(cls, sender: str, recipient: str) -> PeerChannel:
        return cls(Generation.LEGACY, sender, recipient, None, None, None, None)

    @classmethod
    def current(
        cls, version: str, datasite: str, direction: Direction | str, peer: str
    ) -> PeerChannel:
        validate_version(version, what="channel version")
        validate_email(datasite, what="channel datasite")
        validate_email(peer, what="channel peer")
        way = _direction(direction)
        sender, recipient = _pair_for(datasite, way, peer)
        return cls(Generation.CURRENT, sender, recipient, version, datasite, way, peer)

    @property
    def name(self) -> str:
        """The exact Drive name this value was parsed from (original case kept)."""
        if self.generation is Generation.LEGACY:
            return f"{LEGACY_CHANNEL_PREFIX}{self.sender}{PAIR_SEPARATOR}{self.recipient}"
        assert self.version is not None
        assert self.datasite is not None
        assert self.direction is not None
        assert self.peer is not None
        return FIELD_SEPARATOR.join(
            (CURRENT_CHANNEL_PREFIX, self.version, self.datasite, self.direction.value, self.peer)
        )

    def involves(self, email: str) -> bool:
        """True when `email` (any case) is one of the two ends of the channel."""
        wanted = normalize_email(email)
        return wanted in (normalize_email(self.sender), normalize_email(self.recipient))

    def counterpart(self, email: str) -> str:
        """The other end of the channel as seen by `email`; `InvalidNameError` if not an end."""
        wanted = normalize_email(email)
        if wanted == normalize_email(self.sender):
            return self.recipient
        if wanted == normalize_email(self.recipient):
            return self.sender
        raise InvalidNameError(
            f"{safe_repr(email)} is not an end of channel {safe_repr(self.name)}"
        )

    def is_inbound_for(self, email: str) -> bool:
        """True when `email` (any case) reads this channel, i.e. messages arrive for them here."""
        return normalize_email(self.recipient) == normalize_email(email)


@dataclass(frozen=True, slots=True)
class ArchiveFolder:
    """Where the recipient moves processed `msgv2_*` files from `sender`."""

    sender: str
    recipient: str

    def __post_init__(self) -> None:
        validate_email(self.sender, what="archive sender")
        validate_email(self.recipient, what="archive recipient")

    @property
    def name(self) -> str:
        return f"{ARCHIVE_PREFIX}{self.sender}{PAIR_SEPARATOR}{self.recipient}{ARCHIVE_SUFFIX}"


@dataclass(frozen=True, slots=True)
class EventLogFolder:
    """A datasite owner's own accepted-event log: `{version}#{email}` (current) or `{email}`.

    The legacy form is recognised by shape alone, so a user's file called `report@2024.pdf` also
    matches; callers that care should check the Drive item is a folder.
    """

    email: str
    version: str | None

    def __post_init__(self) -> None:
        validate_email(self.email, what="event log owner")
        if self.version is not None:
            validate_version(self.version, what="event log version")

    @property
    def generation(self) -> Generation:
        return Generation.LEGACY if self.version is None else Generation.CURRENT

    @property
    def name(self) -> str:
        if self.version is None:
            return self.email
        return f"{self.version}{FIELD_SEPARATOR}{self.email}"


_SPECIAL_NAMES: dict[str, SpecialKind] = {
    PEERS_FILE: "peers_file",
    VERSION_FILE: "version_file",
    SYFTBOX_FOLDER: "syftbox_root",
}


@dataclass(frozen=True, slots=True)
class SpecialFile:
    """One of the fixed names: the `SyftBox` top folder, `SYFT_peers.json`, `SYFT_version.json`."""

    kind: SpecialKind

    def __post_init__(self) -> None:
        if self.kind not in _SPECIAL_NAMES.values():
            raise InvalidNameError(f"unknown special file kind {safe_repr(self.kind)}")

    @property
    def name(self) -> str:
        return next(name for name, kind in _SPECIAL_NAMES.items() if kind == self.kind)


DriveName = PeerChannel | ArchiveFolder | EventLogFolder | SpecialFile


# --- builders -----------------------------------------------------------------------------------


def legacy_channel_name(sender: str, recipient: str) -> str:
    return PeerChannel.legacy(sender, recipient).name


def current_channel_name(version: str, datasite: str, direction: Direction | str, peer: str) -> str:
    return PeerChannel.current(version, datasite, direction, peer).name


def archive_name(sender: str, recipient: str) -> str:
    return ArchiveFolder(sender, recipient).name


def event_log_name(version: str | None, email: str) -> str:
    """`{version}#{email}`; with `version=None` the legacy bare `{email}` name."""
    return EventLogFolder(email, version).name


# --- parser -------------------------------------------------------------------------------------


def parse_drive_name(name: str) -> DriveName | None:
    """Classify a Drive name; `None` when it is not a SyftBox name at all.

    Raises `InvalidNameError` (or its subclass `AmbiguousNameError`) when the name has a SyftBox
    shape but is malformed, and for hostile names of any shape.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"a Drive name must be text, got {type(name).__name__}")
    _refuse_hostile(name)
    stripped = name.strip()
    parsed = _classify(stripped)
    if parsed is not None and stripped != name:
        raise InvalidNameError(
            f"SyftBox name has leading or trailing whitespace: {safe_repr(name)}"
        )
    return parsed


def describe_drive_name(name: str) -> dict[str, str | None]:
    """The `syft-bg inspect name --json` document: kind, generation and the six name fields."""
    parsed = parse_drive_name(name)
    doc: dict[str, str | None] = {
        "kind": "unknown",
        "generation": None,
        "sender": None,
        "recipient": None,
        "datasite": None,
        "peer": None,
        "direction": None,
        "version": None,
    }
    if isinstance(parsed, PeerChannel):
        doc.update(
            kind="peer_channel",
            generation=parsed.generation.value,
            sender=parsed.sender,
            recipient=parsed.recipient,
            datasite=parsed.datasite,
            peer=parsed.peer,
            direction=None if parsed.direction is None else parsed.direction.value,
            version=parsed.version,
        )
    elif isinstance(parsed, ArchiveFolder):
        doc.update(kind="archive", sender=parsed.sender, recipient=parsed.recipient)
    elif isinstance(parsed, EventLogFolder):
        # The log belongs to the datasite owner who writes it, so the owner is the datasite.
        doc.update(
            kind="event_log",
            generation=parsed.generation.value,
            datasite=parsed.email,
            version=parsed.version,
        )
    elif isinstance(parsed, SpecialFile):
        doc.update(kind=parsed.kind)
    return doc


def _refuse_hostile(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"Drive name is {len(name)} characters, more than {MAX_NAME_LENGTH}: {safe_repr(name)}"
        )
    for ch in name:
        if unicodedata.category(ch) in _HOSTILE_CATEGORIES:
            raise InvalidNameError(
                f"Drive name contains control, format or bidi character U+{ord(ch):04X}: "
                f"{safe_repr(name)}"
            )


def _classify(name: str) -> DriveName | None:
    special = _SPECIAL_NAMES.get(name)
    if special is not None:
        return SpecialFile(special)
    # Order matters: no valid address contains `#`, and no domain contains `_`, so a name ending
    # in `_archive` can only be an archive even when the sender's local part starts `outbox_inbox_`.
    if name.split(FIELD_SEPARATOR, 1)[0] == CURRENT_CHANNEL_PREFIX and FIELD_SEPARATOR in name:
        return _parse_current_channel(name)
    if name.startswith(ARCHIVE_PREFIX) and name.endswith(ARCHIVE_SUFFIX):
        middle = name[len(ARCHIVE_PREFIX) : -len(ARCHIVE_SUFFIX)]
        sender, recipient = split_email_pair(middle, name=name)
        return ArchiveFolder(sender, recipient)
    if name.startswith(LEGACY_CHANNEL_PREFIX):
        sender, recipient = split_email_pair(name[len(LEGACY_CHANNEL_PREFIX) :], name=name)
        return PeerChannel.legacy(sender, recipient)
    if FIELD_SEPARATOR in name:
        head, _, rest = name.partition(FIELD_SEPARATOR)
        if not is_valid_version(head):
            return None
        if FIELD_SEPARATOR in rest:
            raise InvalidNameError(f"event log name must have exactly one '#': {safe_repr(name)}")
        email = _field_email(rest, "event log owner", name)
        return EventLogFolder(email, head)
    if name.endswith(_NOT_EVENT_LOG_SUFFIXES):
        return None
    if is_valid_email(name):
        return EventLogFolder(name, None)
    return None


def _parse_current_channel(name: str) -> PeerChannel:
    fields = name.split(FIELD_SEPARATOR)
    if len(fields) != _CURRENT_CHANNEL_FIELDS:
        raise InvalidNameError(
            f"peer channel name must have {_CURRENT_CHANNEL_FIELDS} '#'-separated fields, "
            f"found {len(fields)}: {safe_repr(name)}"
        )
    empty = [str(index) for index, field in enumerate(fields) if not field]
    if empty:
        raise InvalidNameError(
            f"peer channel name has empty field(s) {', '.join(empty)}: {safe_repr(name)}"
        )
    _, version, datasite, direction, peer = fields
    if not is_valid_version(version):
        raise InvalidNameError(f"peer channel version is not valid in {safe_repr(name)}")
    if direction not in (Direction.INBOX.value, Direction.OUTBOX.value):
        raise InvalidNameError(
            f"peer channel direction must be 'inbox' or 'outbox' in {safe_repr(name)}"
        )
    return PeerChannel.current(
        version,
        _field_email(datasite, "peer channel datasite", name),
        Direction(direction),
        _field_email(peer, "peer channel peer", name),
    )


def _field_email(value: str, what: str, name: str) -> str:
    if not is_valid_email(value):
        raise InvalidNameError(f"{what} is not a valid email address in {safe_repr(name)}")
    return value


def split_email_pair(
    middle: str, *, name: str | None = None, is_email: Callable[[str], bool] = is_valid_email
) -> tuple[str, str]:
    """Split `{a}_to_{b}` where both sides must be addresses; addresses may contain `_to_`.

    Every `_to_` position is tried (overlapping ones too). With `is_valid_email` at most one split
    can succeed, because a domain never contains `_` and an address has one `@`; the ambiguity
    check keeps that guarantee explicit instead of silently picking one if validation ever loosens.
    """
    candidates: list[tuple[str, str]] = []
    start = middle.find(PAIR_SEPARATOR)
    while start != -1:
        left, right = middle[:start], middle[start + len(PAIR_SEPARATOR) :]
        if is_email(left) and is_email(right):
            candidates.append((left, right))
        start = middle.find(PAIR_SEPARATOR, start + 1)
    shown = safe_repr(middle if name is None else name)
    if not candidates:
        raise InvalidNameError(f"no split of {shown} at '_to_' gives two valid email addresses")
    if len(candidates) > 1:
        raise AmbiguousNameError(
            f"{shown} splits into two valid email addresses in {len(candidates)} ways"
        )
    return candidates[0]


def _pair_for(datasite: str, direction: Direction, peer: str) -> tuple[str, str]:
    if direction is Direction.INBOX:
        return peer, datasite
    return datasite, peer


def _direction(value: Direction | str) -> Direction:
    try:
        return Direction(value)
    except ValueError as e:
        raise InvalidNameError(
            f"direction must be 'inbox' or 'outbox', got {safe_repr(value)}"
        ) from e


__all__ = [
    "MAX_NAME_LENGTH",
    "PEERS_FILE",
    "SYFTBOX_FOLDER",
    "VERSION_FILE",
    "ArchiveFolder",
    "Direction",
    "DriveName",
    "EventLogFolder",
    "Generation",
    "PeerChannel",
    "SpecialFile",
    "SpecialKind",
    "archive_name",
    "current_channel_name",
    "describe_drive_name",
    "event_log_name",
    "is_valid_version",
    "legacy_channel_name",
    "parse_drive_name",
    "split_email_pair",
    "validate_version",
    "version_key",
    "versions_compatible",
]
