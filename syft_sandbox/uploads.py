"""Media uploads: `multipart/related` bodies (LF or CRLF framing) and resumable sessions.

The multipart parser works on bytes and takes its line ending from the first delimiter line,
so binary content that happens to end in CR survives LF framing (the email package would
strip it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import HeaderParser
from typing import Any

from syft_sandbox.apierror import ApiError, bad_request
from syft_sandbox.wire import Request, Response

_BOUNDARY_RE = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


@dataclass(frozen=True)
class MultipartUpload:
    metadata: dict[str, Any]
    media: bytes
    media_type: str


def parse_multipart_related(content_type: str, body: bytes) -> MultipartUpload:
    match = _BOUNDARY_RE.search(content_type)
    if not content_type.lower().startswith("multipart/related") or match is None:
        raise bad_request("Multipart upload needs a multipart/related body with a boundary.")
    boundary = (match.group(1) or match.group(2)).encode("latin-1")
    delimiter = b"--" + boundary
    start = body.find(delimiter)
    if start < 0 or (start > 0 and body[start - 1 : start] != b"\n"):
        raise bad_request("Multipart body has no opening boundary.")
    after = start + len(delimiter)
    newline = b"\r\n" if body[after : after + 2] == b"\r\n" else b"\n"
    if body[after : after + len(newline)] != newline:
        raise bad_request("Malformed multipart boundary line.")
    separator = newline + delimiter
    parts: list[bytes] = []
    position = after + len(newline)
    while True:
        end = body.find(separator, position)
        if end < 0:
            raise bad_request("Multipart body has no closing boundary.")
        parts.append(body[position:end])
        position = end + len(separator)
        if body[position : position + 2] == b"--":
            break
        if body[position : position + len(newline)] != newline:
            raise bad_request("Malformed multipart boundary line.")
        position += len(newline)
    if len(parts) != 2:
        raise bad_request("Multipart upload must have exactly a metadata part and a media part.")
    _meta_headers, meta_body = _split_part(parts[0], newline)
    media_headers, media_body = _split_part(parts[1], newline)
    try:
        metadata = json.loads(meta_body) if meta_body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "parseError", "Parse Error") from None
    if not isinstance(metadata, dict):
        raise ApiError(400, "parseError", "Parse Error")
    if media_headers.get("content-transfer-encoding", "").lower() == "base64":
        try:
            media_body = base64.b64decode(media_body)
        except binascii.Error:
            raise bad_request("Media part is not valid base64.") from None
    media_type = media_headers.get("content-type", "application/octet-stream")
    return MultipartUpload(metadata, media_body, media_type)


def _split_part(part: bytes, newline: bytes) -> tuple[dict[str, str], bytes]:
    blank = newline + newline
    if part.startswith(newline):  # a part without headers
        return {}, part[len(newline) :]
    index = part.find(blank)
    if index < 0:
        raise bad_request("Multipart part has no header section.")
    header_text = part[:index].decode("latin-1")
    parsed = HeaderParser().parsestr(header_text)
    headers = {key.lower(): str(value) for key, value in parsed.items()}
    return headers, part[index + len(blank) :]


Finisher = Callable[[bytes, str], Response]


@dataclass
class UploadSession:
    id: str
    user: str
    api: str
    operation: str
    content_type: str
    total: int | None
    finish: Finisher  # called once with the full content and its MIME type
    data: bytearray = field(default_factory=bytearray)
    result: Response | None = None


#: Sessions kept at most; the oldest are forgotten first (clients finish in seconds).
MAX_SESSIONS = 20_000


class UploadSessions:
    """Open resumable uploads. Not thread-safe by itself: used under the sandbox lock."""

    def __init__(self) -> None:
        self._sessions: dict[str, UploadSession] = {}

    def start(self, request: Request, *, api: str, operation: str, finish: Finisher) -> Response:
        """Answer the initiating request: 200 with the absolute session URI in Location."""
        declared = request.header("x-upload-content-length")
        total = int(declared) if declared and declared.isdigit() else None
        content_type = request.header("x-upload-content-type") or "application/octet-stream"
        session = UploadSession(
            id=secrets.token_urlsafe(18),
            user=request.user_email(),
            api=api,
            operation=operation,
            content_type=content_type,
            total=total,
            finish=finish,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        path = request.path.lstrip("/")
        location = f"{request.base_url}{path}?uploadType=resumable&upload_id={session.id}"
        return Response(200, b"", {"Location": location, "X-GUploader-UploadID": session.id})

    def get(self, upload_id: str) -> UploadSession | None:
        return self._sessions.get(upload_id)

    def put(self, request: Request, session: UploadSession) -> Response:
        """One PUT: a chunk (`bytes a-b/total`), a status query (`bytes */total`) or everything."""
        if session.result is not None:
            return session.result
        header = request.header("content-range")
        if header is None:
            session.data[:] = request.body
            return self._complete(session)
        match = _CONTENT_RANGE_RE.fullmatch(header.strip())
        if match is None:
            raise bad_request("Invalid Content-Range header.")
        first, last, total_text = match.groups()
        total = None if total_text == "*" else int(total_text)
        if total is not None:
            session.total = total
        if first is not None and last is not None:
            start, end = int(first), int(last)
            if end < start or end - start + 1 != len(request.body):
                raise bad_request("Content-Range does not match the body length.")
            if start > len(session.data):
                raise bad_request("Chunk starts beyond the bytes received so far.")
            # A chunk re-sent after a lost response overlaps what we have: keep the new tail only.
            session.data[start:] = request.body
        if session.total is not None and len(session.data) >= session.total:
            del session.data[session.total :]
            return self._complete(session)
        headers = {}
        if session.data:
            headers["Range"] = f"bytes=0-{len(session.data) - 1}"
        return Response(308, b"", headers)

    def _complete(self, session: UploadSession) -> Response:
        result = session.finish(bytes(session.data), session.content_type)
        if result.status < 300:
            session.result = result
            session.data = bytearray()
        return result
