"""Classification of Google/transport failures and their mapping onto our exceptions."""

from __future__ import annotations

import json
from email.utils import formatdate

import google.auth.exceptions
import httplib2
import pytest
from googleapiclient.errors import HttpError

from syft_monitors.errors import CredentialsError, MissingScopeError, QuotaError, ServiceError
from syft_monitors.google.errors import classify, map_exception, parse_retry_after, to_error


def http_error(status: int, reason: str | None = None, retry_after: str | None = None) -> HttpError:
    headers = {"status": str(status)}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    body: dict[str, object] = {"error": {"code": status, "message": f"failure {status}"}}
    if reason is not None:
        body["error"]["errors"] = [{"reason": reason, "domain": "global"}]  # type: ignore[index]
    return HttpError(httplib2.Response(headers), json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status", "reason", "outcome", "retryable"),
    [
        (429, "rateLimitExceeded", "rate_limited", True),
        (403, "userRateLimitExceeded", "rate_limited", True),
        (403, "rateLimitExceeded", "rate_limited", True),
        (403, "dailyLimitExceeded", "rate_limited", False),
        (403, "insufficientFilePermissions", "client_error", False),
        (500, "backendError", "server_error", True),
        (503, None, "server_error", True),
        (400, "invalid", "client_error", False),
        (404, "notFound", "client_error", False),
        (401, "authError", "auth_error", False),
    ],
)
def test_http_errors(status: int, reason: str | None, outcome: str, retryable: bool) -> None:
    failure = classify(http_error(status, reason))
    assert failure is not None
    assert (failure.outcome, failure.retryable, failure.status) == (outcome, retryable, status)
    assert failure.reason == reason


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(104, "reset"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError("timed out"),
        httplib2.ServerNotFoundError("no dns"),
        google.auth.exceptions.TransportError("offline"),
    ],
)
def test_transport_errors_are_retryable(exc: BaseException) -> None:
    failure = classify(exc)
    assert failure is not None
    assert (failure.outcome, failure.retryable) == ("transport_error", True)
    error = to_error(failure, api="drive", method="files.list")
    assert type(error) is ServiceError
    assert error.retryable
    assert "offline" in str(error)


def test_refresh_error_is_credentials_error() -> None:
    failure = classify(google.auth.exceptions.RefreshError("invalid_grant: revoked sbx-at-SECRET"))
    assert failure is not None
    assert failure.outcome == "auth_error"
    error = to_error(failure, api="gmail", method="messages.send")
    assert isinstance(error, CredentialsError)
    assert "SECRET" not in str(error)
    assert error.hint


def test_unrelated_exceptions_are_not_classified() -> None:
    assert classify(ValueError("bug")) is None
    assert map_exception(KeyError("x"), api="drive", method="files.list") is None


def test_quota_error_carries_retry_after_and_status() -> None:
    error = map_exception(http_error(429, "rateLimitExceeded", "12"), api="drive", method="x")
    assert isinstance(error, QuotaError)
    assert (error.status, error.retry_after, error.retryable) == (429, 12.0, True)


def test_server_message_is_rendered_safely() -> None:
    nasty = HttpError(
        httplib2.Response({"status": "400"}),
        json.dumps({"error": {"message": "bad\u202e\nthing" + "x" * 300}}).encode(),
    )
    error = map_exception(nasty, api="drive", method="files.list")
    assert error is not None
    text = str(error)
    assert "\n" not in text
    assert "\u202e" not in text
    assert len(text) < 250


def test_non_json_error_body() -> None:
    failure = classify(HttpError(httplib2.Response({"status": "502"}), b"<html>bad gateway</html>"))
    assert failure is not None
    assert (failure.outcome, failure.reason) == ("server_error", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90.0)
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0


def test_missing_scope_is_its_own_error_in_both_error_shapes() -> None:
    v1 = http_error(403, "insufficientPermissions")
    # The newer shape: no `errors` list, only status and message.
    body = {
        "error": {
            "code": 403,
            "message": "Request had insufficient authentication scopes.",
            "status": "PERMISSION_DENIED",
        }
    }
    v2 = HttpError(httplib2.Response({"status": "403"}), json.dumps(body).encode())
    for exc in (v1, v2):
        error = map_exception(exc, api="gmail", method="messages.list")
        assert isinstance(error, MissingScopeError), error
        assert not error.retryable
        assert "scope" in str(error)
    # A file permission problem is not a scope problem.
    other = map_exception(http_error(403, "insufficientFilePermissions"), api="drive", method="x")
    assert type(other) is ServiceError
