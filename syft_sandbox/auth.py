"""Users, bearer tokens and the OAuth refresh grant of the sandbox.

Tokens are random opaque strings. They are kept only in memory and in the token files the
caller asks for; the request log and every message leave them out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

ACCESS_TOKEN_LIFETIME = 3600

_GMAIL_READ = frozenset(
    {
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    }
)
_GMAIL_SEND = frozenset(
    {
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    }
)
_DRIVE = frozenset(
    {"https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/drive.readonly"}
)
#: Which granted scopes allow an operation, as Google documents them per method (a subset: the
#: methods this sandbox serves). Drive writes need the full drive scope.
_ALLOWED_BY: dict[tuple[str, str], frozenset[str]] = {
    ("gmail", "messages.send"): _GMAIL_SEND,
    ("gmail", "messages.list"): _GMAIL_READ,
    ("gmail", "messages.get"): _GMAIL_READ,
    ("gmail", "threads.list"): _GMAIL_READ,
    ("gmail", "threads.get"): _GMAIL_READ,
    ("gmail", "history.list"): _GMAIL_READ,
    ("gmail", "messages.modify"): _GMAIL_READ - {"https://www.googleapis.com/auth/gmail.readonly"},
    # Any Gmail scope but gmail.send (which is why `doctor` cannot prove a send-only token).
    ("gmail", "getProfile"): _GMAIL_READ | {"https://www.googleapis.com/auth/gmail.compose"},
}
_DRIVE_READS = frozenset(
    {"files.list", "files.get", "files.get_media", "changes.list", "changes.getStartPageToken"}
)


def scope_allows(granted: frozenset[str], api: str, operation: str) -> bool:
    """Whether a grant of `granted` scopes may call `api` `operation`."""
    if api == "drive":
        needed = (
            _DRIVE
            if operation in _DRIVE_READS
            else _DRIVE - {"https://www.googleapis.com/auth/drive.readonly"}
        )
        return bool(granted & needed)
    allowed = _ALLOWED_BY.get((api, operation))
    return allowed is None or bool(granted & allowed)


@dataclass
class _UserTokens:
    email: str
    refresh_token: str
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False
    #: The scopes the user granted; None grants every operation (the sandbox's default).
    scopes: frozenset[str] | None = None


class TokenRegistry:
    """Not thread-safe by itself: the sandbox calls it under its model lock."""

    def __init__(self) -> None:
        self._users: dict[str, _UserTokens] = {}
        self._by_access: dict[str, str] = {}
        self._by_refresh: dict[str, str] = {}

    def add_user(self, email: str) -> str:
        """Register `email` (idempotent) and return a valid access token for it."""
        user = self._users.get(email)
        if user is None:
            user = _UserTokens(email, "sbx-rt-" + secrets.token_urlsafe(24))
            self._users[email] = user
            self._by_refresh[user.refresh_token] = email
        if user.revoked:
            self._reinstate(user)
        if user.access_tokens:
            return next(iter(user.access_tokens))
        return self.issue_access_token(email)

    def has_user(self, email: str) -> bool:
        return email in self._users

    def users(self) -> list[str]:
        return list(self._users)

    def grant(self, email: str, scopes: frozenset[str] | None) -> None:
        self._users[email].scopes = scopes

    def granted(self, email: str) -> frozenset[str] | None:
        return self._users[email].scopes

    def issue_access_token(self, email: str) -> str:
        token = "sbx-at-" + secrets.token_urlsafe(24)
        self._users[email].access_tokens.add(token)
        self._by_access[token] = email
        return token

    def refresh_token(self, email: str) -> str:
        return self._users[email].refresh_token

    def user_for_access_token(self, token: str) -> str | None:
        return self._by_access.get(token)

    def refresh(self, refresh_token: str) -> str | None:
        """A new access token for a valid refresh token, None for an unknown or revoked one."""
        email = self._by_refresh.get(refresh_token)
        if email is None or self._users[email].revoked:
            return None
        return self.issue_access_token(email)

    def expire_access_tokens(self, email: str) -> None:
        """Invalidate the user's access tokens, as an hour passing would; refreshing still works."""
        user = self._users[email]
        for token in user.access_tokens:
            self._by_access.pop(token, None)
        user.access_tokens.clear()

    def revoke(self, email: str) -> None:
        """Invalidate every token of the user: API calls get 401, refreshing gets invalid_grant."""
        self.expire_access_tokens(email)
        self._users[email].revoked = True

    def _reinstate(self, user: _UserTokens) -> None:
        self._by_refresh.pop(user.refresh_token, None)
        user.refresh_token = "sbx-rt-" + secrets.token_urlsafe(24)
        user.revoked = False
        self._by_refresh[user.refresh_token] = user.email
