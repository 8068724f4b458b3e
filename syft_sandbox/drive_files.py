"""Drive files and permissions as the sandbox stores them, plus ordering and time helpers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syft_sandbox.apierror import ApiError

FOLDER_MIME = "application/vnd.google-apps.folder"
ROLE_RANK = {
    "reader": 1,
    "commenter": 2,
    "writer": 3,
    "fileOrganizer": 3,
    "organizer": 3,
    "owner": 4,
}
PERMISSION_TYPES = frozenset({"user", "group", "domain", "anyone"})
ORDER_KEYS = frozenset(
    {
        "createdTime",
        "folder",
        "modifiedTime",
        "name",
        "name_natural",
        "quotaBytesUsed",
        "recency",
        "starred",
    }
)


def rfc3339(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def to_millis(when: datetime) -> datetime:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=(when.microsecond // 1000) * 1000)


def display_name(email: str) -> str:
    return email.partition("@")[0]


@dataclass
class SandboxPermission:
    id: str
    type: str
    role: str
    email: str | None = None
    domain: str | None = None

    def resource(self) -> dict[str, Any]:
        res: dict[str, Any] = {
            "kind": "drive#permission",
            "id": self.id,
            "type": self.type,
            "role": self.role,
            "deleted": False,
            "pendingOwner": False,
        }
        if self.email is not None:
            res["emailAddress"] = self.email
            res["displayName"] = display_name(self.email)
        if self.domain is not None:
            res["domain"] = self.domain
        if self.type in ("anyone", "domain"):
            res["allowFileDiscovery"] = False
        return res


@dataclass(eq=False)
class SandboxDriveFile:
    id: str
    seq: int
    name: str
    mime_type: str
    owner: str
    parents: list[str]
    created: datetime
    modified: datetime
    last_modifier: str
    content: bytes | None = None
    md5: str | None = None
    explicitly_trashed: bool = False
    starred: bool = False
    description: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    app_properties: dict[str, str] = field(default_factory=dict)
    #: Non-owner permissions by permission id (one stable id per email address).
    permissions: dict[str, SandboxPermission] = field(default_factory=dict)
    shared_times: dict[str, datetime] = field(default_factory=dict)
    version: int = 1
    is_root: bool = False

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    def set_content(self, content: bytes) -> None:
        self.content = content
        self.md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class FileInfo:
    """A detached snapshot of a file for Python callers (tests, simulators, the bench)."""

    id: str
    name: str
    mime_type: str
    owner: str
    parents: tuple[str, ...]
    trashed: bool
    size: int
    created_time: str
    modified_time: str
    shared_with: tuple[str, ...]

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name)]


def sort_key(key: str) -> Callable[[SandboxDriveFile], Any]:
    keys: dict[str, Callable[[SandboxDriveFile], Any]] = {
        "name": lambda f: (f.name.casefold(), f.name),
        "name_natural": lambda f: _natural_key(f.name),
        "modifiedTime": lambda f: f.modified,
        "recency": lambda f: f.modified,
        "createdTime": lambda f: f.created,
        "folder": lambda f: 0 if f.is_folder else 1,
        "starred": lambda f: 0 if f.starred else 1,
        "quotaBytesUsed": lambda f: len(f.content or b""),
    }
    return keys[key]


def parse_order_by(text: str | None) -> list[tuple[str, bool]]:
    """`"folder,name desc"` -> [("folder", False), ("name", True)]; unknown keys are a 400."""
    if not text:
        return []
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if (
            not words
            or len(words) > 2
            or words[0] not in ORDER_KEYS
            or (len(words) == 2 and words[1].lower() not in ("asc", "desc"))
        ):
            raise ApiError(
                400, "invalid", "Invalid Value", location="orderBy", location_type="parameter"
            )
        out.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return out
