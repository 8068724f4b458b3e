"""Errors the sandbox answers with, shaped like Google's JSON error bodies."""

from __future__ import annotations

from typing import Any

from syft_monitors.errors import SyftMonitorError

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    416: "OUT_OF_RANGE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class SandboxError(SyftMonitorError):
    """Misuse of the sandbox from Python (unknown user, bad setup call)."""


class ApiError(SandboxError):
    """An error the sandbox reports to an HTTP client (and to direct Python callers)."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        location: str | None = None,
        location_type: str | None = None,
        domain: str = "global",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.location = location
        self.location_type = location_type
        self.domain = domain
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "message": self.message,
            "domain": self.domain,
            "reason": self.reason,
        }
        if self.location is not None:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        error: dict[str, Any] = {"code": self.status, "message": self.message, "errors": [item]}
        if self.status in _STATUS_NAMES:
            error["status"] = _STATUS_NAMES[self.status]
        return {"error": error}


def invalid_parameter(
    name: str, message: str = "Invalid Value", reason: str = "invalid"
) -> ApiError:
    return ApiError(400, reason, message, location=name, location_type="parameter")


def required_parameter(name: str) -> ApiError:
    return ApiError(
        400, "required", f"Required parameter: {name}", location=name, location_type="parameter"
    )


def bad_request(message: str, reason: str = "badRequest") -> ApiError:
    return ApiError(400, reason, message)


def file_not_found(file_id: str, location: str = "fileId") -> ApiError:
    return ApiError(
        404, "notFound", f"File not found: {file_id}.", location=location, location_type="parameter"
    )


def insufficient_permissions(
    message: str = "The user does not have sufficient permissions for this file.",
) -> ApiError:
    return ApiError(403, "insufficientFilePermissions", message)


def insufficient_scopes() -> ApiError:
    return ApiError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        headers={
            "WWW-Authenticate": (
                'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'
            )
        },
    )


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        location="Authorization",
        location_type="header",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )
