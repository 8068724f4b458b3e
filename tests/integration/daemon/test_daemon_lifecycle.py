"""Real daemon processes: start, status, stop, restart, double start, stale PID files."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from daemon_testkit import DaemonWorld, daemon_pids, wait_for

from syft_monitors.daemon.pidfile import is_locked, read_pid
from syft_monitors.daemon.process import command_line, is_alive
from syft_monitors.errors import ConfigError


def test_start_status_stop(world: DaemonWorld) -> None:
    manager = world.manager()
    assert manager.pid_file == world.home / "syft-notify.pid"
    assert not manager.is_running()

    assert manager.start() is True, manager.last_error
    pid = manager.get_pid()
    assert pid is not None
    assert pid != os.getpid()
    assert read_pid(manager.pid_file) == pid
    assert is_locked(manager.pid_file)
    argv = command_line(pid)
    assert argv is not None
    assert "syft_monitors.daemon.child" in argv
    assert "notify" in argv
    # Detached: its own session, not a child of this process.
    assert os.getsid(pid) == pid
    assert os.getppid() != pid

    # The daemon polls the sandbox with the configured token.
    wait_for(lambda: world.drive_requests("changes.list") >= 2, "two polls")
    out = io.StringIO()
    assert manager.status(out) is True
    text = out.getvalue()
    assert f"running (PID {pid})" in text
    assert str(world.config_path) in text
    assert str(manager.log_file) in text
    assert str(manager.error_log_file) in text
    assert "notify running, polling every 1 s" in text  # among the last log lines

    assert manager.stop() is True
    assert not is_alive(pid)
    assert not manager.pid_file.exists()
    assert manager.get_pid() is None
    assert "notify stopped after" in world.log_text()
    assert manager.error_log_file.read_text() == ""
    out = io.StringIO()
    assert manager.status(out) is False
    assert "syft-notify: stopped" in out.getvalue()


def test_second_start_is_refused(world: DaemonWorld) -> None:
    first = world.manager()
    assert first.start() is True
    pid = first.get_pid()

    second = world.manager()
    assert second.start() is False
    assert second.last_error == f"notify is already running (PID {pid})"

    # Even a daemon launched behind the manager's back cannot take the lock: it exits with 3.
    rogue = subprocess.run(
        [
            sys.executable,
            "-m",
            "syft_monitors.daemon.child",
            "--service",
            "notify",
            "--config",
            str(world.config_path),
            "--pid-file",
            str(first.pid_file),
            "--log",
            str(first.log_file),
            "--error-log",
            str(first.error_log_file),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert rogue.returncode == 3
    assert daemon_pids(world.root) == [pid]
    assert read_pid(first.pid_file) == pid
    assert first.stop() is True


def test_stale_pid_file_is_detected_and_replaced(world: DaemonWorld) -> None:
    manager = world.manager()
    # A PID file left by a crash, naming a live process that is not our daemon (this one).
    manager.pid_file.write_text(f"{os.getpid()}\n")
    assert manager.get_pid() is None
    assert not manager.is_running()
    assert manager.stop() is False  # nothing to stop, and this process was not signalled
    assert manager.last_error == "notify is not running"
    assert not manager.pid_file.exists()  # the stale file was removed

    manager.pid_file.write_text("999999999\n")
    assert manager.start() is True
    assert manager.get_pid() == read_pid(manager.pid_file) != 999999999
    assert manager.stop() is True


def test_restart_gives_a_new_process(world: DaemonWorld) -> None:
    manager = world.manager()
    assert manager.restart() is True  # not running yet: restart starts
    first = manager.get_pid()
    assert manager.restart(interval=2) is True
    second = manager.get_pid()
    assert first is not None
    assert second is not None
    assert first != second
    assert not is_alive(first)
    world.wait_for_log("polling every 2 s")
    assert manager.stop() is True


def test_invalid_config_is_refused_before_starting(world: DaemonWorld) -> None:
    world.config_path.write_text("do_email: owner@daemon.example\nintervall: 3\n")
    manager = world.manager()
    with pytest.raises(ConfigError, match="intervall: unknown key"):
        manager.start()
    assert daemon_pids(world.root) == []


def test_start_up_failure_is_reported(world: DaemonWorld) -> None:
    # A config that validates but cannot be wired (smtp sender, no smtp: section).
    world.write_config(sender="smtp")
    manager = world.manager()
    assert manager.start() is False
    assert manager.last_error is not None
    assert "no smtp: section" in manager.last_error
    assert "cannot start" in world.log_text(errors=True)
    assert not manager.is_running()
    assert not manager.pid_file.exists()


def test_services_have_their_own_files(world: DaemonWorld) -> None:
    approve = world.manager("approve")
    assert approve.pid_file.name == "syft-approve.pid"
    assert approve.log_file.name == "syft-approve.log"
    assert approve.error_log_file.name == "syft-approve.error.log"
    world.write_config(daemon_dir=str(world.root / "elsewhere"))
    moved = world.manager()
    assert moved.pid_file == world.root / "elsewhere" / "syft-notify.pid"
    # A config that no longer validates still finds the daemon folder for `stop`.
    world.config_path.write_text(
        f"daemon_dir: {world.root / 'elsewhere'}\nintervall: 3\n", encoding="utf-8"
    )
    assert world.manager().pid_file == moved.pid_file
