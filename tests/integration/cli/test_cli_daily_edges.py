"""Daily commands without surprises: defaults to the configured services, a one-line summary
for `run --once`, the `init` hint wherever a config is missing, a poll of an earlier process
shown as such."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from daemon_testkit import DO, DS, DaemonWorld

from syft_monitors.cli.main import cli
from syft_monitors.cli.service_cmds import _last_poll
from syft_monitors.services.manager import ServiceStatus

APPROVE = {"approved_domains": ["uni.example"], "interval": 1}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syft_monitors.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )


def test_logs_without_a_service_shows_the_configured_ones(world: DaemonWorld) -> None:
    (world.home / "syft-notify.log").write_text("n1\nn2\n")
    alone = CliRunner().invoke(cli, ["logs", "-n", "1"])
    assert alone.exit_code == 0, alone.output
    assert alone.output == "n2\n"

    world.write_config(approve=APPROVE)
    (world.home / "syft-approve.log").write_text("a1\n")
    both = CliRunner().invoke(cli, ["logs", "-n", "1"])
    assert both.exit_code == 0, both.output
    assert both.output.splitlines() == ["notify  | n2", "approve | a1"]


def test_logs_follow_without_a_service(world: DaemonWorld) -> None:
    log = world.home / "syft-notify.log"
    log.write_text("one\ntwo\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "syft_monitors.cli", "logs", "-f", "-n", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "two\n"
        with log.open("a") as file:
            file.write("three\n")
        assert process.stdout.readline() == "three\n"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Missing argument" not in err


def test_ensure_running_without_a_service_starts_the_configured_ones(
    world: DaemonWorld,
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["ensure-running"])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.startswith("notify: running (PID ")
    assert "approve" not in result.output  # not configured
    assert runner.invoke(cli, ["stop"]).exit_code == 0


def test_run_once_prints_one_line(world: DaemonWorld) -> None:
    first = _cli("run", "notify", "--once")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("\n") == 1
    assert first.stdout.startswith("notify: first poll: ")
    assert "baseline" in first.stdout

    scientist = world.scientist(DS)
    scientist.request_peer(DO)
    scientist.submit_job(DO, "row count", {"main.py": "print(1)\n"})
    second = _cli("run", "notify", "--once")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("\n") == 1
    assert second.stdout.startswith("notify: poll ok: ")
    assert "2 events, 4 emails sent" in second.stdout, second.stdout

    world.sandbox.revoke_user(DO)
    failed = _cli("run", "notify", "--once")
    assert failed.returncode == 1
    assert failed.stdout.startswith("notify: poll failed: re-authorize")


@pytest.mark.parametrize(
    "args",
    [
        ["start"],
        ["start", "notify"],
        ["logs"],
        ["logs", "-f"],
        ["ensure-running"],
        ["run", "notify", "--once"],
        ["restart"],
    ],
)
def test_commands_without_a_config_say_init(world: DaemonWorld, args: list[str]) -> None:
    world.config_path.unlink()
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "config file not found" in result.stderr
    assert "`syft-bg init`" in result.stderr


def _status(*, uptime: float, poll_age: float) -> ServiceStatus:
    stamp = (datetime.now(UTC) - timedelta(seconds=poll_age)).isoformat()
    return ServiceStatus(
        name="notify",
        description="",
        running=True,
        pid=1,
        uptime_seconds=uptime,
        configured=True,
        last_poll_at=stamp,
        last_error=None,
        events_today=0,
        log_file=Path("x.log"),
        error_log_file=Path("x.error.log"),
    )


def test_last_poll_of_an_earlier_process_is_shown_as_such() -> None:
    assert _last_poll(_status(uptime=4, poll_age=7)).endswith("ago (previous run)")
    assert "previous" not in _last_poll(_status(uptime=100, poll_age=7))
