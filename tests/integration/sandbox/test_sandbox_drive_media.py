"""Uploads (media, LF multipart, resumable) and ranged downloads through the official client."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload, MediaIoBaseUpload
from sandbox_testkit import DO, reason_of, status_of, upload

from syft_sandbox import Sandbox


def download(drive: Any, file_id: str, chunksize: int) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    downloader = MediaIoBaseDownload(
        buffer, drive.files().get_media(fileId=file_id), chunksize=chunksize
    )
    chunks = 0
    done = False
    while not done:
        _, done = downloader.next_chunk()
        chunks += 1
    return buffer.getvalue(), chunks


def test_range_download_in_small_chunks(sandbox: Sandbox, drive: Any) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes
    file_id = sandbox.create_file(DO, "blob.bin", data)
    mark = sandbox.mark()
    content, chunks = download(drive, file_id, chunksize=3000)
    assert content == data
    assert chunks == 4
    statuses = [r.status for r in sandbox.requests(mark, method="files.get_media")]
    assert statuses == [206, 206, 206, 206]


def test_download_of_empty_file_and_of_a_folder(sandbox: Sandbox, drive: Any) -> None:
    empty = sandbox.create_file(DO, "empty", b"")
    assert download(drive, empty, chunksize=1024)[0] == b""
    assert drive.files().get_media(fileId=empty).execute() == b""
    folder_id = sandbox.create_folder(DO, "dir")
    with pytest.raises(HttpError) as caught:
        drive.files().get_media(fileId=folder_id).execute()
    assert status_of(caught.value) == 403
    assert reason_of(caught.value) == "fileNotDownloadable"


def test_multipart_upload_keeps_binary_content_exactly(sandbox: Sandbox, drive: Any) -> None:
    # Content ending in CR and containing LF/CRLF and boundary-like text must survive LF framing.
    data = b"\x1f\x8b\r\n--===============\nline\r\n\x00\xff\r"
    parent = sandbox.create_folder(DO, "inbox")
    mark = sandbox.mark()
    file_id = upload(drive, "msgv2_1.tar.gz", parent, data)
    [record] = sandbox.requests(mark)
    assert record.query["uploadType"] == ("multipart",)
    assert sandbox.content(file_id) == data
    info = drive.files().get(fileId=file_id, fields="name,parents,size,md5Checksum").execute()
    assert info == {
        "name": "msgv2_1.tar.gz",
        "parents": [parent],
        "size": str(len(data)),
        "md5Checksum": hashlib.md5(data).hexdigest(),
    }


def test_media_only_upload(sandbox: Sandbox, drive: Any) -> None:
    media = MediaIoBaseUpload(io.BytesIO(b"plain"), mimetype="text/plain", resumable=False)
    created = drive.files().create(media_body=media, fields="id,name,mimeType").execute()
    assert created["name"] == "Untitled"
    assert created["mimeType"] == "text/plain"
    assert sandbox.content(created["id"]) == b"plain"


def test_resumable_upload_in_256k_chunks_remembers_fields(sandbox: Sandbox, drive: Any) -> None:
    data = bytes(range(251)) * 2600  # ~640 KiB: three chunks of 256 KiB
    parent = sandbox.create_folder(DO, "inbox")
    media = MediaIoBaseUpload(
        io.BytesIO(data), mimetype="application/octet-stream", resumable=True, chunksize=256 * 1024
    )
    request = drive.files().create(
        body={"name": "big.tar.gz", "parents": [parent]}, media_body=media, fields="id, parents"
    )
    mark = sandbox.mark()
    response = None
    progress = []
    while response is None:
        status, response = request.next_chunk()
        if status is not None:
            progress.append(status.resumable_progress)
    assert set(response) == {"id", "parents"}
    assert response["parents"] == [parent]
    assert sandbox.content(response["id"]) == data
    assert progress == [256 * 1024, 512 * 1024]
    statuses = [(r.method, r.status) for r in sandbox.requests(mark)]
    assert statuses == [("POST", 200), ("PUT", 308), ("PUT", 308), ("PUT", 200)]


def test_resumable_upload_via_execute(sandbox: Sandbox, drive: Any) -> None:
    data = b"z" * (600 * 1024)
    media = MediaIoBaseUpload(
        io.BytesIO(data), mimetype="application/octet-stream", resumable=True, chunksize=256 * 1024
    )
    created = drive.files().create(body={"name": "z"}, media_body=media, fields="id,size").execute()
    assert created["size"] == str(len(data))


def test_media_update_and_multipart_update(sandbox: Sandbox, drive: Any) -> None:
    file_id = sandbox.create_file(DO, "SYFT_peers.json", b"{}", mime_type="text/plain")
    media = MediaIoBaseUpload(io.BytesIO(b'{"a": 1}'), mimetype="text/plain", resumable=False)
    drive.files().update(fileId=file_id, media_body=media, fields="id").execute()
    assert sandbox.content(file_id) == b'{"a": 1}'
    media = MediaIoBaseUpload(io.BytesIO(b"v3"), mimetype="text/plain", resumable=False)
    reply = (
        drive.files()
        .update(fileId=file_id, body={"name": "renamed.json"}, media_body=media, fields="name,size")
        .execute()
    )
    assert reply == {"name": "renamed.json", "size": "2"}


def test_create_in_missing_or_unwritable_parent(
    sandbox: Sandbox, drive: Any, drive_ds: Any
) -> None:
    with pytest.raises(HttpError) as caught:
        upload(drive, "x", "no-such-folder", b"1")
    assert status_of(caught.value) == 404
    shared_read_only = sandbox.create_folder(DO, "readonly")
    sandbox.share(DO, shared_read_only, "ds@example.org", role="reader")
    with pytest.raises(HttpError) as caught:
        upload(drive_ds, "x", shared_read_only, b"1")
    assert status_of(caught.value) == 403
    assert reason_of(caught.value) == "insufficientFilePermissions"
