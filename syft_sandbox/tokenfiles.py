"""Authorized-user token files pointing at the sandbox, readable by google-auth."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
)
CLIENT_ID = "sandbox-client.apps.googleusercontent.com"
#: Not a secret: the sandbox accepts any client; google-auth just needs the field present.
CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105


def token_file_data(
    *,
    access_token: str,
    refresh_token: str,
    token_uri: str,
    scopes: Sequence[str],
    expiry: datetime,
    account: str,
) -> dict[str, Any]:
    return {
        "token": access_token,
        "refresh_token": refresh_token,
        "token_uri": token_uri,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": list(scopes),
        # google-auth parses naive UTC "YYYY-MM-DDTHH:MM:SS" and treats a missing expiry as expired.
        "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "account": account,
    }


def write_token_file(path: Path, data: dict[str, Any]) -> Path:
    """Write `data` readable by the owner only (the file holds bearer credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    return path


def default_expiry(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)
