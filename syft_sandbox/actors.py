"""Simulated SyftBox users that act on a Drive server exactly as real clients do.

A data scientist requests a peer by creating and sharing channel folders, and submits jobs by
uploading real `msgv2_*.tar.gz` files. A data owner accepts peers by rewriting `SYFT_peers.json`
and creating the mirror folders, "syncs" by archiving processed messages (the race that defeats
listing-based pollers) and writing `syfteventsmessagev3_*` files to its event log, and approves,
rejects, runs or fails jobs by writing the `state.yaml` files the real `syft-job` writes. Both go
through the official Google client over HTTP, so the monitors under test see real traffic.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
from collections.abc import Mapping
from typing import Any

import yaml
from googleapiclient.http import MediaIoBaseUpload

from syft_monitors.drive.files import FOLDER_MIME
from syft_monitors.protocol.messages import ProposedChangesMessage, decode_message
from syft_monitors.protocol.names import (
    PEERS_FILE,
    SYFTBOX_FOLDER,
    Direction,
    archive_name,
    current_channel_name,
    event_log_name,
    legacy_channel_name,
)
from syft_monitors.protocol.peers import PeersFile, PeerState, parse_peers_file
from syft_monitors.runtime.classify import Folder, message_peer_for
from syft_sandbox.messages import encode_message, new_events_message, new_proposed_changes

DEFAULT_VERSION = "0.1.117"


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class DriveActor:
    """Shared Drive plumbing: folders by name, uploads, shares, downloads, moves."""

    def __init__(self, email: str, service: Any, *, version: str = DEFAULT_VERSION) -> None:
        self.email = email
        self.service = service
        self.version = version
        self._folders: dict[tuple[str, str | None], str] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def files(self) -> Any:
        # Built once: googleapiclient builds every method on each `service.files()` call.
        return self.service.files()

    @functools.cached_property
    def permissions(self) -> Any:
        return self.service.permissions()

    def root(self) -> str:
        return self.folder(SYFTBOX_FOLDER, None)

    def folder(self, name: str, parent: str | None) -> str:
        """Id of the folder `name` under `parent` owned by this user, created when missing."""
        key = (name, parent)
        with self._lock:
            if key in self._folders:
                return self._folders[key]
        query = (
            f"name = '{name}' and mimeType = '{FOLDER_MIME}' and 'me' in owners and trashed = false"
        )
        if parent:
            query += f" and '{parent}' in parents"
        found = self.files.list(q=query, fields="files(id)").execute().get("files")
        if found:
            folder_id = str(found[0]["id"])
        else:
            body: dict[str, Any] = {"name": name, "mimeType": FOLDER_MIME}
            if parent:
                body["parents"] = [parent]
            folder_id = str(self.files.create(body=body, fields="id").execute()["id"])
        with self._lock:
            self._folders[key] = folder_id
        return folder_id

    def share(self, file_id: str, email: str, role: str = "writer") -> None:
        self.permissions.create(
            fileId=file_id,
            body={"type": "user", "role": role, "emailAddress": email},
            sendNotificationEmail=False,
            fields="id",
        ).execute()

    def upload(
        self, name: str, parent: str, data: bytes, mime: str = "application/octet-stream"
    ) -> str:
        media = MediaIoBaseUpload(io.BytesIO(data), mimetype=mime, resumable=False)
        created = self.files.create(
            body={"name": name, "parents": [parent]}, media_body=media, fields="id,parents"
        ).execute()
        return str(created["id"])

    def update_content(self, file_id: str, data: bytes, mime: str = "text/plain") -> None:
        media = MediaIoBaseUpload(io.BytesIO(data), mimetype=mime, resumable=False)
        self.files.update(fileId=file_id, media_body=media, fields="id").execute()

    def find(self, name: str, parent: str) -> str | None:
        query = f"name = '{name}' and '{parent}' in parents and trashed = false"
        found = self.files.list(q=query, fields="files(id)").execute().get("files")
        return str(found[0]["id"]) if found else None

    def download(self, file_id: str) -> bytes:
        data = self.files.get_media(fileId=file_id).execute()
        return bytes(data)

    def list_children(self, parent: str, name_prefix: str = "") -> list[dict[str, Any]]:
        query = f"'{parent}' in parents and trashed = false"
        files: list[dict[str, Any]] = []
        token = None
        while True:
            reply = self.files.list(
                q=query, fields="nextPageToken,files(id,name)", pageSize=1000, pageToken=token
            ).execute()
            files.extend(f for f in reply.get("files", []) if f["name"].startswith(name_prefix))
            token = reply.get("nextPageToken")
            if not token:
                return files

    def move(self, file_id: str, new_parent: str) -> None:
        meta = self.files.get(fileId=file_id, fields="parents").execute()
        old = ",".join(meta.get("parents", []))
        self.files.update(
            fileId=file_id, addParents=new_parent, removeParents=old, fields="id,parents"
        ).execute()

    def read_peers(self) -> tuple[str | None, PeersFile]:
        file_id = self.find(PEERS_FILE, self.root())
        if file_id is None:
            return None, PeersFile({})
        return file_id, parse_peers_file(self.download(file_id))

    def write_peers(self, peers: PeersFile) -> None:
        file_id, _ = self.read_peers()
        if file_id is None:
            self.upload(PEERS_FILE, self.root(), peers.dumps(), "text/plain")
        else:
            self.update_content(file_id, peers.dumps())


class SimulatedDataScientist(DriveActor):
    def __init__(self, email: str, service: Any, *, legacy: bool = False, **kw: Any) -> None:
        super().__init__(email, service, **kw)
        self.legacy = legacy
        self._inbox: dict[str, str] = {}

    def request_peer(self, do_email: str) -> None:
        """Create and share the channel folders, as a client's `add_peer` does."""
        root = self.root()
        if self.legacy:
            names = [
                legacy_channel_name(self.email, do_email),
                legacy_channel_name(do_email, self.email),
            ]
        else:
            names = [
                current_channel_name(self.version, do_email, Direction.INBOX, self.email),
                current_channel_name(self.version, do_email, Direction.OUTBOX, self.email),
            ]
        for index, name in enumerate(names):
            folder_id = self.folder(name, root)
            self.share(folder_id, do_email)
            if index == 0:
                self._inbox[do_email] = folder_id
        _, peers = self.read_peers()
        self.write_peers(peers.with_state(do_email, PeerState.REQUESTED_BY_ME))

    def submit_job(
        self,
        do_email: str,
        name: str,
        files: Mapping[str, bytes | str],
        *,
        timestamp: float | None = None,
    ) -> str:
        """Upload one msgv2 message carrying the whole job; returns its Drive file id."""
        if do_email not in self._inbox:
            self.request_peer(do_email)
        base = (
            f"app_data/job/{name}/" if self.legacy else f"app_data/job/inbox/{self.email}/{name}/"
        )
        config = {
            "name": name,
            "type": "python",
            "submitted_at": _now_iso(),
            "entrypoint": "main.py",
            "files": sorted(files),
            "is_folder_submission": False,
        }
        if self.legacy:
            config["submitted_by"] = self.email
        payload: dict[str, bytes | str] = {
            base + "config.yaml": yaml.safe_dump(config, sort_keys=True),
            base + "run.sh": "#!/bin/bash\nset -e\ncd code && python main.py\n",
        }
        prefix = base if self.legacy else base + "code/"
        payload.update({prefix + path: content for path, content in files.items()})
        message = new_proposed_changes(self.email, do_email, payload, timestamp=timestamp)
        return self.upload(message.filename.name, self._inbox[do_email], encode_message(message))


class SimulatedDataOwner(DriveActor):
    def __init__(self, email: str, service: Any, *, legacy: bool = False, **kw: Any) -> None:
        super().__init__(email, service, **kw)
        self.legacy = legacy

    def event_log(self) -> str:
        name = self.email if self.legacy else event_log_name(self.version, self.email)
        return self.folder(name, self.root())

    def accept_peer(self, ds_email: str) -> None:
        """What a real DO client does on approval: peers file `accepted` + mirror folders."""
        _, peers = self.read_peers()
        self.write_peers(peers.with_state(ds_email, PeerState.ACCEPTED))
        if not self.legacy:
            root = self.root()
            for direction in (Direction.INBOX, Direction.OUTBOX):
                folder_id = self.folder(
                    current_channel_name(self.version, ds_email, direction, self.email), root
                )
                self.share(folder_id, ds_email)

    def sync(self) -> int:
        """Archive every proposal in the inboxes shared with us and log it as accepted events."""
        moved = 0
        query = f"mimeType = '{FOLDER_MIME}' and trashed = false and not 'me' in owners"
        reply = self.files.list(q=query, fields="files(id,name)", pageSize=1000).execute()
        for folder in reply.get("files", []):
            sender = _inbox_sender(folder["name"], self.email)
            if sender is None:
                continue
            for item in sorted(self.list_children(folder["id"], "msgv2_"), key=lambda f: f["name"]):
                data = self.download(item["id"])
                archive = self.folder(archive_name(sender, self.email), self.root())
                self.move(item["id"], archive)
                self._log_accepted(data)
                moved += 1
        return moved

    def _log_accepted(self, data: bytes) -> None:
        message = decode_message(data)
        assert isinstance(message, ProposedChangesMessage)
        files = {c.path: c.content for c in message.changes}
        events = new_events_message(self.email, files)
        self.upload(events.filename.name, self.event_log(), encode_message(events))

    def set_status(
        self,
        ds_email: str,
        job: str,
        status: str,
        *,
        reason: str | None = None,
        return_code: int | None = None,
        stderr: str | None = None,
    ) -> None:
        """Write the status the way syft-job does (state.yaml, or legacy marker files)."""
        files: dict[str, bytes | str | None] = {}
        if self.legacy:
            # Legacy markers carry no submitter: the log entry of the same sync names it.
            files[f"app_data/job/{job}/config.yaml"] = yaml.safe_dump(
                {"name": job, "submitted_by": ds_email, "type": "python"}, sort_keys=True
            )
            if status in ("approved", "done"):
                files[f"app_data/job/{job}/{status}"] = ""
            if status == "done":
                files[f"app_data/job/{job}/approved"] = ""
        else:
            review = f"app_data/job/review/{ds_email}/{job}/"
            state: dict[str, Any] = {
                "status": status,
                "received_at": _now_iso(),
                "approved_by": self.email
                if status in ("approved", "running", "done", "failed")
                else None,
                "approved_at": _now_iso() if status != "rejected" else None,
                "approval_method": "manual",
                "rejected_by": self.email if status == "rejected" else None,
                "rejected_at": _now_iso() if status == "rejected" else None,
                "review_reason": reason,
                "completed_at": _now_iso() if status in ("done", "failed") else None,
                "return_code": return_code,
            }
            files[review + "state.yaml"] = yaml.safe_dump(state, sort_keys=False)
            if stderr is not None:
                files[review + "stderr.txt"] = stderr
            if return_code is not None:
                files[review + "returncode.txt"] = str(return_code)
        events = new_events_message(self.email, files)
        self.upload(events.filename.name, self.event_log(), encode_message(events))


def _inbox_sender(name: str, do_email: str) -> str | None:
    return message_peer_for(Folder(name, ()), do_email)
