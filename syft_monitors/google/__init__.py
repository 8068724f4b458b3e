"""Google Drive/Gmail clients: building, credentials, error mapping and retries."""

from syft_monitors.google.clients import (
    API_ROOT_ENV,
    build_drive_service,
    build_gmail_service,
    build_service,
    resolve_api_root,
)
from syft_monitors.google.credentials import load_credentials
from syft_monitors.google.retry import (
    DEFAULT_POLICY,
    RequestObserver,
    RetryPolicy,
    call,
    download,
    execute,
)

__all__ = [
    "API_ROOT_ENV",
    "DEFAULT_POLICY",
    "RequestObserver",
    "RetryPolicy",
    "build_drive_service",
    "build_gmail_service",
    "build_service",
    "call",
    "download",
    "execute",
    "load_credentials",
    "resolve_api_root",
]
