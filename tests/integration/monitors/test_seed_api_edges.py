"""The seed API's smaller promises: API root from the environment, bounded check(), exports."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

import syft_monitors
from syft_monitors import PeerMonitor, build_drive_service
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox.demo_world import DO_EMAIL, DemoWorld

REPO = Path(__file__).resolve().parents[3]


def test_build_drive_service_honours_the_api_root_variable(
    world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYFT_GOOGLE_API_ROOT", world.server.url)
    drive = build_drive_service(Credentials(world.sandbox.access_token(DO_EMAIL)))
    about = drive.about().get(fields="user(emailAddress)").execute(num_retries=0)
    assert about["user"]["emailAddress"] == DO_EMAIL


def test_check_with_a_duration_stops_at_the_deadline(world: DemoWorld, tmp_path: Path) -> None:
    monitor = PeerMonitor(
        DO_EMAIL,
        world.token_files[DO_EMAIL],
        None,
        JsonStateManager(tmp_path / "state.json"),
        google_api_root=world.server.url,
    )
    checks: list[float] = []
    original = monitor._check_once

    def counted() -> None:
        checks.append(time.monotonic())
        original()

    monitor._check_once = counted  # type: ignore[method-assign]
    started = time.monotonic()
    monitor.check(interval=30, duration=0.3)
    elapsed = time.monotonic() - started
    # One check at the start; the next one (at 30 s) is past the deadline, so none at 0.3 s.
    assert len(checks) == 1
    assert 0.25 <= elapsed < 10


def test_daemon_manager_is_exported() -> None:
    assert "DaemonManager" in syft_monitors.__all__
    assert syft_monitors.DaemonManager.__name__ == "DaemonManager"


def test_license_is_an_spdx_string() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in project["build-system"]["requires"]
