"""Accepting a peer request on Drive, the way the data owner's own SyftBox client does it.

A data scientist asks by creating channel folders addressed to the owner and sharing them. The
owner's client accepts with these steps, which we repeat in the same order:

1. (current folder generation) create, in the owner's `SyftBox` folder, the mirror pair
   `syft_datasite#{version}#{ds}#inbox#{do}` and `...#outbox#{do}`, and share both with the data
   scientist as writer; the data scientist's client takes the pair as the answer;
2. set the peer's state to `accepted` in the owner's `SYFT_peers.json` (created if missing);
3. share the owner's `SYFT_version.json` with the data scientist, read-only.

Locally, with a SyftBox folder configured, the peer also gets the job-folder permission files
(`approve.acl`), without which the owner's sync would refuse their submissions.

Every step looks before it writes (a folder of that name, a permission for that address), so an
acceptance interrupted at any point is completed, not duplicated, by the next attempt. A request
from a peer the owner rejected is never accepted. Shares are made without Google's own share
email (upstream asks for it): the data scientist gets our "Peer Request Accepted" email instead.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from syft_monitors.approve.acl import grant_job_folders
from syft_monitors.drive.api import DriveApi
from syft_monitors.drive.files import FOLDER_MIME, DriveFile
from syft_monitors.drive.writes import DriveWriter
from syft_monitors.errors import InvalidNameError, ProtocolError
from syft_monitors.protocol.emails import normalize_email, safe_repr
from syft_monitors.protocol.names import (
    CURRENT_CHANNEL_PREFIX,
    PEERS_FILE,
    SYFTBOX_FOLDER,
    VERSION_FILE,
    Direction,
    Generation,
    PeerChannel,
    current_channel_name,
    parse_drive_name,
    versions_compatible,
)
from syft_monitors.protocol.peers import (
    MAX_PEERS_FILE_BYTES,
    PeersFile,
    PeerState,
    parse_peers_file,
)
from syft_monitors.protocol.version import MAX_VERSION_FILE_BYTES, parse_version_file
from syft_monitors.runtime.classify import channel_peer_for

logger = logging.getLogger(__name__)

REQUEST_FOLDERS_QUERY = f"mimeType = '{FOLDER_MIME}' and trashed = false and not 'me' in owners"


class AcceptOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    ALREADY_ACCEPTED = "already_accepted"
    REJECTED_BY_OWNER = "rejected_by_owner"


@dataclass(frozen=True, slots=True)
class PeerRequest:
    """A data scientist's channel folder addressed to the data owner."""

    email: str
    channel: PeerChannel
    folder_name: str

    @property
    def key(self) -> str:
        return normalize_email(self.email)


def request_from_folder(file: DriveFile, do_email: str) -> PeerRequest | None:
    """The request a shared folder stands for, or None (not a channel, ours, not for us)."""
    if not file.is_folder or file.trashed or file.owned_by(do_email):
        return None
    try:
        parsed = parse_drive_name(file.name)
    except InvalidNameError:
        return None
    if not isinstance(parsed, PeerChannel):
        return None
    peer = channel_peer_for(parsed, do_email)
    if peer is None:
        return None
    if file.owners and not file.owned_by(peer):
        # The requester creates its own channel folders: one named for somebody else, owned by
        # a third party, would have us accept a person who never asked.
        logger.warning(
            "ignoring peer request folder %s: it names %s but is owned by %s",
            safe_repr(file.name),
            peer,
            safe_repr(", ".join(file.owners)),
        )
        return None
    return PeerRequest(peer, parsed, file.name)


def requests_from(files: Iterable[DriveFile], do_email: str) -> dict[str, PeerRequest]:
    """One request per data scientist; the current generation wins over the legacy one."""
    found: dict[str, PeerRequest] = {}
    for file in files:
        request = request_from_folder(file, do_email)
        if request is None:
            continue
        known = found.get(request.key)
        if known is None or (
            known.channel.generation is Generation.LEGACY
            and request.channel.generation is Generation.CURRENT
        ):
            found[request.key] = request
    return found


class PeerAcceptor:
    def __init__(
        self,
        do_email: str,
        drive: DriveApi,
        writer: DriveWriter,
        syftbox_root: Path | None,
    ) -> None:
        self.do_email = do_email
        self.drive = drive
        self.writer = writer
        self.syftbox_root = syftbox_root
        self._root_id: str | None = None
        self._version: tuple[str, str | None] | None = None

    # --- reading ----------------------------------------------------------------------------

    def list_requests(self) -> dict[str, PeerRequest]:
        """Every peer request visible now (one paged listing): used at baseline only."""
        return requests_from(self.drive.list_files(REQUEST_FOLDERS_QUERY), self.do_email)

    def read_peers(self) -> tuple[str | None, PeersFile]:
        """The owner's `SYFT_peers.json` (its id, or None when there is none yet)."""
        root = self.root_id()
        query = f"name = '{PEERS_FILE}' and '{root}' in parents and trashed = false"
        mine = [f for f in self.drive.list_files(query) if f.owned_by(self.do_email)]
        if not mine:
            return None, PeersFile({})
        file_id = min(mine, key=lambda f: f.modified_time).id
        data = self.drive.download(file_id, max_bytes=MAX_PEERS_FILE_BYTES)
        return file_id, parse_peers_file(data)

    def root_id(self) -> str:
        """The owner's `SyftBox` folder, created when missing (as the owner's client would)."""
        if self._root_id is None:
            query = (
                f"name = '{SYFTBOX_FOLDER}' and mimeType = '{FOLDER_MIME}' "
                "and 'me' in owners and trashed = false"
            )
            found = sorted(self.drive.list_files(query), key=lambda f: f.modified_time)
            if len(found) > 1:
                logger.warning("%d folders named SyftBox; using the oldest", len(found))
            folder = found[0] if found else self.writer.create_folder(SYFTBOX_FOLDER, None)
            self._root_id = folder.id
        return self._root_id

    def own_version(self) -> tuple[str | None, str | None]:
        """(id of the owner's `SYFT_version.json`, its client version), each None if unknown."""
        if self._version is None:
            root = self.root_id()
            query = f"name = '{VERSION_FILE}' and '{root}' in parents and trashed = false"
            mine = [f for f in self.drive.list_files(query) if f.owned_by(self.do_email)]
            if not mine:
                return None, None  # not cached: the owner's client may write it later
            file_id = mine[0].id
            version: str | None = None
            try:
                data = self.drive.download(file_id, max_bytes=MAX_VERSION_FILE_BYTES)
                version = parse_version_file(data).syft_client_version
            except ProtocolError as error:
                logger.warning("cannot read the data owner's %s: %s", VERSION_FILE, error)
            self._version = (file_id, version)
        return self._version

    # --- accepting --------------------------------------------------------------------------

    def accept(self, request: PeerRequest) -> AcceptOutcome:
        email = request.email
        _, peers = self.read_peers()
        state = peers.state_of(email)
        if state is PeerState.ACCEPTED:
            return AcceptOutcome.ALREADY_ACCEPTED
        if state is PeerState.REJECTED:
            return AcceptOutcome.REJECTED_BY_OWNER
        if self.syftbox_root is not None and self.syftbox_root.is_dir():
            grant_job_folders(self.syftbox_root, self.do_email, email)
        version_id, version = self.own_version()
        if request.channel.generation is Generation.CURRENT:
            self._mirror_folders(email, version or request.channel.version)
        # Read again just before writing: the owner's client may have changed it meanwhile.
        file_id, peers = self.read_peers()
        if peers.state_of(email) is PeerState.REJECTED:
            return AcceptOutcome.REJECTED_BY_OWNER
        data = peers.with_state(email, PeerState.ACCEPTED).dumps()
        if file_id is None:
            self.writer.create_file(PEERS_FILE, self.root_id(), data, mime_type="text/plain")
        else:
            self.writer.update_content(file_id, data, mime_type="text/plain")
        if version_id is not None:
            self.writer.share(version_id, email, "reader")
        return AcceptOutcome.ACCEPTED

    def _mirror_folders(self, ds_email: str, version: str | None) -> None:
        if version is None:  # pragma: no cover - a current channel always carries a version
            raise InvalidNameError("no client version to name the channel folders with")
        root = self.root_id()
        query = (
            f"name contains '{CURRENT_CHANNEL_PREFIX}#' and name contains '#{ds_email}#' "
            f"and '{root}' in parents and 'me' in owners "
            f"and mimeType = '{FOLDER_MIME}' and trashed = false"
        )
        existing: dict[Direction, str] = {}
        for folder in self.drive.list_files(query):
            channel = _channel(folder.name)
            if (
                channel is not None
                and channel.direction is not None
                and channel.datasite is not None
                and channel.peer is not None
                and channel.version is not None
                and normalize_email(channel.datasite) == normalize_email(ds_email)
                and normalize_email(channel.peer) == normalize_email(self.do_email)
                and versions_compatible(channel.version, version)
            ):
                existing.setdefault(channel.direction, folder.id)
        for direction in (Direction.INBOX, Direction.OUTBOX):
            folder_id = existing.get(direction)
            if folder_id is None:
                name = current_channel_name(version, ds_email, direction, self.do_email)
                folder_id = self.writer.create_folder(name, root).id
                logger.info("created channel folder %s", safe_repr(name, limit=200))
            self.writer.share(folder_id, ds_email, "writer")


def _channel(name: str) -> PeerChannel | None:
    try:
        parsed = parse_drive_name(name)
    except InvalidNameError:
        return None
    if isinstance(parsed, PeerChannel) and parsed.generation is Generation.CURRENT:
        return parsed
    return None
