"""Gmail v1 REST handlers: send, get, list, threads and the profile of the calling user."""

from __future__ import annotations

import base64
import binascii
from email.message import EmailMessage
from typing import Any

from syft_monitors.google.discovery import discovery_schemas, response_schema
from syft_sandbox.apierror import ApiError, invalid_parameter
from syft_sandbox.fields import FieldsError, Selection, parse_fields, project, validate
from syft_sandbox.gmail_model import Mailboxes, StoredMessage
from syft_sandbox.gmail_query import parse_search
from syft_sandbox.routes import Route, route
from syft_sandbox.uploads import UploadSessions, parse_multipart_related
from syft_sandbox.wire import Request, Response, json_response

_FORMATS = frozenset({"minimal", "full", "raw", "metadata"})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def decode_raw(text: str) -> bytes:
    cleaned = text.strip().replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise ApiError(
            400, "invalidArgument", "Invalid value at 'message.raw' (TYPE_BYTES)"
        ) from None


class SandboxGmailApi:
    def __init__(self, mail: Mailboxes, uploads: UploadSessions) -> None:
        self.mail = mail
        self.uploads = uploads
        self._schemas = discovery_schemas("gmail")

    def routes(self) -> list[Route]:
        base = "/gmail/v1/users/{userId}"
        upload = "/upload/gmail/v1/users/{userId}"
        return [
            route("POST", f"{base}/messages/send", "gmail", "messages.send", self.messages_send),
            route("POST", f"{upload}/messages/send", "gmail", "messages.send", self.upload_send),
            route("PUT", f"{upload}/messages/send", "gmail", "messages.send", self.upload_chunk),
            route("GET", f"{base}/messages", "gmail", "messages.list", self.messages_list),
            route("GET", f"{base}/messages/{{id}}", "gmail", "messages.get", self.messages_get),
            route(
                "POST", f"{base}/messages/{{id}}/modify", "gmail", "messages.modify", self.modify
            ),
            route("GET", f"{base}/history", "gmail", "history.list", self.history_list),
            route("GET", f"{base}/threads", "gmail", "threads.list", self.threads_list),
            route("GET", f"{base}/threads/{{id}}", "gmail", "threads.get", self.threads_get),
            route("GET", f"{base}/profile", "gmail", "getProfile", self.get_profile),
        ]

    # --- helpers ----------------------------------------------------------------------------

    def _user(self, request: Request) -> str:
        user = request.user_email()
        wanted = request.path_params.get("userId", "me")
        if wanted != "me" and wanted.lower() != user:
            raise ApiError(403, "forbidden", "Delegation denied for the requested user.")
        return user

    def _selection(self, request: Request, method: str) -> Selection | None:
        text = request.param("fields")
        if not text:
            return None
        try:
            selection = parse_fields(text)
            schema = response_schema("gmail", f"gmail.users.{method}")
            if schema is not None:
                validate(selection, schema, self._schemas)
        except FieldsError as exc:
            raise invalid_parameter("fields", str(exc), reason="invalidParameter") from None
        return selection

    def _respond(self, request: Request, method: str, body: dict[str, Any]) -> Response:
        return json_response(project(body, self._selection(request, method)))

    def _message(self, request: Request, user: str, message_id: str) -> StoredMessage:
        found = self.mail.box(user).messages.get(message_id)
        if found is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        return found

    def _format(self, request: Request) -> str:
        fmt = request.param("format") or "full"
        if fmt not in _FORMATS:
            raise invalid_parameter("format")
        return fmt

    # --- messages ---------------------------------------------------------------------------

    def messages_send(self, request: Request) -> Response:
        user = self._user(request)
        self._selection(request, "messages.send")
        body = request.json_body()
        raw_text = body.get("raw")
        if not isinstance(raw_text, str) or not raw_text:
            raise ApiError(
                400,
                "invalidArgument",
                "'raw' RFC822 payload message string or uploading message via /upload/* URL"
                " required",
            )
        return self._send(request, user, decode_raw(raw_text), body.get("threadId"))

    def upload_send(self, request: Request) -> Response:
        user = self._user(request)
        self._selection(request, "messages.send")
        upload_type = request.param("uploadType")
        if upload_type == "media":
            return self._send(request, user, request.body, None)
        if upload_type == "multipart":
            parts = parse_multipart_related(request.header("content-type") or "", request.body)
            return self._send(request, user, parts.media, parts.metadata.get("threadId"))
        if upload_type == "resumable":
            thread_id = request.json_body().get("threadId")

            def finish(content: bytes, _content_type: str) -> Response:
                return self._send(request, user, content, thread_id)

            return self.uploads.start(
                request, api="gmail", operation="messages.send", finish=finish
            )
        raise invalid_parameter("uploadType")

    def upload_chunk(self, request: Request) -> Response:
        user = self._user(request)
        session = self.uploads.get(request.param("upload_id") or "")
        if session is None or session.user != user:
            raise ApiError(404, "notFound", "No such upload session.")
        return self.uploads.put(request, session)

    def _send(self, request: Request, user: str, raw: bytes, thread_id: object) -> Response:
        if thread_id is not None and not isinstance(thread_id, str):
            raise invalid_parameter("threadId")
        stored = self.mail.send(user, raw, thread_id or None)
        return self._respond(
            request,
            "messages.send",
            {"id": stored.id, "threadId": stored.thread_id, "labelIds": list(stored.label_ids)},
        )

    def messages_get(self, request: Request) -> Response:
        user = self._user(request)
        message = self._message(request, user, request.path_params["id"])
        resource = message_resource(
            message, self._format(request), request.params("metadataHeaders")
        )
        return self._respond(request, "messages.get", resource)

    def messages_list(self, request: Request) -> Response:
        user = self._user(request)
        found = self._search(request, user)
        page, token = _paginate(request, found)
        body: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if token is not None:
            body["nextPageToken"] = token
        return self._respond(request, "messages.list", body)

    def _search(self, request: Request, user: str) -> list[StoredMessage]:
        return self.mail.search(
            user,
            parse_search(request.param("q") or ""),
            request.params("labelIds"),
            request.flag("includeSpamTrash"),
        )

    def modify(self, request: Request) -> Response:
        user = self._user(request)
        body = request.json_body()
        add, remove = body.get("addLabelIds") or [], body.get("removeLabelIds") or []
        if not all(isinstance(label, str) for label in [*add, *remove]):
            raise invalid_parameter("addLabelIds")
        stored = self.mail.change_labels(user, request.path_params["id"], add, remove)
        return self._respond(request, "messages.modify", message_resource(stored, "minimal", []))

    # --- history ----------------------------------------------------------------------------

    def history_list(self, request: Request) -> Response:
        """`users.history.list`: the mailbox's changes after `startHistoryId`, oldest first.

        Like Gmail: 404 for an id that is too old (`Mailboxes.expire_history`), `historyTypes`
        and `labelId` filter, `historyId` is the mailbox's current record, messages carry only
        their id, thread id and (for added ones) labels.
        """
        user = self._user(request)
        start_text = request.param("startHistoryId")
        if not start_text:
            raise ApiError(400, "invalidArgument", "Missing required parameter: startHistoryId")
        if not start_text.isdigit():
            raise invalid_parameter("startHistoryId")
        types = set(request.params("historyTypes"))
        unknown = types - {"messageAdded", "messageDeleted", "labelAdded", "labelRemoved"}
        if unknown:
            raise invalid_parameter("historyTypes")
        label = request.param("labelId")
        records = self.mail.history_since(user, int(start_text))
        if records is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        box = self.mail.box(user)
        entries: list[dict[str, Any]] = []
        for record in records:
            if types and record.kind not in types:
                continue
            message = box.messages[record.message_id]
            if label is not None and label not in message.label_ids:
                continue
            ref = {"id": message.id, "threadId": message.thread_id}
            entry: dict[str, Any] = {"id": str(record.id), "messages": [ref]}
            if record.kind == "messageAdded":
                entry["messagesAdded"] = [{"message": {**ref, "labelIds": list(message.label_ids)}}]
            else:
                field = "labelsAdded" if record.kind == "labelAdded" else "labelsRemoved"
                entry[field] = [{"message": ref, "labelIds": list(record.label_ids)}]
            entries.append(entry)
        page, token = _paginate(request, entries)
        body: dict[str, Any] = {"historyId": str(self.mail.history_id())}
        if page:
            body["history"] = page
        if token is not None:
            body["nextPageToken"] = token
        return self._respond(request, "history.list", body)

    # --- threads and profile ----------------------------------------------------------------

    def threads_list(self, request: Request) -> Response:
        user = self._user(request)
        box = self.mail.box(user)
        seen: dict[str, StoredMessage] = {}
        for message in self._search(request, user):
            seen.setdefault(message.thread_id, message)
        threads = list(seen.values())
        page, token = _paginate(request, threads)
        body: dict[str, Any] = {"resultSizeEstimate": len(threads)}
        if page:
            body["threads"] = [
                {
                    "id": m.thread_id,
                    "snippet": m.snippet(),
                    "historyId": str(
                        max(box.messages[i].history_id for i in box.threads[m.thread_id])
                    ),
                }
                for m in page
            ]
        if token is not None:
            body["nextPageToken"] = token
        return self._respond(request, "threads.list", body)

    def threads_get(self, request: Request) -> Response:
        user = self._user(request)
        box = self.mail.box(user)
        thread_id = request.path_params["id"]
        ids = box.threads.get(thread_id)
        if not ids:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        fmt = self._format(request)
        if fmt == "raw":
            raise invalid_parameter("format")
        messages = [
            message_resource(box.messages[i], fmt, request.params("metadataHeaders")) for i in ids
        ]
        body = {
            "id": thread_id,
            "historyId": str(max(box.messages[i].history_id for i in ids)),
            "messages": messages,
        }
        return self._respond(request, "threads.get", body)

    def get_profile(self, request: Request) -> Response:
        user = self._user(request)
        box = self.mail.box(user)
        body = {
            "emailAddress": user,
            "messagesTotal": len(box.messages),
            "threadsTotal": len(box.threads),
            "historyId": str(self.mail.history_id()),
        }
        return self._respond(request, "getProfile", body)


def _paginate(request: Request, items: list[Any]) -> tuple[list[Any], str | None]:
    size = request.int_param("maxResults", 100, minimum=1, maximum=500)
    token = request.param("pageToken")
    offset = 0
    if token:
        if not token.isdigit():
            raise invalid_parameter("pageToken")
        offset = int(token)
    page = items[offset : offset + size]
    return page, (str(offset + size) if offset + size < len(items) else None)


def message_resource(
    message: StoredMessage, fmt: str, metadata_headers: list[str]
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": message.snippet(),
        "sizeEstimate": len(message.raw),
        "historyId": str(message.history_id),
        "internalDate": str(message.internal_date),
    }
    if fmt == "raw":
        resource["raw"] = b64url(message.raw)
    elif fmt == "metadata":
        wanted = {h.lower() for h in metadata_headers}
        headers = [h for h in _headers(message.parsed) if not wanted or h["name"].lower() in wanted]
        resource["payload"] = {"mimeType": message.parsed.get_content_type(), "headers": headers}
    elif fmt == "full":
        resource["payload"] = _part(message.parsed, "")
    return resource


def _headers(part: EmailMessage) -> list[dict[str, str]]:
    return [{"name": name, "value": str(value)} for name, value in part.items()]


def _part(part: EmailMessage, part_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": _headers(part),
    }
    if part.is_multipart():
        resource["body"] = {"size": 0}
        resource["parts"] = [
            _part(sub, f"{part_id}.{index}" if part_id else str(index))
            for index, sub in enumerate(part.iter_parts())
            if isinstance(sub, EmailMessage)
        ]
    else:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        resource["body"] = {"size": len(data), "data": b64url(data)}
    return resource
