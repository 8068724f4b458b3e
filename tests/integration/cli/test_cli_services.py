"""`syft-bg start|stop|restart|status|logs|ensure-running|run` with real daemons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from daemon_testkit import DO, DaemonWorld, wait_for

from syft_monitors.cli.main import cli


def _status(world: DaemonWorld) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["status", "--json"])
    document = json.loads(result.output)
    return result.exit_code, {s["name"]: s for s in document["services"]}


def test_start_status_logs_stop(world: DaemonWorld) -> None:
    runner = CliRunner()
    started = runner.invoke(cli, ["start"])
    assert started.exit_code == 0, started.output
    assert started.output.startswith("notify: started (PID ")
    assert "approve" not in started.output  # no approve: rules, so not configured
    again = runner.invoke(cli, ["start", "notify"])
    assert again.exit_code == 0
    assert "notify: already running (PID" in again.output

    wait_for(lambda: _status(world)[1]["notify"]["last_poll_at"], "a recorded poll")
    code, services = _status(world)
    assert code == 0
    notify, approve = services["notify"], services["approve"]
    assert notify["state"] == "running"
    assert notify["configured"] is True
    assert isinstance(notify["pid"], int)
    assert notify["uptime_seconds"] >= 0
    assert notify["last_error"] is None
    assert notify["events_today"] == 0
    assert approve["state"] == "stopped"
    assert approve["configured"] is False

    table = runner.invoke(cli, ["status"])
    assert table.exit_code == 0
    header = table.output.splitlines()[0]
    for column in ("service", "state", "PID", "uptime", "last poll", "last error", "events"):
        assert column in header
    assert f"notify  │ running │ {notify['pid']}" in table.output

    logs = runner.invoke(cli, ["logs", "notify", "-n", "1"])
    assert logs.exit_code == 0
    assert logs.output.count("\n") == 1
    assert " - INFO - " in logs.output

    overview = runner.invoke(cli, [])
    assert overview.exit_code == 0
    assert "main commands:" in overview.output
    assert "running" in overview.output

    stopped = runner.invoke(cli, ["stop"])
    assert stopped.exit_code == 0
    assert stopped.output.splitlines() == ["notify: stopped", "approve: not running"]
    code, services = _status(world)
    assert code == 1  # a configured service is down
    assert services["notify"]["state"] == "stopped"
    assert runner.invoke(cli, ["status"]).exit_code == 1


def test_status_without_a_config(world: DaemonWorld) -> None:
    world.config_path.unlink()
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 2
    assert "config file not found" in result.stderr
    overview = CliRunner().invoke(cli, [])
    assert f"no config file at {world.config_path}" in overview.output


def test_start_all_includes_approve_when_configured(world: DaemonWorld) -> None:
    world.write_config(approve={"approved_domains": ["uni.example"], "interval": 1})
    runner = CliRunner()
    result = runner.invoke(cli, ["start"])
    assert result.exit_code == 0, result.output + result.stderr
    assert [line.split(":")[0] for line in result.output.splitlines()] == [
        "notify",
        "approve",
        "note",  # approve has domains but no rules: it only accepts peers, and says so
    ]
    pids = {name: s["pid"] for name, s in _status(world)[1].items()}
    assert pids["notify"] != pids["approve"]
    assert (world.home / "syft-approve.pid").exists()
    restarted = runner.invoke(cli, ["restart"])
    assert restarted.exit_code == 0
    new = {name: s["pid"] for name, s in _status(world)[1].items()}
    assert set(new.values()).isdisjoint(pids.values())
    assert runner.invoke(cli, ["stop"]).exit_code == 0
    assert not list(world.home.glob("*.pid"))


def test_ensure_running(world: DaemonWorld) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["ensure-running", "notify"])
    assert first.exit_code == 0
    pid = _status(world)[1]["notify"]["pid"]
    assert first.output == f"notify: running (PID {pid})\n"
    assert runner.invoke(cli, ["ensure-running", "notify"]).output == first.output
    restarted = runner.invoke(cli, ["ensure-running", "notify", "--restart"])
    assert restarted.exit_code == 0
    assert _status(world)[1]["notify"]["pid"] != pid
    assert runner.invoke(cli, ["stop", "notify"]).exit_code == 0


def test_failed_start_exits_1_with_the_reason(world: DaemonWorld) -> None:
    world.write_config(sender="smtp")
    result = CliRunner().invoke(cli, ["start", "notify"])
    assert result.exit_code == 1
    assert "error: notify:" in result.stderr
    assert "no smtp: section" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "(hint: `syft-bg logs notify --errors`" in result.stderr


def _run(world: DaemonWorld, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "syft_monitors.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_run_once_in_the_foreground(world: DaemonWorld) -> None:
    done = _run(world, "notify", "--once", env={"SYFT_LOG_FORMAT": "json"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("notify: first poll: ")  # one summary line
    assert world.drive_requests("changes.getStartPageToken") == 1
    assert not list(world.home.glob("*.pid"))  # foreground runs take no PID file
    world.sandbox.revoke_user(DO)
    failed = _run(world, "notify", "--once", env={"SYFT_LOG_FORMAT": "json"})
    assert failed.returncode == 1
    records = [json.loads(line) for line in failed.stderr.splitlines()]
    assert any(r["level"] == "ERROR" and "re-authorize" in r["message"] for r in records), records


def test_run_stops_on_sigterm(world: DaemonWorld) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "syft_monitors.cli", "run", "notify"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SYFT_LOG_FORMAT": "text"},
    )
    try:
        wait_for(lambda: world.drive_requests("changes.list") >= 1, "a foreground poll")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "notify: stopping (SIGTERM)" in err


@pytest.mark.parametrize("flag", ["-f", "--follow"])
def test_logs_follow_a_growing_file(world: DaemonWorld, flag: str) -> None:
    log = world.home / "syft-notify.log"
    log.write_text("one\ntwo\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "syft_monitors.cli", "logs", "notify", flag, "-n", "1"],
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
        # The daemon's handler rotates: the follower moves on to the new file.
        log.rename(Path(str(log) + ".1"))
        log.write_text("four\n")
        assert process.stdout.readline() == "four\n"
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0


def test_run_once_beside_a_daemon_says_it_shares_the_state(world: DaemonWorld) -> None:
    manager = world.manager()
    assert manager.start() is True
    try:
        wait_for((world.home / "state.json.holders").is_dir, "the daemon's lease")
        done = _run(world, "notify", "--once", env={"SYFT_LOG_FORMAT": "text"})
    finally:
        manager.stop()
    assert done.returncode == 0, done.stderr
    assert "another notify process (PID" in done.stderr, done.stderr
    assert "never sent twice" in done.stderr
