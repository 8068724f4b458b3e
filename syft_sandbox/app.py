"""One request through the sandbox: route, authenticate, inject faults, handle, record."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from syft_sandbox.apierror import ApiError, unauthenticated
from syft_sandbox.core import Sandbox
from syft_sandbox.faults import FaultKind, FaultRule
from syft_sandbox.wire import Request, Response, error_response

logger = logging.getLogger(__name__)

_FAULT_MESSAGES = {
    401: "Request had invalid authentication credentials.",
    403: "Rate Limit Exceeded",
    429: "Rate Limit Exceeded",
    500: "Internal Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class RouteOutcome:
    response: Response | None  # None: reset the connection instead of answering
    truncate: bool = False


class SandboxApp:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, base_url: str
    ) -> RouteOutcome:
        started = time.monotonic()
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        override = headers.get("x-http-method-override", "").upper()
        if method == "POST" and override:
            # googleapiclient turns a GET whose URL exceeds 2000 characters into a POST with the
            # query string as a form body (long `q` expressions do this).
            method = override
            if "x-www-form-urlencoded" in headers.get("content-type", ""):
                form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                query = {**query, **form}
                body = b""
        match = self.sandbox.router.match(method, parts.path, query)
        api, operation = (match.route.api, match.operation) if match else ("unknown", "unknown")
        user: str | None = None
        fault: FaultRule | None = None
        try:
            if match is None:
                raise ApiError(404, "notFound", "Not Found")
            request = Request(method, parts.path, query, headers, body, base_url, match.params)
            if not match.route.public:
                user = self._authenticate(headers)
                request.user = user
                self.sandbox.authorize(user, api, operation)
            fault = self.sandbox.faults.decide(api, operation, user, media=match.media)
            if fault is not None and fault.kind is FaultKind.RESET:
                self._record(method, parts.path, query, api, operation, None, user, fault, started)
                return RouteOutcome(None)
            if fault is not None and fault.kind is FaultKind.STATUS:
                raise _fault_error(fault)
            if fault is not None and fault.kind is FaultKind.DELAY:
                time.sleep(fault.delay)
            with self.sandbox.lock:
                response = match.route.handler(request)
        except ApiError as exc:
            response = error_response(exc)
        except Exception:  # a sandbox bug must still produce a well-formed HTTP answer
            logger.exception("sandbox handler failed for %s %s", api, operation)
            response = error_response(ApiError(500, "backendError", "Backend Error"))
        truncate = (
            fault is not None
            and fault.kind is FaultKind.TRUNCATE
            and response.media
            and response.status in (200, 206)
            and len(response.body) > 1
        )
        self._record(
            method, parts.path, query, api, operation, response.status, user, fault, started
        )
        return RouteOutcome(response, truncate)

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        user = self.sandbox.authenticate(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise unauthenticated()
        return user

    def _record(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        api: str,
        operation: str,
        status: int | None,
        user: str | None,
        fault: FaultRule | None,
        started: float,
    ) -> None:
        self.sandbox.log.record(
            method=method,
            path=path,
            query=query,
            api=api,
            operation=operation,
            status=status,
            user=user,
            fault=str(fault.kind) if fault is not None else None,
            seconds=time.monotonic() - started,
        )


def _fault_error(rule: FaultRule) -> ApiError:
    if rule.status == 401:
        return unauthenticated()
    headers: dict[str, str] = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = f"{rule.retry_after:g}"
    reason = rule.effective_reason
    domain = "usageLimits" if reason in ("rateLimitExceeded", "userRateLimitExceeded") else "global"
    message = _FAULT_MESSAGES.get(rule.status, "Backend Error")
    if reason == "userRateLimitExceeded":
        message = "User Rate Limit Exceeded"
    elif reason == "dailyLimitExceeded":
        # Gmail's answer once the account's daily sending limit is reached.
        message, domain = "Daily Limit Exceeded", "usageLimits"
    return ApiError(rule.status, reason, message, domain=domain, headers=headers)
