"""Where Drive changes come from: the changes feed (default) or the seed's listing algorithm.

Both produce the same thing, a list of `DriveFile`s that may matter, so the rest of the pipeline
cannot tell them apart. The feed costs one request per idle poll whatever the number of peers and
jobs; the listing costs 1 + (inbox and archive folders) + 1 requests, and is kept for comparison and
for Drive setups where the changes API is not allowed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from syft_monitors.drive.api import DriveApi, InvalidCursorError
from syft_monitors.drive.files import FOLDER_MIME, DriveFile
from syft_monitors.protocol.names import PEERS_FILE
from syft_monitors.runtime.classify import Folder, WorkKind, is_own_event_log, message_peer_for

logger = logging.getLogger(__name__)

FOLDERS_QUERY = f"mimeType = '{FOLDER_MIME}' and trashed = false"
MESSAGES_QUERY = "name contains 'msgv2_' and trashed = false"
EVENTS_QUERY = "name contains 'syfteventsmessagev3_' and trashed = false"
PEERS_FILE_QUERY = f"name = '{PEERS_FILE}' and 'me' in owners and trashed = false"


@dataclasses.dataclass(slots=True)
class Batch:
    """What one read of the source returned."""

    files: list[DriveFile]
    removed: list[str]
    cursor: str | None
    #: True when this batch describes what already existed (first start): no emails for it.
    baseline: bool = False
    #: True after an invalid cursor: a full listing whose unseen items are genuinely new.
    rebaselined: bool = False


def full_listing(drive: DriveApi, interests: frozenset[WorkKind]) -> list[DriveFile]:
    """Everything that may matter, in as few paged queries as the interests need."""
    files: list[DriveFile] = list(drive.list_files(FOLDERS_QUERY))
    if WorkKind.JOB_MESSAGE in interests:
        files.extend(drive.list_files(MESSAGES_QUERY))
    if WorkKind.EVENTS in interests:
        files.extend(drive.list_files(EVENTS_QUERY))
    if WorkKind.PEERS_FILE in interests:
        files.extend(drive.list_files(PEERS_FILE_QUERY))
    return files


class ChangesFeedSource:
    """The Drive changes feed from a cursor the caller keeps (one request per idle read).

    Without a cursor, or when Drive refuses it, the batch is the full listing of what may matter
    (flagged `baseline` / `rebaselined`); with `list_on_baseline=False` such a batch is empty and
    the caller lists what it needs itself (the approve service lists peer requests only).
    """

    def __init__(
        self,
        drive: DriveApi,
        interests: frozenset[WorkKind],
        *,
        list_on_baseline: bool = True,
    ) -> None:
        self.drive = drive
        self.interests = interests
        self.list_on_baseline = list_on_baseline

    def read(self, cursor: str | None) -> Batch:
        if cursor is None:
            # Take the token first: anything created during the listing shows up in the feed too.
            token = self.drive.start_page_token()
            return Batch(self._listing(), [], token, baseline=True)
        try:
            changes, new_cursor = self.drive.changes(cursor)
        except InvalidCursorError:
            logger.warning("Drive refused the saved changes cursor; re-reading everything once")
            token = self.drive.start_page_token()
            return Batch(self._listing(), [], token, rebaselined=True)
        files = [c.file for c in changes if c.file is not None and not c.removed]
        removed = [c.file_id for c in changes if c.removed or c.file is None]
        return Batch(files, removed, new_cursor)

    def _listing(self) -> list[DriveFile]:
        return full_listing(self.drive, self.interests) if self.list_on_baseline else []


class ListingSource:
    """The seed's algorithm, done right: exact name parsing, every page, archives included."""

    def __init__(self, drive: DriveApi, interests: frozenset[WorkKind], do_email: str) -> None:
        self.drive = drive
        self.interests = interests
        self.do_email = do_email

    def read(self, cursor: str | None) -> Batch:
        folders = list(self.drive.list_files(FOLDERS_QUERY))
        files: list[DriveFile] = list(folders)
        for folder in folders:
            info = Folder(folder.name, folder.owners)
            wants_messages = WorkKind.JOB_MESSAGE in self.interests and (
                message_peer_for(info, self.do_email) is not None
            )
            wants_events = WorkKind.EVENTS in self.interests and is_own_event_log(
                info, self.do_email
            )
            if wants_messages or wants_events:
                files.extend(self.drive.list_files(f"'{folder.id}' in parents and trashed = false"))
        if WorkKind.PEERS_FILE in self.interests:
            files.extend(self.drive.list_files(PEERS_FILE_QUERY))
        return Batch(files, [], cursor="list", baseline=cursor is None)


def folders_in(files: Iterable[DriveFile]) -> dict[str, Folder]:
    return {f.id: Folder(f.name, f.owners) for f in files if f.is_folder and not f.trashed}
