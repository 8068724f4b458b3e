"""systemd user units: the file, and what happens with and without `systemctl`."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

import pytest

from syft_monitors.daemon.manager import DaemonManager
from syft_monitors.services.systemd import install, render_unit, uninstall, unit_dir


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DaemonManager:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SYFT_MONITOR_HOME", str(tmp_path / "home"))
    config = tmp_path / "home" / "config.yaml"
    config.parent.mkdir()
    config.write_text("do_email: do@x.example\n")
    return DaemonManager(config, "notify")


def _fake_systemctl(folder: Path, exit_code: int = 0) -> Path:
    """A `systemctl` that records its arguments (one call per line) and exits `exit_code`."""
    folder.mkdir(exist_ok=True)
    calls = folder / "calls"
    script = folder / "systemctl"
    script.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\n'
        f'[ {exit_code} -eq 0 ] || echo "Failed to connect to bus: No medium found" >&2\n'
        f"exit {exit_code}\n"
    )
    script.chmod(0o755)
    return calls


def test_unit_runs_our_cli_forking_with_the_pid_file(daemon: DaemonManager) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(render_unit(daemon))
    service = parser["Service"]
    assert service["Type"] == "forking"
    assert service["PIDFile"] == str(daemon.pid_file)
    assert service["ExecStart"] == (
        f"{sys.executable} -m syft_monitors.cli --config {daemon.config_path} start notify"
    )
    assert service["ExecStop"].endswith(" stop notify")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert parser["Install"]["WantedBy"] == "default.target"


def test_install_and_uninstall_with_systemd(
    daemon: DaemonManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_systemctl(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = install(daemon)
    assert result.systemd
    assert result.unit_path == tmp_path / "xdg" / "systemd" / "user" / "syft-bg-notify.service"
    assert result.unit_path.read_text() == render_unit(daemon)
    assert "systemctl --user start syft-bg-notify.service" in result.message
    assert calls.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable syft-bg-notify.service",
    ]
    calls.unlink()
    removed = uninstall(daemon)
    assert removed.systemd
    assert not removed.unit_path.exists()
    assert calls.read_text().splitlines() == [
        "--user disable --now syft-bg-notify.service",
        "--user daemon-reload",
    ]


def test_without_systemctl_the_unit_is_written_and_the_message_says_so(
    daemon: DaemonManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = install(daemon)
    assert not result.systemd
    assert result.unit_path.exists()
    assert "systemd is not available here (no systemctl)" in result.message
    assert "syft-bg start notify" in result.message
    assert unit_dir() == tmp_path / "xdg" / "systemd" / "user"


def test_without_a_user_manager(
    daemon: DaemonManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_systemctl(tmp_path / "bin", exit_code=1)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = install(daemon)
    assert not result.systemd
    assert "Failed to connect to bus" in result.message
