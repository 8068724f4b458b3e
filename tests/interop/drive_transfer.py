"""Move a Drive between upstream's in-process double (as JSON) and our sandbox, and back.

Upstream's clients cannot be pointed at an HTTP endpoint without patching them (they build
their Drive client for googleapis.com), so the interop tests hand the Drive over instead: every
file and folder with its name, type, parents, owner, content and the permissions others hold.
Only ids change on the way (the sandbox assigns its own); references between files follow.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from syft_sandbox import Sandbox

FOLDER_MIME = "application/vnd.google-apps.folder"


def import_drive(sandbox: Sandbox, path: Path) -> dict[str, str]:
    """Create every file of the JSON document in the sandbox; returns old id -> new id."""
    document = json.loads(path.read_text(encoding="utf-8"))
    pending = {item["id"]: item for item in document["files"]}
    ids: dict[str, str] = {}
    while pending:
        ready = [
            item
            for item in pending.values()
            if all(parent in ids or parent not in pending for parent in item["parents"])
        ]
        if not ready:
            raise ValueError("the Drive document has a parent cycle")
        for item in ready:
            del pending[item["id"]]
            parents = [ids[p] for p in item["parents"] if p in ids]
            parent = parents[0] if parents else None
            if item["mimeType"] == FOLDER_MIME:
                new_id = sandbox.create_folder(item["owner"], item["name"], parent)
            else:
                new_id = sandbox.create_file(
                    item["owner"],
                    item["name"],
                    base64.b64decode(item["content"]),
                    parent=parent,
                    mime_type=item["mimeType"],
                )
            if item["trashed"]:
                sandbox.trash(item["owner"], new_id)
            ids[item["id"]] = new_id
    owners = {item["id"]: item["owner"] for item in document["files"]}
    for old_id, permissions in document["permissions"].items():
        for permission in permissions:
            if permission["type"] == "user" and permission["email"]:
                sandbox.share(owners[old_id], ids[old_id], permission["email"], permission["role"])
    return ids


def export_drive(sandbox: Sandbox, path: Path) -> None:
    """Write every (non-root) sandbox file to the JSON document upstream's double loads."""
    with sandbox.lock:
        files = [f for f in sandbox.drive.files.values() if not f.is_root]
        roots = {f.id for f in sandbox.drive.files.values() if f.is_root}
        document: dict[str, Any] = {"files": [], "permissions": {}}
        for file in files:
            document["files"].append(
                {
                    "id": file.id,
                    "name": file.name,
                    "mimeType": file.mime_type,
                    "parents": [p for p in file.parents if p not in roots],
                    "owner": file.owner,
                    "content": base64.b64encode(file.content or b"").decode("ascii"),
                    "trashed": sandbox.drive.is_trashed(file),
                }
            )
            shared = [
                {"type": p.type, "role": p.role, "email": p.email}
                for p in file.permissions.values()
                if p.role != "owner"
            ]
            if shared:
                document["permissions"][file.id] = shared
    path.write_text(json.dumps(document), encoding="utf-8")
