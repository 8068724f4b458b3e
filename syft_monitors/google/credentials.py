"""Loading authorized-user token files into google-auth credentials."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials

from syft_monitors.errors import CredentialsError, ServiceError, SyftFileError
from syft_monitors.google.discovery import normalize_api_root
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.jsonfile import load_json_object

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
GMAIL_READONLY_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"
#: What google-auth needs from an authorized-user file to refresh its access token.
TOKEN_FIELDS = ("refresh_token", "client_id", "client_secret")
#: A real token file is under 1 KiB; the bound stops a huge file being read whole.
MAX_TOKEN_FILE_BYTES = 64 * 1024


def read_token_info(token_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The fields of an authorized-user token file, checked; `CredentialsError` otherwise.

    One line naming the file and the problem (never its contents): missing, not a regular file
    (a FIFO would block), too large, empty, not JSON, nested too deeply, not an object, or
    without a non-empty `refresh_token`, `client_id` or `client_secret`.
    """
    shown = f"token file {safe_repr(os.fspath(token_path), 240)}"
    try:
        with open(token_path, "rb", opener=_nonblocking) as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CredentialsError(f"{shown} is not a regular file")
            data = handle.read(MAX_TOKEN_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise CredentialsError(f"{shown} is missing") from exc
    except OSError as exc:
        raise CredentialsError(f"{shown} cannot be read ({type(exc).__name__})") from exc
    return parse_token_info(data, what=shown)


def parse_token_info(data: bytes, *, what: str) -> dict[str, Any]:
    """The fields of authorized-user token bytes (a file, a Kubernetes Secret), checked.

    `CredentialsError` naming `what` and the problem, never the value, unless `data` is a JSON
    object, at most `MAX_TOKEN_FILE_BYTES` and nested at most 64 levels, with non-empty string
    `refresh_token`, `client_id` and `client_secret`.
    """
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise CredentialsError(f"{what} is larger than {MAX_TOKEN_FILE_BYTES} bytes")
    if not data.strip():
        raise CredentialsError(f"{what} is empty")
    try:
        info = load_json_object(data, what=what, max_bytes=MAX_TOKEN_FILE_BYTES)
    except SyftFileError as exc:
        raise CredentialsError(str(exc)) from exc
    missing = [
        name for name in TOKEN_FIELDS if not isinstance(info.get(name), str) or not info[name]
    ]
    if missing:
        raise CredentialsError(f"{what} is not an authorized-user token: no {', '.join(missing)}")
    return info


def _nonblocking(path: str, flags: int) -> int:
    # Opening a FIFO for reading blocks until a writer appears: O_NONBLOCK returns at once, and
    # the file type is checked before anything is read.
    return os.open(path, flags | os.O_NONBLOCK)


def load_credentials(
    token_path: str | os.PathLike[str],
    scopes: Sequence[str] | None = None,
    *,
    token_uri: str | None = None,
    api_root: str | None = None,
    refresh: bool = False,
    timeout: float = 120.0,
) -> Credentials:
    """Credentials from an authorized-user JSON file.

    `token_uri` overrides the refresh endpoint (google-auth ignores the file's own `token_uri`);
    `api_root` (a sandbox URL) implies `token_uri=<api_root>token` unless `token_uri` is given.
    With `refresh=True` an expired or token-less file is refreshed now, so a revoked grant shows
    up here instead of at the first API call. Messages name the file, never its contents.
    """
    shown = f"token file {safe_repr(os.fspath(token_path), 240)}"
    return credentials_from_info(
        read_token_info(token_path),
        scopes,
        what=shown,
        token_uri=token_uri,
        api_root=api_root,
        refresh=refresh,
        timeout=timeout,
    )


def credentials_from_info(
    info: dict[str, Any],
    scopes: Sequence[str] | None = None,
    *,
    what: str,
    token_uri: str | None = None,
    api_root: str | None = None,
    refresh: bool = False,
    timeout: float = 120.0,
) -> Credentials:
    """Credentials from checked token fields (`parse_token_info`) held in memory: a pool reads
    its owners' tokens from Kubernetes Secrets and never writes them to disk. Arguments as for
    `load_credentials`; messages name `what`, never the contents."""
    try:
        credentials: Credentials = Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
            info, scopes=list(scopes) if scopes is not None else None
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CredentialsError(
            f"{what} is invalid (not an authorized-user JSON with a refresh token)"
        ) from exc
    if token_uri is None and api_root is not None:
        token_uri = normalize_api_root(api_root) + "token"
    if token_uri is not None:
        credentials = credentials.with_token_uri(token_uri)
    if refresh and not credentials.valid:
        refresh_credentials(credentials, timeout=timeout)
    return credentials


def refresh_credentials(credentials: Credentials, *, timeout: float = 120.0) -> None:
    """Refresh now; CredentialsError when the grant is rejected, ServiceError when offline."""
    http = httplib2.Http(timeout=timeout)
    try:
        credentials.refresh(google_auth_httplib2.Request(http))  # type: ignore[no-untyped-call]
    except google.auth.exceptions.RefreshError as exc:
        if getattr(exc, "retryable", False):
            raise ServiceError(
                "token refresh failed: token endpoint unavailable", retryable=True
            ) from exc
        raise CredentialsError(
            "token refresh rejected (revoked or expired grant); re-authorize"
        ) from exc
    except (google.auth.exceptions.TransportError, httplib2.HttpLib2Error, OSError) as exc:
        raise ServiceError(
            f"token refresh failed: network error ({type(exc).__name__}); offline, will retry",
            retryable=True,
        ) from exc
    finally:
        http.close()
