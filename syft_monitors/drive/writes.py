"""Drive write calls: create folders and files, replace content, share. Knows Drive, not SyftBox.

Creation is not idempotent: a retried `files.create` whose first attempt did reach Drive leaves
two files of the same name, and SyftBox clients refuse to pick between two channel folders. So
creates are attempted once (callers look the name up again before the next attempt); updates and
shares are safe to repeat and use the normal retry policy.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from syft_monitors.drive.api import DriveApi
from syft_monitors.drive.files import FILE_FIELDS, FOLDER_MIME, DriveFile
from syft_monitors.errors import CredentialsError
from syft_monitors.google.retry import (
    DEFAULT_POLICY,
    RequestObserver,
    RetryPolicy,
    execute,
    upload_body,
)
from syft_monitors.protocol.emails import normalize_email

ONCE = RetryPolicy(max_attempts=1)
#: Drive roles from weakest to strongest; sharing is skipped when a stronger one exists.
ROLE_RANK = {"reader": 1, "commenter": 2, "writer": 3, "fileOrganizer": 4, "organizer": 5}
ROLE_RANK["owner"] = 6
PERMISSION_FIELDS = "nextPageToken,permissions(id,type,role,emailAddress)"


@dataclasses.dataclass(frozen=True, slots=True)
class Permission:
    id: str
    type: str
    role: str
    email: str | None


class DriveWriter:
    """Write calls on the per-thread service of a `DriveApi` (so reads and writes share it)."""

    def __init__(
        self,
        drive: DriveApi,
        *,
        observer: RequestObserver | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.drive = drive
        self._observer = observer
        self._policy = policy

    def _call(self, request: Any, method: str, *, once: bool = False) -> Any:
        try:
            return execute(
                request,
                api="drive",
                method=method,
                policy=ONCE if once else self._policy,
                observer=self._observer,
            )
        except CredentialsError:
            self.drive.forget_service()  # a re-authorization is read on the next call
            raise

    # --- creation ---------------------------------------------------------------------------

    def create_folder(self, name: str, parent: str | None) -> DriveFile:
        body: dict[str, Any] = {"name": name, "mimeType": FOLDER_MIME}
        if parent:
            body["parents"] = [parent]
        request = self.drive.collection("files").create(body=body, fields=FILE_FIELDS)
        created = DriveFile.from_api(self._call(request, "files.create", once=True))
        return self._ensure_parent(created, parent)

    def create_file(
        self, name: str, parent: str, data: bytes, *, mime_type: str = "application/octet-stream"
    ) -> DriveFile:
        media = upload_body(data, mime_type=mime_type)
        request = self.drive.collection("files").create(
            body={"name": name, "parents": [parent]}, media_body=media, fields=FILE_FIELDS
        )
        created = DriveFile.from_api(self._call(request, "files.create", once=True))
        return self._ensure_parent(created, parent)

    def _ensure_parent(self, created: DriveFile, parent: str | None) -> DriveFile:
        # Upstream saw Drive drop `parents` on create (files landed in My Drive root and were
        # lost to the folder's readers); the reply tells, and one update repairs it.
        if parent is None or parent in created.parents:
            return created
        request = self.drive.collection("files").update(
            fileId=created.id, addParents=parent, fields=FILE_FIELDS
        )
        return DriveFile.from_api(self._call(request, "files.update"))

    # --- content ----------------------------------------------------------------------------

    def update_content(
        self, file_id: str, data: bytes, *, mime_type: str = "application/octet-stream"
    ) -> None:
        media = upload_body(data, mime_type=mime_type)
        request = self.drive.collection("files").update(
            fileId=file_id, media_body=media, fields="id"
        )
        self._call(request, "files.update")

    # --- sharing ----------------------------------------------------------------------------

    def permissions(self, file_id: str) -> list[Permission]:
        found: list[Permission] = []
        page_token: str | None = None
        while True:
            params: dict[str, Any] = {"fileId": file_id, "fields": PERMISSION_FIELDS}
            if page_token:
                params["pageToken"] = page_token
            reply = self._call(
                self.drive.collection("permissions").list(**params), "permissions.list"
            )
            for item in reply.get("permissions") or ():
                email = item.get("emailAddress")
                found.append(
                    Permission(
                        id=str(item.get("id", "")),
                        type=str(item.get("type", "")),
                        role=str(item.get("role", "")),
                        email=str(email) if email else None,
                    )
                )
            page_token = reply.get("nextPageToken")
            if not page_token:
                return found

    def share(self, file_id: str, email: str, role: str, *, notify: bool = False) -> bool:
        """Give `email` at least `role` on the file; False when it already had as much."""
        wanted = normalize_email(email)
        for permission in self.permissions(file_id):
            if (
                permission.email is not None
                and normalize_email(permission.email) == wanted
                and ROLE_RANK.get(permission.role, 0) >= ROLE_RANK[role]
            ):
                return False
        request = self.drive.collection("permissions").create(
            fileId=file_id,
            body={"type": "user", "role": role, "emailAddress": email},
            sendNotificationEmail=notify,
            fields="id",
        )
        self._call(request, "permissions.create")
        return True
