"""The HTTP layer: concurrency, raw CRLF multipart, long queries, unknown routes, shutdown."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httplib2
import pytest
from sandbox_testkit import DO, names

from syft_monitors.errors import ServiceError
from syft_monitors.google.retry import RetryPolicy, execute
from syft_sandbox import Sandbox, SandboxServer


def test_concurrent_clients_on_many_threads(
    sandbox: Sandbox, make_client: Callable[..., Any]
) -> None:
    parent = sandbox.create_folder(DO, "busy")
    clients = [make_client("drive", DO) for _ in range(8)]  # one client per thread
    errors: list[BaseException] = []

    def work(index: int, drive: Any) -> None:
        try:
            for n in range(10):
                drive.files().create(
                    body={"name": f"t{index}_{n}", "parents": [parent]}, fields="id"
                ).execute()
                drive.files().list(q=f"'{parent}' in parents", fields="files(id)").execute()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(sandbox.find(parent=parent)) == 80


def test_crlf_multipart_from_a_raw_client(sandbox: Sandbox, server: SandboxServer) -> None:
    token = sandbox.access_token(DO)
    media = b"line1\r\nline2\r\n"
    body = (
        b"--XYZ\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
        b'{"name": "crlf.txt"}\r\n'
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\n" + media + b"\r\n--XYZ--\r\n"
    )
    http = httplib2.Http()
    try:
        response, content = http.request(
            server.url + "upload/drive/v3/files?uploadType=multipart&fields=id,name,mimeType",
            "POST",
            body=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": 'multipart/related; boundary="XYZ"',
            },
        )
    finally:
        http.close()
    assert response.status == 200
    created = json.loads(content)
    assert (created["name"], created["mimeType"]) == ("crlf.txt", "text/plain")
    assert sandbox.content(created["id"]) == media


def test_long_query_sent_as_method_override(sandbox: Sandbox, drive: Any) -> None:
    wanted = sandbox.create_file(DO, "needle", b"")
    q = " or ".join(f"name = 'decoy-{i:04d}'" for i in range(150)) + " or name = 'needle'"
    assert len(q) > 2000
    mark = sandbox.mark()
    reply = drive.files().list(q=q, fields="files(id,name)").execute()
    assert reply == {"files": [{"id": wanted, "name": "needle"}]}
    [record] = sandbox.requests(mark)
    assert (record.method, record.operation) == ("GET", "files.list")


def test_unknown_route_is_a_google_style_404(sandbox: Sandbox, server: SandboxServer) -> None:
    http = httplib2.Http()
    try:
        response, content = http.request(server.url + "drive/v2/files", "GET")
    finally:
        http.close()
    assert response.status == 404
    assert json.loads(content)["error"]["code"] == 404
    assert sandbox.requests()[-1].api == "unknown"


def test_stopped_server_refuses_connections(
    sandbox: Sandbox, drive: Any, server: SandboxServer
) -> None:
    execute(drive.files().list(), api="drive", method="files.list")  # keep-alive connection open
    server.stop()
    policy = RetryPolicy(max_attempts=2, sleep=lambda s: None)
    with pytest.raises(ServiceError) as caught:
        execute(drive.files().list(), api="drive", method="files.list", policy=policy)
    assert caught.value.status is None
    assert caught.value.retryable


def test_request_log_counts_and_names(sandbox: Sandbox, drive: Any) -> None:
    mark = sandbox.mark()
    drive.files().list().execute()
    drive.changes().getStartPageToken().execute()
    operations = [(r.api, r.operation, r.status, r.user) for r in sandbox.requests(mark)]
    assert operations == [
        ("drive", "files.list", 200, DO),
        ("drive", "changes.getStartPageToken", 200, DO),
    ]
    assert sandbox.log.counts()[("drive", "files.list", 200)] >= 1
    assert names(drive.files().list(q="name = 'none'").execute()) == []
