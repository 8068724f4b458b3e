"""Map googleapiclient / google-auth / transport exceptions to ours, and decide what is retryable.

| failure                                   | outcome          | retried | raised as         |
|-------------------------------------------|------------------|---------|-------------------|
| 429, 403 rateLimitExceeded/userRate...    | rate_limited     | yes     | QuotaError        |
| 403 dailyLimitExceeded/quotaExceeded      | rate_limited     | no      | QuotaError        |
| 5xx, 408                                  | server_error     | yes     | ServiceError      |
| 401, RefreshError (revoked, no refresh)   | auth_error       | no      | CredentialsError  |
| 403 insufficientPermissions (scope)       | client_error     | no      | MissingScopeError |
| other 4xx                                 | client_error     | no      | ServiceError      |
| refused/reset/timeout/DNS/short read      | transport_error  | yes     | ServiceError      |
"""

from __future__ import annotations

import http.client
import json
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import google.auth.exceptions
import httplib2
from googleapiclient.errors import HttpError

from syft_monitors.errors import (
    CredentialsError,
    MissingScopeError,
    QuotaError,
    ServiceError,
    SyftMonitorError,
)
from syft_monitors.protocol.emails import safe_repr

OK = "ok"
CLIENT_ERROR = "client_error"
AUTH_ERROR = "auth_error"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
TRANSPORT_ERROR = "transport_error"

RETRYABLE_RATE_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "sharingRateLimitExceeded"}
)
DAILY_QUOTA_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded", "dailyLimitExceededUnreg"})
#: Google's reason for "Request had insufficient authentication scopes" (errors[0].reason; the
#: newer shape has none, and `is_missing_scope` recognises its message instead).
MISSING_SCOPE_REASONS = frozenset({"insufficientPermissions"})


@dataclass(frozen=True)
class Failure:
    """What one failed HTTP attempt means for the caller."""

    outcome: str
    retryable: bool
    status: int | None = None
    reason: str | None = None
    retry_after: float | None = None
    detail: str = ""  # the server's message or the exception type; untrusted, for messages


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _error_body(content: bytes | str | None) -> tuple[str | None, str]:
    """(first error reason, message) from a Google JSON error body."""
    if not content:
        return None, ""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None, ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return (str(error) if error else None), ""
    reason = None
    items = error.get("errors")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        reason = items[0].get("reason")
    if reason is None and isinstance(error.get("status"), str):
        reason = error["status"]
    return (str(reason) if reason else None), str(error.get("message", ""))


def classify_http_error(exc: HttpError) -> Failure:
    status = int(exc.resp.status)
    reason, message = _error_body(exc.content)
    retry_after = parse_retry_after(exc.resp.get("retry-after"))
    if status == 401:
        return Failure(AUTH_ERROR, False, status, reason, None, message)
    if status == 429 or (status == 403 and reason in RETRYABLE_RATE_REASONS):
        return Failure(RATE_LIMITED, True, status, reason, retry_after, message)
    if status == 403 and reason in DAILY_QUOTA_REASONS:
        return Failure(RATE_LIMITED, False, status, reason, retry_after, message)
    if status >= 500 or status == 408:
        return Failure(SERVER_ERROR, True, status, reason, retry_after, message)
    return Failure(CLIENT_ERROR, False, status, reason, None, message)


def classify(exc: BaseException) -> Failure | None:
    """The failure an exception from one HTTP attempt represents; None if it is not one."""
    if isinstance(exc, HttpError):
        return classify_http_error(exc)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        if getattr(exc, "retryable", False):
            return Failure(SERVER_ERROR, True, detail="token endpoint unavailable")
        return Failure(AUTH_ERROR, False, detail="refresh rejected")
    if isinstance(exc, google.auth.exceptions.TransportError | httplib2.HttpLib2Error):
        return Failure(TRANSPORT_ERROR, True, detail=type(exc).__name__)
    if isinstance(exc, OSError | http.client.HTTPException):
        return Failure(TRANSPORT_ERROR, True, detail=type(exc).__name__)
    return None


def is_missing_scope(failure: Failure) -> bool:
    """A 403 for a scope the token was not granted (some APIs send only the message)."""
    return failure.status == 403 and (
        failure.reason in MISSING_SCOPE_REASONS
        or "insufficient authentication scopes" in failure.detail.lower()
    )


def to_error(failure: Failure, *, api: str, method: str, attempts: int = 1) -> SyftMonitorError:
    """Our exception for a failure that will not be retried (any more)."""
    what = f"{api} {method}"
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    if failure.outcome == AUTH_ERROR:
        return CredentialsError(
            f"{what}: Google rejected the credentials ({failure.reason or failure.detail}); "
            "re-authorize"
        )
    if failure.outcome == TRANSPORT_ERROR:
        return ServiceError(
            f"{what}: network error ({failure.detail}){tried}; offline, will retry",
            status=None,
            retryable=True,
        )
    summary = f"HTTP {failure.status} {failure.reason or ''}".rstrip()
    if failure.detail:
        summary += f": {safe_repr(failure.detail, 120)}"
    if is_missing_scope(failure):
        return MissingScopeError(
            f"{what}: the token lacks the OAuth scope for this call ({summary}); re-authorize "
            "with the scope it needs",
            status=failure.status,
        )
    if failure.outcome == RATE_LIMITED:
        return QuotaError(
            f"{what} rate limited{tried}: {summary}",
            status=failure.status,
            retry_after=failure.retry_after,
            reason=failure.reason,
        )
    return ServiceError(
        f"{what} failed{tried}: {summary}", status=failure.status, retryable=failure.retryable
    )


def map_exception(exc: BaseException, *, api: str, method: str) -> SyftMonitorError | None:
    """Convenience for callers outside `retry.execute`: our error for `exc`, or None."""
    failure = classify(exc)
    return None if failure is None else to_error(failure, api=api, method=method)
