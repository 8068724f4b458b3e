"""Drive resources (File, User) as the API returns them, rendered for one viewer."""

from __future__ import annotations

from typing import Any

from syft_sandbox.drive_files import (
    ROLE_RANK,
    FileInfo,
    SandboxDriveFile,
    display_name,
    rfc3339,
)
from syft_sandbox.drive_model import DriveStore


def user_resource(store: DriveStore, email: str, viewer: str) -> dict[str, Any]:
    return {
        "kind": "drive#user",
        "displayName": display_name(email),
        "emailAddress": email,
        "me": email == viewer,
        "permissionId": store.permission_id(email),
    }


def file_resource(store: DriveStore, file: SandboxDriveFile, viewer: str) -> dict[str, Any]:
    role = store.role(viewer, file)
    can_edit = ROLE_RANK.get(role or "", 0) >= ROLE_RANK["writer"]
    res: dict[str, Any] = {
        "kind": "drive#file",
        "id": file.id,
        "name": file.name,
        "mimeType": file.mime_type,
        "starred": file.starred,
        "trashed": store.is_trashed(file),
        "explicitlyTrashed": file.explicitly_trashed,
        "spaces": ["drive"],
        "version": str(file.version),
        "createdTime": rfc3339(file.created),
        "modifiedTime": rfc3339(file.modified),
        "owners": [user_resource(store, file.owner, viewer)],
        "ownedByMe": file.owner == viewer,
        "shared": bool(file.permissions),
        "lastModifyingUser": user_resource(store, file.last_modifier, viewer),
        "viewersCanCopyContent": True,
        "writersCanShare": True,
        "permissionIds": [store.permission_id(file.owner), *file.permissions],
        "capabilities": {
            "canEdit": can_edit,
            "canShare": can_edit,
            "canAddChildren": can_edit and file.is_folder,
            "canDelete": file.owner == viewer,
            "canTrash": can_edit,
            "canRename": can_edit,
            "canDownload": not file.is_folder,
            "canListChildren": file.is_folder,
            "canMoveItemWithinDrive": can_edit,
        },
    }
    if file.parents:
        res["parents"] = list(file.parents)
    if not file.is_folder:
        size = len(file.content or b"")
        res["size"] = str(size)
        res["quotaBytesUsed"] = str(size)
        res["md5Checksum"] = file.md5
        res["originalFilename"] = file.name
        if "." in file.name.strip("."):
            res["fileExtension"] = file.name.rsplit(".", 1)[1]
            res["fullFileExtension"] = file.name.split(".", 1)[1]
    else:
        res["quotaBytesUsed"] = "0"
    if file.description is not None:
        res["description"] = file.description
    if file.properties:
        res["properties"] = dict(file.properties)
    if file.app_properties:
        res["appProperties"] = dict(file.app_properties)
    if can_edit:
        res["permissions"] = [p.resource() for p in store.permissions_of(file)]
    shared_time = file.shared_times.get(viewer)
    if shared_time is not None and file.owner != viewer:
        res["sharedWithMeTime"] = rfc3339(shared_time)
    return res


def file_info(store: DriveStore, file: SandboxDriveFile) -> FileInfo:
    return FileInfo(
        id=file.id,
        name=file.name,
        mime_type=file.mime_type,
        owner=file.owner,
        parents=tuple(file.parents),
        trashed=store.is_trashed(file),
        size=len(file.content or b""),
        created_time=rfc3339(file.created),
        modified_time=rfc3339(file.modified),
        shared_with=tuple(p.email for p in file.permissions.values() if p.email),
    )
