"""`start`, `status`, `/healthz` and `doctor` tell the truth about a service that does not work.

Before: with a FIFO, corrupt or unwritable state file `start` exited 0 and `status` showed
"running", last error "-" (failures were recorded into that same state); a FIFO as state file
hung `run --once` and `status`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from daemon_testkit import DaemonWorld, wait_for

from syft_monitors.cli.main import cli
from syft_monitors.cli.service_cmds import EXIT_FAILING
from syft_monitors.state.json_file import JsonStateManager
from tests.support import free_port


def _cli(world: DaemonWorld, *args: str) -> subprocess.CompletedProcess[str]:
    # A real process with a timeout: a command that hangs fails the test instead of pytest.
    return subprocess.run(
        [sys.executable, "-m", "syft_monitors.cli", "--config", str(world.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYFT_LOG_FORMAT": "text"},
    )


def _bad_state(world: DaemonWorld, kind: str) -> Path:
    path = world.home / "state.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "corrupt":
        path.write_text('{"schema_version": 1, "notified": 7}')
    elif kind == "directory":
        world.write_config(state_file="/tmp")
        return Path("/tmp")
    elif kind == "device":
        world.write_config(state_file="/dev/null")
        return Path("/dev/null")
    return path


@pytest.mark.parametrize("kind", ["fifo", "corrupt", "directory", "device"])
def test_bad_state_files_are_caught_by_doctor_and_start(world: DaemonWorld, kind: str) -> None:
    _bad_state(world, kind)
    doctor = CliRunner().invoke(cli, ["doctor", "--json"])
    [check] = [c for c in json.loads(doctor.output)["checks"] if c["name"] == "state file"]
    assert check["outcome"] == "fail", check
    assert doctor.exit_code != 0
    started = _cli(world, "start", "notify")
    assert started.returncode != 0
    [line] = started.stderr.strip().splitlines()
    assert line.startswith("error: state file"), line
    assert world.manager().get_pid() is None  # nothing was started


def test_a_fifo_state_hangs_neither_run_once_nor_status(world: DaemonWorld) -> None:
    _bad_state(world, "fifo")
    once = _cli(world, "run", "notify", "--once")
    assert once.returncode != 0
    assert "is a FIFO, not a regular file" in once.stderr
    status = _cli(world, "status")
    assert status.returncode == 1  # notify is configured and not running


def test_start_reports_a_first_poll_that_fails(world: DaemonWorld) -> None:
    world.sandbox.revoke_user("owner@daemon.example")
    started = _cli(world, "start", "notify")
    try:
        assert started.returncode == 1, started
        assert "first poll failed: re-authorize" in started.stderr, started.stderr
        # It keeps running (and retrying); status says it is failing and why, with its own code.
        status = _cli(world, "status", "--json")
        assert status.returncode == EXIT_FAILING, status
        [notify] = [s for s in json.loads(status.stdout)["services"] if s["name"] == "notify"]
        assert notify["state"] == "failing"
        assert notify["last_error"].startswith("re-authorize")
    finally:
        world.manager().stop()


def _healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_state_that_stops_accepting_writes_shows_as_failing(world: DaemonWorld) -> None:
    port = free_port()
    world.write_config(metrics_port=port)
    manager = world.manager()
    assert manager.start() is True
    try:
        assert _healthz(port) == (200, "ok\n")
        assert _cli(world, "status").returncode == 0
        # The state file turns into a FIFO under the running daemon: every poll now fails, and
        # the state cannot record that.
        state = world.home / "state.json"
        JsonStateManager(state).load()
        state.unlink()
        os.mkfifo(state)
        wait_for(lambda: "FIFO" in _healthz(port)[1], "/healthz to name the failure")
        code, body = _healthz(port)
        # Named at once; the liveness verdict (503) still waits for 3 intervals, at least 2 min,
        # so that a short Google outage does not restart pods.
        assert (code, body.startswith("failing: ")) == (200, True), body
        status = _cli(world, "status", "--json")
        assert status.returncode == EXIT_FAILING
        [notify] = [s for s in json.loads(status.stdout)["services"] if s["name"] == "notify"]
        assert notify["state"] == "failing"
        assert "is a FIFO, not a regular file" in notify["last_error"]
        table = _cli(world, "status")
        assert "failing" in table.stdout
    finally:
        assert manager.stop() is True
    assert not manager.health_file.exists()


def test_a_fifo_config_hangs_no_command(world: DaemonWorld) -> None:
    world.config_path.unlink()
    os.mkfifo(world.config_path)  # nobody ever writes to it
    for args in (["status"], ["start", "notify"], ["run", "notify", "--once"], ["doctor"]):
        done = _cli(world, *args)
        assert done.returncode != 0, (args, done)
        assert "a FIFO, not a regular file" in done.stdout + done.stderr, (args, done)
    assert _cli(world, "stop").returncode == 0  # needs no config: nothing runs


@pytest.mark.parametrize("name", ["syft-notify.pid", "syft-notify.log", "syft-notify.health.json"])
def test_a_fifo_among_the_daemon_files_hangs_no_command(world: DaemonWorld, name: str) -> None:
    os.mkfifo(world.home / name)
    status = _cli(world, "status")
    assert status.returncode == 1, status  # notify is configured and not running
    assert _cli(world, "logs", "notify").returncode == 0
    assert _cli(world, "stop", "notify").returncode == 0
