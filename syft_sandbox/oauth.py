"""The authorization-code grant of Google's OAuth for installed apps, as the sandbox serves it.

`GET /o/oauth2/auth` plays the consent screen: it signs in the user named by `login_hint` (or
the sandbox's browser user) and redirects to the app's loopback `redirect_uri` with a one-time
code. `POST /token` with `grant_type=authorization_code` exchanges the code once, checking the
redirect URI and the PKCE verifier (S256), and grants the requested scopes to the user.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from syft_sandbox.wire import Response, json_response

AUTHORIZE_PATH = "/o/oauth2/auth"
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass(frozen=True)
class PendingCode:
    user: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str


def is_loopback_redirect(uri: str) -> bool:
    """Google accepts only loopback http redirects for desktop clients."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK


def redirect(uri: str, **params: str) -> Response:
    separator = "&" if urlsplit(uri).query else "?"
    return Response(302, b"", {"Location": uri + separator + urlencode(params)})


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthorizationCodes:
    """One-time codes. Not thread-safe by itself: the sandbox calls it under its model lock."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingCode] = {}

    def issue(self, pending: PendingCode) -> str:
        code = "sbx-code-" + secrets.token_urlsafe(24)
        self._pending[code] = pending
        return code

    def redeem(self, code: str) -> PendingCode | None:
        return self._pending.pop(code, None)
