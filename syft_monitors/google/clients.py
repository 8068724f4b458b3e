"""Building Drive v3 and Gmail v1 clients, optionally against a local API root (the sandbox).

Clients share one httplib2 connection each and are not thread-safe: build one per thread.
"""

from __future__ import annotations

import os
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials as BaseCredentials
from google.oauth2.credentials import Credentials as UserCredentials
from googleapiclient.discovery import build_from_document

from syft_monitors.google.credentials import load_credentials
from syft_monitors.google.discovery import (
    ApiName,
    load_discovery_document,
    normalize_api_root,
    with_api_root,
)

__all__ = [
    "API_ROOT_ENV",
    "authorized_http",
    "build_drive_service",
    "build_gmail_service",
    "build_service",
    "load_credentials",
    "resolve_api_root",
]

API_ROOT_ENV = "SYFT_GOOGLE_API_ROOT"
DEFAULT_TIMEOUT = 120.0


def resolve_api_root(explicit: str | None) -> str | None:
    """explicit > $SYFT_GOOGLE_API_ROOT > None (the real Google endpoints)."""
    value = explicit or os.environ.get(API_ROOT_ENV) or None
    return normalize_api_root(value) if value else None


def build_drive_service(
    credentials: BaseCredentials, *, api_root: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Any:
    """Drive v3 at `api_root`, else $SYFT_GOOGLE_API_ROOT, else Google (as the monitors do)."""
    return build_service("drive", credentials, api_root=resolve_api_root(api_root), timeout=timeout)


def build_gmail_service(
    credentials: BaseCredentials, *, api_root: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Any:
    return build_service("gmail", credentials, api_root=resolve_api_root(api_root), timeout=timeout)


def build_service(
    api: ApiName,
    credentials: BaseCredentials,
    *,
    api_root: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """A googleapiclient Resource built offline from the bundled discovery document.

    With `api_root`, every URL (uploads included) and the credentials' refresh endpoint
    (`<api_root>token`) point there instead of at Google.
    """
    document = load_discovery_document(api)
    if api_root is not None:
        root = normalize_api_root(api_root)
        document = with_api_root(document, root)
        credentials = _with_token_uri(credentials, root + "token")
    return build_from_document(document, http=authorized_http(credentials, timeout=timeout))


def authorized_http(credentials: BaseCredentials, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    http = httplib2.Http(timeout=timeout)
    # Drive answers resumable-upload chunks with 308 "Resume Incomplete"; httplib2 would
    # otherwise treat it as a redirect (googleapiclient's own build_http does the same).
    http.redirect_codes = set(http.redirect_codes) - {308}
    return google_auth_httplib2.AuthorizedHttp(credentials, http=http)


def _with_token_uri(credentials: BaseCredentials, token_uri: str) -> BaseCredentials:
    if isinstance(credentials, UserCredentials) and credentials.refresh_token:
        rerouted: BaseCredentials = credentials.with_token_uri(token_uri)
        return rerouted
    return credentials
