"""Drive file metadata as the monitors use it, parsed from API dictionaries."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

FOLDER_MIME = "application/vnd.google-apps.folder"
#: The one projection every metadata request asks for: what classification needs, nothing more.
FILE_FIELDS = "id,name,mimeType,parents,trashed,modifiedTime,size,owners(emailAddress)"


@dataclasses.dataclass(frozen=True, slots=True)
class DriveFile:
    id: str
    name: str
    mime_type: str = ""
    parents: tuple[str, ...] = ()
    trashed: bool = False
    owners: tuple[str, ...] = ()
    modified_time: str = ""
    size: int | None = None

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    @property
    def version(self) -> str:
        """Changes when the content or metadata changes: what 'seen' records compare."""
        return self.modified_time

    def owned_by(self, email: str) -> bool:
        return email.lower() in (owner.lower() for owner in self.owners)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> DriveFile:
        owners = tuple(
            str(owner.get("emailAddress", ""))
            for owner in data.get("owners") or ()
            if isinstance(owner, Mapping)
        )
        size = data.get("size")
        return cls(
            id=str(data["id"]),
            name=str(data.get("name", "")),
            mime_type=str(data.get("mimeType", "")),
            parents=tuple(str(p) for p in data.get("parents") or ()),
            trashed=bool(data.get("trashed", False)),
            owners=owners,
            modified_time=str(data.get("modifiedTime", "")),
            size=int(size) if size is not None and str(size).isdigit() else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "trashed": self.trashed,
            "owners": [{"emailAddress": owner} for owner in self.owners],
            "modifiedTime": self.modified_time,
            **({"size": str(self.size)} if self.size is not None else {}),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One entry of the changes feed: a file's current state, or its removal."""

    file_id: str
    removed: bool
    file: DriveFile | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Change:
        raw = data.get("file")
        file = DriveFile.from_api(raw) if isinstance(raw, Mapping) and "id" in raw else None
        file_id = str(data.get("fileId") or (file.id if file else ""))
        return cls(file_id=file_id, removed=bool(data.get("removed", False)), file=file)
