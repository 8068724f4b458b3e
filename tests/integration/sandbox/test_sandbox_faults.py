"""Auth failures, token refresh and injected faults, as `syft_monitors.google.retry` meets them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httplib2
import pytest
from googleapiclient.http import MediaIoBaseUpload
from sandbox_testkit import DO

from syft_monitors.errors import CredentialsError, QuotaError, ServiceError
from syft_monitors.google.clients import build_drive_service, load_credentials
from syft_monitors.google.retry import RetryPolicy, download, execute
from syft_sandbox import FaultKind, FaultRule, Sandbox, SandboxServer


class Recorder:
    """A fake sleep and an observer: records instead of waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.outcomes: list[tuple[str, str, str]] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def observe(self, api: str, method: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.outcomes.append((api, method, outcome))

    def policy(self, max_attempts: int = 5) -> RetryPolicy:
        return RetryPolicy(max_attempts=max_attempts, sleep=self.sleep, random=lambda: 0.5)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def run_list(drive: Any, rec: Recorder, max_attempts: int = 5) -> Any:
    return execute(
        drive.files().list(fields="files(id)"),
        api="drive",
        method="files.list",
        policy=rec.policy(max_attempts),
        observer=rec.observe,
    )


def test_unknown_token_is_401_and_credentials_error(
    sandbox: Sandbox, make_client: Callable[..., Any], rec: Recorder
) -> None:
    drive = make_client("drive", DO, token="not-a-real-token")
    mark = sandbox.mark()
    with pytest.raises(CredentialsError) as caught:
        run_list(drive, rec)
    assert "not-a-real-token" not in str(caught.value)
    assert rec.outcomes == [("drive", "files.list", "auth_error")]
    assert rec.sleeps == []
    [record] = sandbox.requests(mark)
    assert (record.status, record.user) == (401, None)


def test_error_body_has_google_shape(sandbox: Sandbox, server: SandboxServer) -> None:
    http = httplib2.Http()
    response, content = http.request(server.url + "drive/v3/files", "GET")
    http.close()
    assert response.status == 401
    error = json.loads(content)["error"]
    assert error["code"] == 401
    assert set(error["errors"][0]) >= {"domain", "reason", "location", "locationType", "message"}


def test_token_file_refreshes_against_sandbox_and_revocation_is_credentials_error(
    sandbox: Sandbox, server: SandboxServer, tmp_path: Path, rec: Recorder
) -> None:
    paths = server.write_token_files(tmp_path)
    assert (paths[DO].stat().st_mode & 0o777) == 0o600
    credentials = load_credentials(
        paths[DO], ["https://www.googleapis.com/auth/drive"], api_root=server.url
    )
    drive = build_drive_service(credentials, api_root=server.url, timeout=10)
    try:
        run_list(drive, rec)
        sandbox.expire_access_tokens(DO)
        mark = sandbox.mark()
        run_list(drive, rec)  # 401 -> refresh at /token -> retried by the auth layer
        assert [(r.operation, r.status) for r in sandbox.requests(mark)] == [
            ("files.list", 401),
            ("token", 200),
            ("files.list", 200),
        ]
        sandbox.revoke_user(DO)
        with pytest.raises(CredentialsError):
            run_list(drive, rec)
        assert rec.outcomes[-1] == ("drive", "files.list", "auth_error")
    finally:
        drive.close()
    token_text = paths[DO].read_text()
    logged = json.dumps([r.query for r in sandbox.requests()])
    for secret in (json.loads(token_text)["token"], json.loads(token_text)["refresh_token"]):
        assert secret not in logged


def test_429_retry_after_is_honoured_then_succeeds(
    sandbox: Sandbox, drive: Any, rec: Recorder
) -> None:
    sandbox.faults.add(FaultRule.rate_limited(retry_after=7, method="files.list", times=2))
    reply = run_list(drive, rec)
    assert reply == {"files": []}
    assert rec.sleeps == [7.0, 7.0]
    assert [o for _, _, o in rec.outcomes] == ["rate_limited", "rate_limited", "ok"]


def test_retry_after_is_capped(sandbox: Sandbox, drive: Any, rec: Recorder) -> None:
    sandbox.faults.add(FaultRule.rate_limited(retry_after=3600, times=1))
    run_list(drive, rec)
    assert rec.sleeps == [30.0]


def test_gives_up_after_max_attempts(sandbox: Sandbox, drive: Any, rec: Recorder) -> None:
    handle = sandbox.faults.add(FaultRule.quota_403(reason="userRateLimitExceeded"))
    with pytest.raises(QuotaError) as quota:
        run_list(drive, rec)
    assert quota.value.status == 403
    assert rec.sleeps == [1.0, 2.0, 4.0, 8.0]  # exponential, jitter neutral at random()=0.5
    assert len(rec.outcomes) == 5
    sandbox.faults.remove(handle)
    sandbox.faults.add(FaultRule.server_error(503))
    with pytest.raises(ServiceError) as server_error:
        run_list(drive, rec, max_attempts=3)
    assert server_error.value.status == 503
    assert server_error.value.retryable
    assert not isinstance(server_error.value, QuotaError)


def test_client_errors_are_not_retried(sandbox: Sandbox, drive: Any, rec: Recorder) -> None:
    with pytest.raises(ServiceError) as caught:
        execute(
            drive.files().get(fileId="missing"),
            api="drive",
            method="files.get",
            policy=rec.policy(),
            observer=rec.observe,
        )
    assert caught.value.status == 404
    assert not caught.value.retryable
    assert rec.sleeps == []
    assert rec.outcomes == [("drive", "files.get", "client_error")]


def test_connection_reset_is_recovered(sandbox: Sandbox, drive: Any, rec: Recorder) -> None:
    # Each reset is a bare RST, which httplib2 does not re-send by itself: our loop retries.
    handle = sandbox.faults.add(FaultRule.reset(method="files.list", times=2))
    assert run_list(drive, rec) == {"files": []}
    assert sandbox.faults.hits(handle) == 2
    outcomes = [o for _, _, o in rec.outcomes]
    assert "transport_error" in outcomes
    assert outcomes[-1] == "ok"
    resets = [r for r in sandbox.requests(api="drive") if r.fault == "reset"]
    assert len(resets) == 2
    assert all(r.status is None for r in resets)


def test_truncated_download_is_retried_from_the_same_offset(
    sandbox: Sandbox, drive: Any, rec: Recorder
) -> None:
    data = bytes(range(256)) * 64
    file_id = sandbox.create_file(DO, "blob", data)
    sandbox.faults.add(FaultRule.truncated(every_nth=2, times=1))
    content = download(
        drive.files().get_media(fileId=file_id),
        chunksize=4096,
        policy=rec.policy(),
        observer=rec.observe,
    )
    assert content == data
    assert ("drive", "files.get_media", "transport_error") in rec.outcomes


def test_resumable_upload_survives_a_reset_chunk(
    sandbox: Sandbox, drive: Any, rec: Recorder
) -> None:
    data = bytes(range(199)) * 4000  # ~777 KiB, 4 chunks
    # After the first chunk, the next two PUTs (a chunk, then the client's status query) are
    # reset; the session keeps what it has and the upload resumes from there.
    sandbox.faults.add(FaultRule.reset(method="files.create", times=2))
    sandbox.faults.disable()
    media = MediaIoBaseUpload(
        io.BytesIO(data), mimetype="application/octet-stream", resumable=True, chunksize=256 * 1024
    )
    request = drive.files().create(body={"name": "big"}, media_body=media, fields="id,size")
    status, body = request.next_chunk()  # initiation + first chunk
    assert body is None
    assert status.resumable_progress == 256 * 1024
    sandbox.faults.enable()
    created = execute(
        request, api="drive", method="files.create", policy=rec.policy(), observer=rec.observe
    )
    assert created["size"] == str(len(data))
    assert sandbox.content(created["id"]) == data
    assert "transport_error" in [o for _, _, o in rec.outcomes]


def test_slow_answer_times_out_then_retry_succeeds(
    sandbox: Sandbox, make_client: Callable[..., Any], rec: Recorder
) -> None:
    drive = make_client("drive", DO, timeout=0.5)
    sandbox.faults.add(FaultRule.slow(2.0, method="files.list", times=1))
    assert run_list(drive, rec) == {"files": []}
    assert [o for _, _, o in rec.outcomes] == ["transport_error", "ok"]


def test_probabilistic_faults_are_reproducible_with_a_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        world = Sandbox(seed=seed)
        world.faults.add(FaultRule.server_error(500, probability=0.5))
        return [
            world.faults.decide("drive", "files.list", None, media=False) is not None
            for _ in range(40)
        ]

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 5 < sum(pattern(3)) < 35


def test_fault_rule_validation_and_string_kinds() -> None:
    assert FaultRule("reset").kind is FaultKind.RESET
    assert FaultRule.quota_403().effective_reason == "rateLimitExceeded"
    for bad in (
        {"probability": 1.5},
        {"every_nth": 0},
        {"times": 0},
        {"status": 200},
        {"delay": -1.0},
    ):
        with pytest.raises(ValueError, match="must"):
            FaultRule(FaultKind.STATUS, **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid"):
        FaultRule("explode")


def test_every_nth_and_disable(sandbox: Sandbox, drive: Any) -> None:
    handle = sandbox.faults.add(FaultRule.server_error(500, method="files.list", every_nth=3))
    statuses = []
    for index in range(6):
        if index == 4:
            sandbox.faults.disable()
        try:
            drive.files().list().execute()
            statuses.append(200)
        except Exception as exc:
            statuses.append(int(exc.resp.status))  # type: ignore[attr-defined]
    assert statuses == [200, 200, 500, 200, 200, 200]
    assert sandbox.faults.hits(handle) == 1
