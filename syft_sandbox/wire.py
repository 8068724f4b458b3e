"""Transport-neutral request and response values passed between the server and the API handlers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from syft_sandbox.apierror import ApiError, invalid_parameter


@dataclass
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    base_url: str  # "http://127.0.0.1:PORT/", used for absolute Location headers
    path_params: dict[str, str] = field(default_factory=dict)
    user: str | None = None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def params(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.param(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise invalid_parameter(name, f"Invalid value for boolean parameter {name}")

    def int_param(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise invalid_parameter(name) from None
        if not minimum <= number <= maximum:
            raise invalid_parameter(name, f"Invalid value for {name}: must be {minimum}-{maximum}")
        return number

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def user_email(self) -> str:
        if self.user is None:  # routes that need a user are always authenticated first
            raise ApiError(401, "authError", "Login Required.")
        return self.user

    def json_body(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "parseError", "Parse Error") from None
        if not isinstance(data, dict):
            raise ApiError(400, "parseError", "Parse Error")
        return data


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: True for file-content downloads, the only responses a "truncate" fault may cut short.
    media: bool = False


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    merged = {"Content-Type": "application/json; charset=UTF-8"}
    merged.update(headers or {})
    return Response(status, body, merged)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def empty_response(status: int = 204) -> Response:
    return Response(status, b"", {})
