"""Building clients offline from the bundled discovery documents, optionally re-rooted."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.http import MediaIoBaseUpload

from syft_monitors.errors import ConfigError, CredentialsError
from syft_monitors.google.clients import (
    API_ROOT_ENV,
    build_drive_service,
    build_gmail_service,
    load_credentials,
    resolve_api_root,
)
from syft_monitors.google.discovery import load_discovery_document, with_api_root

ROOT = "http://127.0.0.1:9/"


def test_resolve_api_root_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_ROOT_ENV, raising=False)
    assert resolve_api_root(None) is None
    monkeypatch.setenv(API_ROOT_ENV, "http://127.0.0.1:8765")
    assert resolve_api_root(None) == "http://127.0.0.1:8765/"
    assert resolve_api_root("http://127.0.0.1:1/") == "http://127.0.0.1:1/"
    monkeypatch.setenv(API_ROOT_ENV, "")
    assert resolve_api_root(None) is None


@pytest.mark.parametrize("bad", ["ftp://x/", "127.0.0.1:80", "http://", "http://h/?q=1"])
def test_bad_api_roots_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        resolve_api_root(bad)


def test_rerooting_rewrites_root_and_mtls_root_only_in_the_copy() -> None:
    original = load_discovery_document("drive")
    rerooted = with_api_root(original, "http://127.0.0.1:9")
    assert rerooted["rootUrl"] == rerooted["mtlsRootUrl"] == ROOT
    assert load_discovery_document("drive")["rootUrl"] == "https://www.googleapis.com/"


def test_drive_requests_and_uploads_go_to_the_api_root() -> None:
    drive = build_drive_service(Credentials("t"), api_root=ROOT)
    try:
        listing = drive.files().list(q="trashed = false")
        assert listing.uri.startswith(ROOT + "drive/v3/files?")
        media = MediaIoBaseUpload(io.BytesIO(b"x"), mimetype="text/plain", resumable=True)
        upload = drive.files().create(body={"name": "x"}, media_body=media)
        assert upload.uri.startswith(ROOT + "upload/drive/v3/files?")
        assert 308 not in drive._http.http.redirect_codes
    finally:
        drive.close()


def test_gmail_without_root_uses_google() -> None:
    gmail = build_gmail_service(Credentials("t"))
    try:
        request = gmail.users().getProfile(userId="me")
        assert request.uri.startswith("https://gmail.googleapis.com/gmail/v1/users/me/profile")
    finally:
        gmail.close()


def test_refresh_endpoint_follows_the_api_root() -> None:
    credentials = Credentials(
        "t", refresh_token="r", token_uri="https://oauth2.googleapis.com/token"
    )
    drive = build_drive_service(credentials, api_root=ROOT)
    try:
        assert drive._http.credentials.token_uri == ROOT + "token"
    finally:
        drive.close()


def write_token(path: Path, **fields: object) -> Path:
    data = {
        "token": "sbx-at-SECRETVALUE",
        "refresh_token": "sbx-rt-SECRETVALUE",
        "client_id": "c",
        "client_secret": "s",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    data.update(fields)
    path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    return path


def test_load_credentials_applies_token_uri_or_api_root(tmp_path: Path) -> None:
    path = write_token(tmp_path / "t.json")
    assert load_credentials(path).token_uri == "https://oauth2.googleapis.com/token"
    assert load_credentials(path, token_uri="http://127.0.0.1:5/token").token_uri == (
        "http://127.0.0.1:5/token"
    )
    assert load_credentials(path, ["s"], api_root="http://127.0.0.1:5").token_uri == (
        "http://127.0.0.1:5/token"
    )
    assert load_credentials(path, ["a", "b"]).scopes == ["a", "b"]


@pytest.mark.parametrize(
    "content",
    [
        None,  # missing file
        "not json {",
        json.dumps({"token": "sbx-at-SECRETVALUE", "client_id": "c"}),  # no refresh token
        json.dumps(["a list"]),
        "",
        "{}",
        "[" * 50_000 + "]" * 50_000,  # was a RecursionError out of google-auth's json.load
        json.dumps({"refresh_token": "SECRETVALUE", "client_id": "c", "client_secret": 7}),
    ],
)
def test_bad_token_files_are_credentials_errors(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "token.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CredentialsError) as caught:
        load_credentials(path, ["https://www.googleapis.com/auth/drive"])
    assert "SECRETVALUE" not in str(caught.value)
    assert "token.json" in str(caught.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError):
        load_credentials(tmp_path)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    # Swapped in after start-up: opening it for reading used to wait for a writer forever.
    fifo = tmp_path / "token.json"
    os.mkfifo(fifo)
    with pytest.raises(CredentialsError, match="not a regular file"):
        load_credentials(fifo)
