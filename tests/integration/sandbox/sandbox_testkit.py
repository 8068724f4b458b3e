"""Constants and small helpers shared by the sandbox tests."""

from __future__ import annotations

import io
import json
from typing import Any

from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

DO = "do@example.org"
DS = "ds@example.org"
FOLDER = "application/vnd.google-apps.folder"


def status_of(error: HttpError) -> int:
    return int(error.resp.status)


def reason_of(error: HttpError) -> str:
    return str(json.loads(error.content)["error"]["errors"][0]["reason"])


def location_of(error: HttpError) -> str | None:
    item = json.loads(error.content)["error"]["errors"][0]
    return item.get("location")


def folder(drive: Any, name: str, parent: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "mimeType": FOLDER}
    if parent:
        body["parents"] = [parent]
    return str(drive.files().create(body=body, fields="id").execute()["id"])


def upload(drive: Any, name: str, parent: str, data: bytes, *, resumable: bool = False) -> str:
    media = MediaIoBaseUpload(
        io.BytesIO(data), mimetype="application/octet-stream", resumable=resumable
    )
    created = (
        drive.files()
        .create(body={"name": name, "parents": [parent]}, media_body=media, fields="id")
        .execute()
    )
    return str(created["id"])


def names(reply: dict[str, Any]) -> list[str]:
    return [f["name"] for f in reply.get("files", [])]
