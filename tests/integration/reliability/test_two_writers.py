"""Two processes on one state, with slow Gmail sends and a Sent-mail index that lags behind them.

Before intents had holders, a second `syft-bg run notify` on the same config took the first
one's in-flight intent for a crash leftover, found nothing in Sent mail (the send was still in
progress, or not searchable yet) and sent the email again: 7 of 30 emails twice, all of them
when sends took 0.7 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import FaultRule
from tests.integration.daemon.daemon_testkit import DO, DS, DaemonWorld, daemon_world
from tests.support import wait_for

JOBS = 55  # two emails each (owner and scientist), plus the peer request's: > 100 emails
SEND_SECONDS = 0.25
INDEX_LAG = 2.0


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonWorld]:
    with daemon_world(tmp_path, monkeypatch) as running:
        yield running


def _run(world: DaemonWorld, home: Path, *args: str) -> subprocess.Popen[str]:
    home.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "syft_monitors.cli", "--config", str(world.config_path), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SYFT_MONITOR_HOME": str(home), "SYFT_LOG_FORMAT": "text"},
    )


def _keys(world: DaemonWorld) -> list[str]:
    return [str(m.message["X-Syft-Monitor-Key"]) for m in world.sandbox.sent_mail(DO)]


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def test_two_notify_processes_never_send_an_email_twice(world: DaemonWorld) -> None:
    # Every email is counted by key: flood control would fold one sender's hundred emails.
    world.write_config(flood={"enabled": False})
    world.sandbox.mail.index_lag = INDEX_LAG
    world.sandbox.faults.add(FaultRule.slow(SEND_SECONDS, api="gmail", method="messages.send"))
    # Two daemons under different homes with one config (the second finding), so no
    # PID file stands between them: only the state does.
    first = _run(world, world.root / "home-a", "run", "notify", "-i", "1")
    second = _run(world, world.root / "home-b", "run", "notify", "-i", "1")
    errors = ""
    try:
        state = world.home / "state.json"
        wait_for(
            lambda: state.exists() and bool(JsonStateManager(state).load().cursors), "a baseline"
        )
        scientist = world.scientist()
        scientist.request_peer(DO)
        for n in range(JOBS):
            scientist.submit_job(DO, f"job{n:03d}", {"main.py": f"print({n})\n"})
        expected = 2 * JOBS + 1
        wait_for(lambda: len(set(_keys(world))) >= expected, f"{expected} emails", 240)
        # Both keep polling a little longer: a late duplicate would show up now.
        wait_for(lambda: not JsonStateManager(state).load().intents, "no pending intent", 60)
    finally:
        errors = _stop(first) + _stop(second)
    keys = _keys(world)
    assert len(keys) >= 2 * JOBS + 1
    duplicates = {key: n for key, n in Counter(keys).items() if n > 1}
    assert not duplicates, (len(duplicates), errors[-3000:])
    # They did share the work (each deferred to the other at least once) and said so.
    assert "is being sent by another process on this state" in errors, errors[-3000:]
    assert "another notify process (PID" in errors  # the later of the two says so at start
    assert DS in {m.message["To"] for m in world.sandbox.sent_mail(DO)}
