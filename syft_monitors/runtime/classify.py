"""Which Drive files matter to a data owner, decided from names and parent folders only.

Nothing is downloaded here. A file that matters becomes a `WorkItem`; everything else is ignored
without a request. Parent folder names come from a cache fed by the same changes feed (folders
appear in it when they are created or shared), so steady-state classification costs nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable

from syft_monitors.drive.files import DriveFile
from syft_monitors.errors import InvalidNameError, ProtocolError
from syft_monitors.protocol.emails import normalize_email, safe_repr
from syft_monitors.protocol.messages import MessageKind, parse_message_filename
from syft_monitors.protocol.names import (
    PEERS_FILE,
    ArchiveFolder,
    Direction,
    EventLogFolder,
    Generation,
    PeerChannel,
    parse_drive_name,
)

logger = logging.getLogger(__name__)


class WorkKind(enum.StrEnum):
    PEER_CHANNEL = "peer_channel"  # a DS's channel folder addressed to the DO: a peer request
    JOB_MESSAGE = "job_message"  # a msgv2 proposal addressed to the DO (inbox or archive)
    EVENTS = "events"  # a syfteventsmessagev3 file in the DO's own event log
    PEERS_FILE = "peers_file"  # the DO's SYFT_peers.json


@dataclasses.dataclass(frozen=True, slots=True)
class Folder:
    name: str
    owners: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Classified:
    kind: WorkKind
    file: DriveFile
    peer: str | None = None  # the DS concerned, when the name tells it


FolderLookup = Callable[[str], Folder | None]
#: Told about each item refused as hostile: an invalid name, or an item whose Drive owner is not
#: who its name or place says wrote it. The hook reports it (the pipeline logs and counts each
#: refusal once, however often a listing shows the item again); without a hook, it is logged here.
RefusalHook = Callable[[DriveFile, ProtocolError], None]


def log_refusal(file: DriveFile, error: ProtocolError) -> None:
    del file  # the message names it
    logger.warning("ignoring %s", error)


def channel_peer_for(channel: PeerChannel, do_email: str) -> str | None:
    """The DS who asks the DO to peer, if this channel folder is addressed to the DO."""
    do = normalize_email(do_email)
    if channel.generation is Generation.CURRENT:
        datasite, peer = channel.datasite, channel.peer
        if datasite is None or peer is None:
            return None
        if normalize_email(datasite) == do and normalize_email(peer) != do:
            return peer
        return None
    if normalize_email(channel.recipient) == do and normalize_email(channel.sender) != do:
        return channel.sender
    return None


def message_peer_for(folder: Folder, do_email: str) -> str | None:
    """The DS whose proposals this folder carries to the DO (inbox or archive), else None."""
    try:
        parsed = parse_drive_name(folder.name)
    except InvalidNameError:
        return None
    do = normalize_email(do_email)
    if isinstance(parsed, PeerChannel):
        if parsed.generation is Generation.CURRENT and parsed.direction is not Direction.INBOX:
            return None
        if normalize_email(parsed.recipient) == do and normalize_email(parsed.sender) != do:
            return parsed.sender
        return None
    if isinstance(parsed, ArchiveFolder) and normalize_email(parsed.recipient) == do:
        return parsed.sender
    return None


def is_own_event_log(folder: Folder, do_email: str) -> bool:
    try:
        parsed = parse_drive_name(folder.name)
    except InvalidNameError:
        return False
    return isinstance(parsed, EventLogFolder) and normalize_email(parsed.email) == normalize_email(
        do_email
    )


def classify(
    file: DriveFile,
    do_email: str,
    folders: FolderLookup,
    *,
    on_invalid: RefusalHook | None = None,
) -> Classified | None:
    """Decide whether `file` matters to `do_email`; `folders` resolves parent ids to names."""
    if file.trashed:
        return None
    if file.is_folder:
        return _classify_folder(file, do_email, on_invalid)
    if file.name == PEERS_FILE:
        return Classified(WorkKind.PEERS_FILE, file) if file.owned_by(do_email) else None
    try:
        message = parse_message_filename(file.name)
    except InvalidNameError:
        return None
    for parent_id in file.parents:
        folder = folders(parent_id)
        if folder is None:
            continue
        if message.kind is MessageKind.PROPOSED_CHANGES:
            peer = message_peer_for(folder, do_email)
            if peer is not None:
                # Proposals are uploaded by their data scientist (archiving moves, never copies):
                # anyone else's file in a folder named for them would speak in their name.
                if not _owned_by(file.owners, peer):
                    _refuse(file, f"is in the folder of {peer} but not theirs", on_invalid)
                    return None
                return Classified(WorkKind.JOB_MESSAGE, file, peer)
        elif is_own_event_log(folder, do_email):
            # Only the data owner writes its event log; a look-alike folder shared by someone
            # else would make us announce statuses the owner never set.
            if not _owned_by(file.owners, do_email):
                _refuse(file, "is in an event log but not the data owner's", on_invalid)
                return None
            return Classified(WorkKind.EVENTS, file)
    return None


def _owned_by(owners: tuple[str, ...], email: str) -> bool:
    """Whether `email` owns a Drive item; True when Drive names no owner (shared drives)."""
    wanted = normalize_email(email)
    return not owners or any(normalize_email(owner) == wanted for owner in owners)


def _refuse(file: DriveFile, why: str, on_invalid: RefusalHook | None) -> None:
    error = ProtocolError(
        f"{safe_repr(file.name)} {why} (owned by {safe_repr(', '.join(file.owners))})"
    )
    (on_invalid or log_refusal)(file, error)


def _classify_folder(
    file: DriveFile, do_email: str, on_invalid: RefusalHook | None
) -> Classified | None:
    try:
        parsed = parse_drive_name(file.name)
    except InvalidNameError as error:
        # Shared with us and SyftBox-shaped but invalid: worth one log line, never a crash.
        refusal = InvalidNameError(f"invalid SyftBox folder name {safe_repr(file.name)}: {error}")
        refusal.__cause__ = error
        (on_invalid or log_refusal)(file, refusal)
        return None
    if not isinstance(parsed, PeerChannel):
        return None
    if file.owned_by(do_email):
        return None  # the DO's own mirror folders, created when it accepted the peer
    peer = channel_peer_for(parsed, do_email)
    if peer is None:
        return None
    if not _owned_by(file.owners, peer):
        # The requester creates its channel folders: one named for somebody else is a forgery.
        _refuse(file, f"names {peer} as the requester but is not theirs", on_invalid)
        return None
    return Classified(WorkKind.PEER_CHANNEL, file, peer)
