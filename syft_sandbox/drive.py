"""Drive v3 REST handlers over the Drive model, in the shapes the official client uses."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from syft_monitors.google.discovery import discovery_schemas, response_schema
from syft_sandbox.apierror import (
    ApiError,
    bad_request,
    invalid_parameter,
    required_parameter,
)
from syft_sandbox.drive_files import FOLDER_MIME, SandboxDriveFile, parse_order_by
from syft_sandbox.drive_model import DriveStore
from syft_sandbox.drive_resources import file_resource, user_resource
from syft_sandbox.fields import FieldsError, Selection, parse_fields, project, validate
from syft_sandbox.query import QueryError, parse_query
from syft_sandbox.routes import Route, route
from syft_sandbox.uploads import UploadSessions, parse_multipart_related
from syft_sandbox.wire import Request, Response, empty_response, json_response

DEFAULT_FILE_FIELDS = "kind,id,name,mimeType"
DEFAULT_LIST_FIELDS = "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)"
DEFAULT_PERMISSION_FIELDS = "kind,id,type,role"
DEFAULT_PERMISSION_LIST_FIELDS = "kind,nextPageToken,permissions(kind,id,type,role)"
DEFAULT_CHANGE_FIELDS = (
    "kind,nextPageToken,newStartPageToken,"
    "changes(kind,changeType,type,time,removed,fileId,file(kind,id,name,mimeType))"
)
_CREATE_FIELDS = frozenset(
    {
        "name",
        "mimeType",
        "parents",
        "description",
        "starred",
        "properties",
        "appProperties",
        "createdTime",
        "modifiedTime",
        "originalFilename",
        "viewersCanCopyContent",
        "writersCanShare",
        "copyRequiresWriterPermission",
        "trashed",
    }
)
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_SPACES = frozenset({"drive", "appDataFolder", "photos"})


class SandboxDriveApi:
    def __init__(self, store: DriveStore, uploads: UploadSessions) -> None:
        self.store = store
        self.uploads = uploads
        self._schemas = discovery_schemas("drive")

    def routes(self) -> list[Route]:
        v3 = "/drive/v3"
        up = "/upload/drive/v3"
        return [
            route("GET", f"{v3}/files", "drive", "files.list", self.files_list),
            route("POST", f"{v3}/files", "drive", "files.create", self.files_create),
            route("GET", f"{v3}/files/{{fileId}}", "drive", "files.get", self.files_get,
                  media_operation="files.get_media"),
            route("PATCH", f"{v3}/files/{{fileId}}", "drive", "files.update", self.files_update),
            route("DELETE", f"{v3}/files/{{fileId}}", "drive", "files.delete", self.files_delete),
            route("POST", f"{up}/files", "drive", "files.create", self.upload_create),
            route("PATCH", f"{up}/files/{{fileId}}", "drive", "files.update", self.upload_update),
            route("PUT", f"{up}/files", "drive", "files.create", self.upload_chunk,
                  resolve=self._chunk_operation),
            route("PUT", f"{up}/files/{{fileId}}", "drive", "files.update", self.upload_chunk,
                  resolve=self._chunk_operation),
            route("POST", f"{v3}/files/{{fileId}}/permissions", "drive", "permissions.create",
                  self.permissions_create),
            route("GET", f"{v3}/files/{{fileId}}/permissions", "drive", "permissions.list",
                  self.permissions_list),
            route("GET", f"{v3}/files/{{fileId}}/permissions/{{permissionId}}", "drive",
                  "permissions.get", self.permissions_get),
            route("DELETE", f"{v3}/files/{{fileId}}/permissions/{{permissionId}}", "drive",
                  "permissions.delete", self.permissions_delete),
            route("GET", f"{v3}/changes/startPageToken", "drive", "changes.getStartPageToken",
                  self.changes_start),
            route("GET", f"{v3}/changes", "drive", "changes.list", self.changes_list),
            route("GET", f"{v3}/about", "drive", "about.get", self.about_get),
        ]  # fmt: skip

    # --- helpers ----------------------------------------------------------------------------

    def _selection(self, request: Request, method: str, default: str | None) -> Selection | None:
        text = request.param("fields")
        if not text:
            if default is None:
                return None
            text = default
        try:
            selection = parse_fields(text)
            schema = response_schema("drive", f"drive.{method}")
            if schema is not None:
                validate(selection, schema, self._schemas)
        except FieldsError as exc:
            raise invalid_parameter("fields", str(exc), reason="invalidParameter") from None
        return selection

    def _file_response(
        self, request: Request, method: str, file: SandboxDriveFile, status: int = 200
    ) -> Response:
        selection = self._selection(request, method, DEFAULT_FILE_FIELDS)
        resource = file_resource(self.store, file, request.user_email())
        return json_response(project(resource, selection), status)

    def _chunk_operation(self, query: Mapping[str, list[str]]) -> str:
        session = self.uploads.get(query.get("upload_id", [""])[-1])
        return session.operation if session is not None else "files.create"

    def _check_spaces(self, request: Request) -> bool:
        """True when the request covers the "drive" space (the only one with files here)."""
        spaces = {s.strip() for s in (request.param("spaces") or "drive").split(",")}
        if not spaces <= _SPACES:
            raise invalid_parameter("spaces")
        return "drive" in spaces

    # --- files ------------------------------------------------------------------------------

    def files_list(self, request: Request) -> Response:
        user = request.user_email()
        text = request.param("q") or ""
        try:
            node = parse_query(text)
        except QueryError:
            raise invalid_parameter("q") from None
        page_size = request.int_param("pageSize", 100, minimum=1, maximum=1000)
        order_text = request.param("orderBy")
        order = parse_order_by(order_text)
        selection = self._selection(request, "files.list", DEFAULT_LIST_FIELDS)
        in_drive = self._check_spaces(request)
        matches = self.store.search(user, node, order) if in_drive else []
        key = _page_key(user, text, order_text or "", request.param("spaces") or "")
        offset = _decode_page_token(request.param("pageToken"), key)
        page = matches[offset : offset + page_size]
        body: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": [file_resource(self.store, f, user) for f in page],
        }
        if offset + page_size < len(matches):
            body["nextPageToken"] = _encode_page_token(key, offset + page_size)
        return json_response(project(body, selection))

    def files_get(self, request: Request) -> Response:
        file = self.store.lookup(request.user_email(), request.path_params["fileId"])
        if request.param("alt") == "media":
            return _download(request, file)
        return self._file_response(request, "files.get", file)

    def files_create(self, request: Request) -> Response:
        metadata = request.json_body()
        self._selection(request, "files.create", DEFAULT_FILE_FIELDS)
        return self._file_response(
            request, "files.create", self._create(request, metadata, None, None)
        )

    def files_update(self, request: Request) -> Response:
        self._selection(request, "files.update", DEFAULT_FILE_FIELDS)
        file = self._update(request, request.json_body(), None)
        return self._file_response(request, "files.update", file)

    def files_delete(self, request: Request) -> Response:
        self.store.delete(request.user_email(), request.path_params["fileId"])
        return empty_response()

    def upload_create(self, request: Request) -> Response:
        self._selection(request, "files.create", DEFAULT_FILE_FIELDS)
        upload_type = request.param("uploadType")
        if upload_type == "media":
            content_type = request.header("content-type") or "application/octet-stream"
            file = self._create(request, {}, request.body, content_type)
            return self._file_response(request, "files.create", file)
        if upload_type == "multipart":
            parts = parse_multipart_related(request.header("content-type") or "", request.body)
            file = self._create(request, parts.metadata, parts.media, parts.media_type)
            return self._file_response(request, "files.create", file)
        if upload_type == "resumable":
            metadata = request.json_body()
            self._check_create_metadata(request, metadata)

            def finish(content: bytes, content_type: str) -> Response:
                file = self._create(request, metadata, content, content_type)
                return self._file_response(request, "files.create", file)

            return self.uploads.start(request, api="drive", operation="files.create", finish=finish)
        raise invalid_parameter("uploadType")

    def upload_update(self, request: Request) -> Response:
        self._selection(request, "files.update", DEFAULT_FILE_FIELDS)
        upload_type = request.param("uploadType")
        if upload_type == "media":
            file = self._update(request, {}, request.body)
            return self._file_response(request, "files.update", file)
        if upload_type == "multipart":
            parts = parse_multipart_related(request.header("content-type") or "", request.body)
            file = self._update(request, parts.metadata, parts.media)
            return self._file_response(request, "files.update", file)
        if upload_type == "resumable":
            metadata = request.json_body()
            self.store.lookup(request.user_email(), request.path_params["fileId"])

            def finish(content: bytes, content_type: str) -> Response:
                file = self._update(request, metadata, content)
                return self._file_response(request, "files.update", file)

            return self.uploads.start(request, api="drive", operation="files.update", finish=finish)
        raise invalid_parameter("uploadType")

    def upload_chunk(self, request: Request) -> Response:
        upload_id = request.param("upload_id")
        if not upload_id:
            raise required_parameter("upload_id")
        session = self.uploads.get(upload_id)
        if session is None or session.user != request.user_email():
            raise ApiError(
                404,
                "notFound",
                "No such upload session.",
                location="upload_id",
                location_type="parameter",
            )
        return self.uploads.put(request, session)

    def _check_create_metadata(self, request: Request, metadata: dict[str, Any]) -> None:
        unknown = sorted(set(metadata) - _CREATE_FIELDS)
        if unknown:
            raise ApiError(
                403,
                "fieldNotWritable",
                f"The resource body includes fields which are not directly writable: {unknown[0]}",
            )
        parents = metadata.get("parents", [])
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise bad_request("parents must be a list of folder ids")
        for parent in parents:
            self.store.resolve_parent(request.user_email(), parent)

    def _create(
        self,
        request: Request,
        metadata: dict[str, Any],
        content: bytes | None,
        content_type: str | None,
    ) -> SandboxDriveFile:
        self._check_create_metadata(request, metadata)
        name = metadata.get("name") or "Untitled"
        if not isinstance(name, str):
            raise bad_request("name must be a string")
        mime_type = metadata.get("mimeType") or content_type or "application/octet-stream"
        if mime_type == FOLDER_MIME and content:
            raise bad_request("A folder cannot have content.")
        return self.store.create(
            request.user_email(),
            name=name,
            mime_type=str(mime_type),
            parents=list(metadata.get("parents", [])),
            content=content,
            metadata=metadata,
        )

    def _update(
        self, request: Request, metadata: dict[str, Any], content: bytes | None
    ) -> SandboxDriveFile:
        if "parents" in metadata:
            raise ApiError(
                403,
                "fieldNotWritable",
                "The parents field is not directly writable in update requests. "
                "Use the addParents and removeParents parameters instead.",
            )
        return self.store.update(
            request.user_email(),
            request.path_params["fileId"],
            metadata=metadata,
            add_parents=_id_list(request.param("addParents")),
            remove_parents=_id_list(request.param("removeParents")),
            content=content,
        )

    # --- permissions ------------------------------------------------------------------------

    def permissions_create(self, request: Request) -> Response:
        selection = self._selection(request, "permissions.create", DEFAULT_PERMISSION_FIELDS)
        body = request.json_body()
        kind = body.get("type")
        role = body.get("role")
        if not isinstance(kind, str) or not kind:
            raise ApiError(
                400,
                "required",
                "The permission type field is required.",
                location="permission.type",
                location_type="other",
            )
        if not isinstance(role, str) or not role:
            raise ApiError(
                400,
                "required",
                "The permission role field is required.",
                location="permission.role",
                location_type="other",
            )
        email = body.get("emailAddress")
        domain = body.get("domain")
        permission = self.store.add_permission(
            request.user_email(),
            request.path_params["fileId"],
            type=kind,
            role=role,
            email=email if isinstance(email, str) else None,
            domain=domain if isinstance(domain, str) else None,
        )
        return json_response(project(permission.resource(), selection))

    def permissions_list(self, request: Request) -> Response:
        selection = self._selection(request, "permissions.list", DEFAULT_PERMISSION_LIST_FIELDS)
        permissions = self.store.permissions(request.user_email(), request.path_params["fileId"])
        body = {"kind": "drive#permissionList", "permissions": [p.resource() for p in permissions]}
        return json_response(project(body, selection))

    def permissions_get(self, request: Request) -> Response:
        selection = self._selection(request, "permissions.get", DEFAULT_PERMISSION_FIELDS)
        wanted = request.path_params["permissionId"]
        for permission in self.store.permissions(
            request.user_email(), request.path_params["fileId"]
        ):
            if permission.id == wanted:
                return json_response(project(permission.resource(), selection))
        raise ApiError(
            404,
            "notFound",
            f"Permission not found: {wanted}.",
            location="permissionId",
            location_type="parameter",
        )

    def permissions_delete(self, request: Request) -> Response:
        self.store.remove_permission(
            request.user_email(), request.path_params["fileId"], request.path_params["permissionId"]
        )
        return empty_response()

    # --- changes and about ------------------------------------------------------------------

    def changes_start(self, request: Request) -> Response:
        selection = self._selection(request, "changes.getStartPageToken", None)
        body = {
            "kind": "drive#startPageToken",
            "startPageToken": self.store.changes.start_page_token(),
        }
        return json_response(project(body, selection))

    def changes_list(self, request: Request) -> Response:
        user = request.user_email()
        token = request.param("pageToken")
        if not token:
            raise required_parameter("pageToken")
        page_size = request.int_param("pageSize", 100, minimum=1, maximum=1000)
        include_removed = request.flag("includeRemoved", default=True)
        selection = self._selection(request, "changes.list", DEFAULT_CHANGE_FIELDS)
        in_drive = self._check_spaces(request)
        page = self.store.changes.read(user, token, page_size)
        cache: dict[str, bool] = {}
        changes: list[dict[str, Any]] = []
        for entry in page.entries if in_drive else []:
            file = self.store.visible_change(user, entry, cache)
            change: dict[str, Any] = {
                "kind": "drive#change",
                "changeType": "file",
                "type": "file",
                "time": entry.time,
                "removed": file is None,
                "fileId": entry.file_id,
            }
            if file is None:
                if not include_removed:
                    continue
            else:
                change["file"] = file_resource(self.store, file, user)
            changes.append(change)
        body: dict[str, Any] = {"kind": "drive#changeList", "changes": changes}
        if page.next_page_token is not None:
            body["nextPageToken"] = page.next_page_token
        if page.new_start_page_token is not None:
            body["newStartPageToken"] = page.new_start_page_token
        return json_response(project(body, selection))

    def about_get(self, request: Request) -> Response:
        if not request.param("fields"):
            raise ApiError(
                400,
                "required",
                "The 'fields' parameter is required for this method.",
                location="fields",
                location_type="parameter",
            )
        selection = self._selection(request, "about.get", None)
        user = request.user_email()
        usage = str(self.store.usage(user))
        body = {
            "kind": "drive#about",
            "user": user_resource(self.store, user, user),
            "storageQuota": {
                "limit": str(15 * 1024**3),
                "usage": usage,
                "usageInDrive": usage,
                "usageInDriveTrash": "0",
            },
            "maxUploadSize": str(5 * 1024**4),
            "appInstalled": False,
            "canCreateDrives": False,
        }
        return json_response(project(body, selection))


def _id_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _page_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


def _encode_page_token(key: str, offset: int) -> str:
    raw = json.dumps({"k": key, "o": offset}, separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_page_token(token: str | None, key: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = data["o"]
        if data["k"] != key or not isinstance(offset, int) or offset < 0:
            raise ValueError("mismatch")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid_parameter("pageToken") from None
    return offset


def _download(request: Request, file: SandboxDriveFile) -> Response:
    if file.is_folder:
        raise ApiError(
            403,
            "fileNotDownloadable",
            "Only files with binary content can be downloaded.",
            location="alt",
            location_type="parameter",
        )
    content = file.content or b""
    total = len(content)
    headers = {"Content-Type": file.mime_type, "Accept-Ranges": "bytes"}
    if file.md5:
        headers["ETag"] = f'"{file.md5}"'
    header = request.header("range")
    match = _RANGE_RE.fullmatch(header.strip()) if header else None
    if match is None or (not match.group(1) and not match.group(2)):
        return Response(200, content, headers, media=True)
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), total - 1) if last else total - 1
    else:
        start = max(total - int(last), 0)
        end = total - 1
    if total == 0 or start >= total or end < start:
        error = ApiError(416, "requestedRangeNotSatisfiable", "Request range not satisfiable")
        body = json.dumps(error.body()).encode("utf-8")
        return Response(
            416, body, {"Content-Type": "application/json", "Content-Range": f"bytes */{total}"}
        )
    headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    return Response(206, content[start : end + 1], headers, media=True)
