"""Loading authorized-user token files into google-auth credentials."""

from __future__ import annotations

import os
from collections.abc import Sequence

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials

from syft_monitors.errors import CredentialsError, ServiceError
from syft_monitors.google.discovery import normalize_api_root
from syft_monitors.protocol.emails import safe_repr

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
GMAIL_READONLY_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"


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
    shown = safe_repr(os.fspath(token_path), 240)
    try:
        credentials: Credentials = Credentials.from_authorized_user_file(  # type: ignore[no-untyped-call]
            os.fspath(token_path), scopes=list(scopes) if scopes is not None else None
        )
    except FileNotFoundError as exc:
        raise CredentialsError(f"token file {shown} is missing") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CredentialsError(
            f"token file {shown} is invalid (not an authorized-user JSON with a refresh token)"
        ) from exc
    except OSError as exc:
        raise CredentialsError(f"token file {shown} cannot be read ({type(exc).__name__})") from exc
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
