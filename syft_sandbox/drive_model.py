"""The Drive data model: files, folders, permissions, visibility and the change feed.

Not thread-safe by itself: the sandbox holds one lock around every call. Files are indexed by
id, parent, name, owner and direct share, so the lookups SyftBox traffic makes (children of a
folder, a name, everything a user can see) never scan the whole store.

A user sees a file when they own it or hold a permission on it or on any ancestor folder (the
owner of a folder also sees what others put in it). Writing needs a writer role on the file or
an ancestor, or ownership of either; deleting needs ownership, as in My Drive.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from syft_monitors.protocol.emails import is_valid_email
from syft_sandbox.apierror import (
    ApiError,
    bad_request,
    file_not_found,
    insufficient_permissions,
)
from syft_sandbox.changes import ChangeLog, FeedEntry
from syft_sandbox.drive_files import (
    FOLDER_MIME,
    PERMISSION_TYPES,
    ROLE_RANK,
    SandboxDriveFile,
    SandboxPermission,
    rfc3339,
    sort_key,
    to_millis,
)
from syft_sandbox.query import Node, evaluate, required_value

_ID_ALPHABET = string.ascii_letters + string.digits

_WRITABLE_FIELDS = frozenset(
    {
        "name",
        "mimeType",
        "description",
        "starred",
        "trashed",
        "properties",
        "appProperties",
        "modifiedTime",
        "originalFilename",
        "viewersCanCopyContent",
        "writersCanShare",
        "copyRequiresWriterPermission",
    }
)


class _Facts:
    """What the q evaluator asks about one file, answered from one user's point of view."""

    def __init__(self, store: DriveStore, user: str, file: SandboxDriveFile) -> None:
        self._store = store
        self._user = user
        self._file = file

    def text(self, field: str) -> str:
        return self._file.name if field == "name" else self._file.mime_type

    def time(self, field: str) -> datetime:
        return self._file.modified if field == "modifiedTime" else self._file.created

    def boolean(self, field: str) -> bool:
        if field == "trashed":
            return self._store.is_trashed(self._file)
        if field == "starred":
            return self._file.starred
        return self._file.owner != self._user and self._store.has_direct_permission(
            self._file, self._user
        )

    def member(self, field: str, value: str) -> bool:
        if field == "parents":
            parent = self._store.root_id(self._user) if value == "root" else value
            return parent in self._file.parents
        email = self._user if value == "me" else value.lower()
        if field == "owners":
            return self._file.owner == email
        rank = ROLE_RANK.get(self._store.role(email, self._file) or "", 0)
        if field == "writers":
            return rank >= ROLE_RANK["writer"]
        return rank >= ROLE_RANK["reader"]


class DriveStore:
    """All users' files; every mutation appends to the change feeds of those it concerns."""

    def __init__(self, *, seed: int = 0, clock: Callable[[], datetime] | None = None) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - ids only need to be reproducible
        self._clock = clock or (lambda: datetime.now(UTC))
        self.files: dict[str, SandboxDriveFile] = {}
        self._children: dict[str, dict[str, None]] = {}
        self._by_name: dict[str, dict[str, None]] = {}
        self._by_owner: dict[str, dict[str, None]] = {}
        self._shared_with: dict[str, dict[str, None]] = {}
        self._roots: dict[str, str] = {}
        self._permission_ids: dict[str, str] = {}
        self._seq = 0
        self.changes = ChangeLog()

    # --- users ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return to_millis(self._clock())

    def add_user(self, email: str) -> str:
        if email in self._roots:
            return self._roots[email]
        now = self.now()
        root = SandboxDriveFile(
            id=self._new_id(),
            seq=self._next_seq(),
            name="My Drive",
            mime_type=FOLDER_MIME,
            owner=email,
            parents=[],
            created=now,
            modified=now,
            last_modifier=email,
            is_root=True,
        )
        self._insert(root)
        self._roots[email] = root.id
        return root.id

    def has_user(self, email: str) -> bool:
        return email in self._roots

    def root_id(self, email: str) -> str:
        return self._roots[email]

    def permission_id(self, email: str) -> str:
        pid = self._permission_ids.get(email)
        if pid is None:
            pid = str(self._rng.randrange(10**19, 10**20))
            self._permission_ids[email] = pid
        return pid

    # --- lookup and access ------------------------------------------------------------------

    def lookup(self, user: str, file_id: str, *, location: str = "fileId") -> SandboxDriveFile:
        """The file if `user` may see it; 404 otherwise, as Drive does for invisible files."""
        real_id = self._roots.get(user, "") if file_id == "root" else file_id
        found = self.files.get(real_id)
        if found is None or not self.can_see(user, found):
            raise file_not_found(file_id, location)
        return found

    def has_direct_permission(self, file: SandboxDriveFile, email: str) -> bool:
        pid = self._permission_ids.get(email)
        return pid is not None and pid in file.permissions

    def _direct_role(self, email: str, node: SandboxDriveFile) -> str | None:
        if node.owner == email:
            return "owner"
        pid = self._permission_ids.get(email)
        if pid is not None:
            perm = node.permissions.get(pid)
            if perm is not None:
                return perm.role
        return None

    def _chain(self, file: SandboxDriveFile) -> Iterator[SandboxDriveFile]:
        """The file and all its ancestors (each once)."""
        seen: set[str] = set()
        stack = [file]
        while stack:
            node = stack.pop()
            if node.id in seen:
                continue
            seen.add(node.id)
            yield node
            stack.extend(self.files[p] for p in node.parents if p in self.files)

    def can_see(
        self, user: str, file: SandboxDriveFile, cache: dict[str, bool] | None = None
    ) -> bool:
        if cache is not None and file.id in cache:
            return cache[file.id]
        visible = self._direct_role(user, file) is not None or any(
            self.can_see(user, self.files[p], cache) for p in file.parents if p in self.files
        )
        if cache is not None:
            cache[file.id] = visible
        return visible

    def role(self, user: str, file: SandboxDriveFile) -> str | None:
        """The strongest role `user` has on `file`, directly or through an ancestor folder."""
        best: str | None = None
        for node in self._chain(file):
            role = self._direct_role(user, node)
            if role == "owner" and node is not file:
                role = "writer"  # owning a folder lets you edit, not own, what others put in it
            if role is not None and (best is None or ROLE_RANK[role] > ROLE_RANK[best]):
                best = role
        return best

    def can_write(self, user: str, file: SandboxDriveFile) -> bool:
        return ROLE_RANK.get(self.role(user, file) or "", 0) >= ROLE_RANK["writer"]

    def audience(self, file: SandboxDriveFile) -> set[str]:
        """Every address that can see `file`."""
        users: set[str] = set()
        for node in self._chain(file):
            users.add(node.owner)
            users.update(p.email for p in node.permissions.values() if p.email is not None)
        return users

    def is_trashed(self, file: SandboxDriveFile) -> bool:
        return any(node.explicitly_trashed for node in self._chain(file))

    def children(self, folder_id: str) -> list[SandboxDriveFile]:
        return [self.files[c] for c in self._children.get(folder_id, {})]

    def _subtree(self, file: SandboxDriveFile) -> list[SandboxDriveFile]:
        out: list[SandboxDriveFile] = []
        seen: set[str] = set()
        stack = [file]
        while stack:
            node = stack.pop()
            if node.id in seen:
                continue
            seen.add(node.id)
            out.append(node)
            stack.extend(self.files[c] for c in self._children.get(node.id, {}))
        return out

    def _visible_ids(self, user: str) -> set[str]:
        roots = list(self._by_owner.get(user, {})) + list(self._shared_with.get(user, {}))
        seen: set[str] = set()
        while roots:
            file_id = roots.pop()
            if file_id in seen:
                continue
            seen.add(file_id)
            roots.extend(self._children.get(file_id, {}))
        return seen

    # --- search -----------------------------------------------------------------------------

    def search(
        self, user: str, node: Node | None, order_by: list[tuple[str, bool]]
    ) -> list[SandboxDriveFile]:
        parent = required_value(node, "parents")
        name = required_value(node, "name")
        cache: dict[str, bool] = {}
        candidates: Iterable[SandboxDriveFile]
        if parent is not None:
            parent_id = self._roots.get(user, "") if parent == "root" else parent
            candidates = self.children(parent_id)
        elif name is not None:
            candidates = [self.files[i] for i in self._by_name.get(name, {})]
        else:
            candidates = [self.files[i] for i in self._visible_ids(user)]
            cache = dict.fromkeys((f.id for f in candidates), True)
        matches = [
            f
            for f in candidates
            if not f.is_root
            and self.can_see(user, f, cache)
            and (node is None or evaluate(node, _Facts(self, user, f)))
        ]
        matches.sort(key=lambda f: f.seq)
        for key, descending in reversed(order_by):
            matches.sort(key=sort_key(key), reverse=descending)
        return matches

    # --- mutations --------------------------------------------------------------------------

    def create(
        self,
        user: str,
        *,
        name: str,
        mime_type: str,
        parents: list[str],
        content: bytes | None,
        metadata: dict[str, Any] | None = None,
    ) -> SandboxDriveFile:
        metadata = metadata or {}
        parent_ids = [self.resolve_parent(user, p) for p in parents] or [self._roots[user]]
        if len(parent_ids) > 1:
            raise ApiError(
                403, "cannotAddParent", "Increasing the number of parents is not allowed."
            )
        now = self.now()
        file = SandboxDriveFile(
            id=self._new_id(),
            seq=self._next_seq(),
            name=name,
            mime_type=mime_type,
            owner=user,
            parents=parent_ids,
            created=self._time_field(metadata, "createdTime", now),
            modified=self._time_field(metadata, "modifiedTime", now),
            last_modifier=user,
        )
        self._apply_simple_fields(file, metadata)
        if not file.is_folder:
            file.set_content(content or b"")
        self._insert(file)
        self._record([file], {file.id: set()})
        return file

    def update(
        self,
        user: str,
        file_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        add_parents: list[str] | None = None,
        remove_parents: list[str] | None = None,
        content: bytes | None = None,
    ) -> SandboxDriveFile:
        metadata = metadata or {}
        file = self.lookup(user, file_id)
        not_writable = sorted(set(metadata) - _WRITABLE_FIELDS)
        if not_writable:
            raise ApiError(
                403,
                "fieldNotWritable",
                "The resource body includes fields which are not directly writable: "
                + not_writable[0],
            )
        if file.is_root or not self.can_write(user, file):
            raise insufficient_permissions()
        if "mimeType" in metadata and (metadata["mimeType"] == FOLDER_MIME) != file.is_folder:
            raise bad_request("A file cannot be converted to or from a folder.")
        if content is not None and file.is_folder:
            raise bad_request("A folder cannot have content.")
        new_parents = list(file.parents)
        for parent in remove_parents or []:
            real = self._roots.get(user, "") if parent == "root" else parent
            if real not in new_parents:
                raise ApiError(
                    404,
                    "notFound",
                    f"File not found: {parent}.",
                    location="removeParents",
                    location_type="parameter",
                )
            new_parents.remove(real)
        for parent in add_parents or []:
            real = self.resolve_parent(user, parent, location="addParents")
            if real in {n.id for n in self._subtree(file)}:
                raise bad_request("A folder cannot be moved into itself or its descendants.")
            if real not in new_parents:
                new_parents.append(real)
        if len(new_parents) > 1:
            raise ApiError(
                403,
                "cannotAddParent",
                "Increasing the number of parents is not allowed. A file can only have one parent.",
            )
        structural = new_parents != file.parents or (
            "trashed" in metadata and bool(metadata["trashed"]) != file.explicitly_trashed
        )
        affected = self._subtree(file) if structural else [file]
        before = {f.id: self.audience(f) for f in affected}
        now = self.now()
        if new_parents != file.parents:
            for parent in file.parents:
                self._children.get(parent, {}).pop(file.id, None)
            file.parents = new_parents
            for parent in new_parents:
                self._children.setdefault(parent, {})[file.id] = None
        if "name" in metadata and metadata["name"] != file.name:
            self._by_name.get(file.name, {}).pop(file.id, None)
            file.name = str(metadata["name"])
            self._by_name.setdefault(file.name, {})[file.id] = None
            file.modified = now
        if "trashed" in metadata:
            file.explicitly_trashed = bool(metadata["trashed"])
        if "description" in metadata or "mimeType" in metadata:
            file.modified = now
        self._apply_simple_fields(file, metadata, merge=True)
        if content is not None:
            file.set_content(content)
            file.modified = now
        if "modifiedTime" in metadata:
            file.modified = self._time_field(metadata, "modifiedTime", now)
        file.last_modifier = user
        for node in affected:
            node.version += 1
        self._record(affected, before)
        return file

    def delete(self, user: str, file_id: str) -> None:
        file = self.lookup(user, file_id)
        if file.is_root or file.owner != user:
            raise insufficient_permissions("Only the owner can permanently delete a file.")
        affected = self._subtree(file)
        before = {f.id: self.audience(f) for f in affected}
        removed: list[SandboxDriveFile] = []
        self._delete_tree(file, user, removed)
        gone = {f.id for f in removed}
        survivors = [f for f in affected if f.id not in gone]
        when = rfc3339(self.now())
        for f in removed:
            self.changes.record(f.id, before[f.id], when)
        self._record(survivors, before)

    def _delete_tree(
        self, file: SandboxDriveFile, user: str, removed: list[SandboxDriveFile]
    ) -> None:
        for child in self.children(file.id):
            if child.owner == user:
                self._delete_tree(child, user, removed)
            else:
                child.parents = [p for p in child.parents if p != file.id]
        self._remove(file)
        removed.append(file)

    def add_permission(
        self,
        user: str,
        file_id: str,
        *,
        type: str,
        role: str,
        email: str | None,
        domain: str | None,
    ) -> SandboxPermission:
        file = self.lookup(user, file_id)
        if type not in PERMISSION_TYPES:
            raise ApiError(
                400,
                "invalid",
                "Invalid permission type.",
                location="permission.type",
                location_type="other",
            )
        if role not in ROLE_RANK:
            raise ApiError(
                400,
                "invalid",
                "Invalid permission role.",
                location="permission.role",
                location_type="other",
            )
        if role == "owner":
            raise ApiError(
                403, "invalidSharingRequest", "Ownership transfer is not supported by the sandbox."
            )
        if file.is_root or not self.can_write(user, file):
            raise insufficient_permissions()
        if type in ("user", "group"):
            if email is None or not is_valid_email(email):
                raise ApiError(
                    400, "invalidSharingRequest", "Bad Request. The email address is not valid."
                )
            email = email.lower()
            if email == file.owner:
                return self._owner_permission(file)
            pid = self.permission_id(email)
        elif type == "domain":
            if not domain:
                raise ApiError(
                    400,
                    "required",
                    "The domain is required.",
                    location="permission.domain",
                    location_type="other",
                )
            pid = "domain:" + domain
        else:
            pid = "anyoneWithLink"
        affected = self._subtree(file)
        before = {f.id: self.audience(f) for f in affected}
        permission = SandboxPermission(
            pid, type, role, email if type in ("user", "group") else None, domain
        )
        file.permissions[pid] = permission
        if permission.email is not None:
            self._shared_with.setdefault(permission.email, {})[file.id] = None
            file.shared_times.setdefault(permission.email, self.now())
        for node in affected:
            node.version += 1
        self._record(affected, before)
        return permission

    def remove_permission(self, user: str, file_id: str, permission_id: str) -> None:
        file = self.lookup(user, file_id)
        if permission_id == self.permission_id(file.owner):
            raise ApiError(403, "cannotRemoveOwner", "The owner of a file cannot be removed.")
        if permission_id not in file.permissions:
            raise ApiError(
                404,
                "notFound",
                f"Permission not found: {permission_id}.",
                location="permissionId",
                location_type="parameter",
            )
        if not self.can_write(user, file):
            raise insufficient_permissions()
        affected = self._subtree(file)
        before = {f.id: self.audience(f) for f in affected}
        permission = file.permissions.pop(permission_id)
        if permission.email is not None:
            self._shared_with.get(permission.email, {}).pop(file.id, None)
            file.shared_times.pop(permission.email, None)
        for node in affected:
            node.version += 1
        self._record(affected, before)

    def permissions(self, user: str, file_id: str) -> list[SandboxPermission]:
        file = self.lookup(user, file_id)
        return [self._owner_permission(file), *file.permissions.values()]

    def _owner_permission(self, file: SandboxDriveFile) -> SandboxPermission:
        return SandboxPermission(self.permission_id(file.owner), "user", "owner", file.owner)

    # --- changes ----------------------------------------------------------------------------

    def visible_change(
        self, user: str, entry: FeedEntry, cache: dict[str, bool]
    ) -> SandboxDriveFile | None:
        """The file for a feed entry, or None when it is gone or no longer visible (removed)."""
        file = self.files.get(entry.file_id)
        if file is None or file.is_root or not self.can_see(user, file, cache):
            return None
        return file

    def usage(self, user: str) -> int:
        return sum(len(self.files[i].content or b"") for i in self._by_owner.get(user, {}))

    def permissions_of(self, file: SandboxDriveFile) -> list[SandboxPermission]:
        return [self._owner_permission(file), *file.permissions.values()]

    # --- internals --------------------------------------------------------------------------

    def _new_id(self) -> str:
        while True:
            candidate = "1" + "".join(self._rng.choices(_ID_ALPHABET, k=32))
            if candidate not in self.files:
                return candidate

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def resolve_parent(self, user: str, parent: str, *, location: str = "parents") -> str:
        real = self._roots.get(user, "") if parent == "root" else parent
        folder = self.files.get(real)
        if folder is None or not self.can_see(user, folder):
            raise file_not_found(parent, location)
        if not folder.is_folder:
            raise bad_request("The specified parent is not a folder.")
        if not self.can_write(user, folder):
            raise insufficient_permissions()
        return real

    def _insert(self, file: SandboxDriveFile) -> None:
        self.files[file.id] = file
        for parent in file.parents:
            self._children.setdefault(parent, {})[file.id] = None
        self._by_name.setdefault(file.name, {})[file.id] = None
        self._by_owner.setdefault(file.owner, {})[file.id] = None

    def _remove(self, file: SandboxDriveFile) -> None:
        del self.files[file.id]
        for parent in file.parents:
            self._children.get(parent, {}).pop(file.id, None)
        self._children.pop(file.id, None)
        self._by_name.get(file.name, {}).pop(file.id, None)
        self._by_owner.get(file.owner, {}).pop(file.id, None)
        for permission in file.permissions.values():
            if permission.email is not None:
                self._shared_with.get(permission.email, {}).pop(file.id, None)

    def _record(self, files: list[SandboxDriveFile], before: dict[str, set[str]]) -> None:
        when = rfc3339(self.now())
        for file in files:
            users = before.get(file.id, set()) | self.audience(file)
            self.changes.record(file.id, users, when)

    def _apply_simple_fields(
        self, file: SandboxDriveFile, metadata: dict[str, Any], *, merge: bool = False
    ) -> None:
        if metadata.get("mimeType"):
            file.mime_type = str(metadata["mimeType"])
        if "description" in metadata:
            value = metadata["description"]
            file.description = None if value is None else str(value)
        if "starred" in metadata:
            file.starred = bool(metadata["starred"])
        if "trashed" in metadata:
            file.explicitly_trashed = bool(metadata["trashed"])
        for key, target in (
            ("properties", file.properties),
            ("appProperties", file.app_properties),
        ):
            value = metadata.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise bad_request(f"{key} must be an object")
            if not merge:
                target.clear()
            for prop, prop_value in value.items():
                if prop_value is None:
                    target.pop(str(prop), None)
                else:
                    target[str(prop)] = str(prop_value)

    def _time_field(self, metadata: dict[str, Any], key: str, default: datetime) -> datetime:
        value = metadata.get(key)
        if value is None:
            return default
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ApiError(
                400, "invalid", f"Invalid value for {key}", location=key, location_type="other"
            ) from None
        return to_millis(parsed)
