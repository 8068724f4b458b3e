"""Signals to real daemons: SIGTERM mid-poll, SIGHUP reloads, the SIGKILL fallback."""

from __future__ import annotations

import os
import signal
import urllib.request

import pytest
from daemon_testkit import DO, DS, DaemonWorld, wait_for

from syft_monitors.daemon.process import is_alive
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import FaultRule
from tests.support import free_port


def _baselined(world: DaemonWorld) -> bool:
    state = world.home / "state.json"
    return state.exists() and bool(JsonStateManager(state).load().cursors)


def _subjects(world: DaemonWorld) -> list[str]:
    return [str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO)]


def test_sigterm_mid_poll_keeps_what_the_poll_found(world: DaemonWorld) -> None:
    manager = world.manager(stop_timeout=30)
    assert manager.start() is True
    wait_for(lambda: _baselined(world), "the first (silent) baseline poll")
    slow = world.sandbox.faults.add(FaultRule.slow(2.0, api="drive", method="changes.list"))
    wait_for(lambda: world.sandbox.faults.hits(slow) >= 1, "a poll inside the slow request")
    world.scientist().request_peer(DO)
    pid = manager.get_pid()
    assert pid is not None
    assert manager.stop() is True

    assert not is_alive(pid)
    log = world.log_text()
    assert "notify: stopping (SIGTERM)" in log
    # The slow request was abandoned rather than waited for; the stop was clean all the same.
    assert "stop interrupted the poll in progress" in log
    assert "notify stopped after" in log
    assert "SIGKILL" not in log + world.log_text(errors=True)
    # Nothing was lost: the peer request the abandoned poll would have seen is emailed after
    # the restart.
    world.sandbox.faults.remove(slow)
    assert manager.start() is True
    wait_for(lambda: f"New Peer Request from {DS}" in _subjects(world), "the peer request email")
    assert manager.stop() is True
    assert JsonStateManager(world.home / "state.json").heartbeat().last_success_at is not None


def test_sighup_applies_a_valid_config_on_the_next_poll(world: DaemonWorld) -> None:
    world.write_config(interval=3600)
    manager = world.manager()
    assert manager.start() is True
    wait_for(lambda: _baselined(world), "the first poll")
    polls = world.drive_requests("changes.list")

    world.write_config(interval=1)
    pid = manager.get_pid()
    assert pid is not None
    os.kill(pid, signal.SIGHUP)
    world.wait_for_log("notify: config reloaded")
    assert "(interval 1 s)" in world.log_text()
    # With the old interval (an hour) no further poll would come; the new one polls each second.
    wait_for(lambda: world.drive_requests("changes.list") >= polls + 3, "polls at the new interval")
    assert manager.get_pid() == pid  # same process, state kept
    # Toggles apply too: with new-peer notifications off, a peer request sends nothing.
    world.write_config(interval=1, notify_on_new_peer=False)
    os.kill(pid, signal.SIGHUP)
    wait_for(lambda: world.log_text().count("config reloaded") >= 2, "the second reload")
    world.scientist().request_peer(DO)
    before = world.drive_requests("changes.list")
    wait_for(lambda: world.drive_requests("changes.list") >= before + 2, "two more polls")
    assert not any(s.startswith("New Peer Request") for s in _subjects(world))
    assert manager.stop() is True


def test_sighup_with_an_invalid_config_keeps_the_old_one(world: DaemonWorld) -> None:
    manager = world.manager()
    assert manager.start() is True
    pid = manager.get_pid()
    assert pid is not None
    world.config_path.write_text("do_email: not-an-address\n", encoding="utf-8")
    os.kill(pid, signal.SIGHUP)
    world.wait_for_log("config reload rejected, keeping the previous config", errors=True)
    assert "do_email" in world.log_text(errors=True)
    # Still alive and still polling with the old config.
    before = world.drive_requests("changes.list")
    wait_for(
        lambda: world.drive_requests("changes.list") >= before + 2, "polls after the rejection"
    )
    assert manager.get_pid() == pid
    # A fixed file is then picked up by the next SIGHUP.
    world.write_config(interval=2)
    os.kill(pid, signal.SIGHUP)
    world.wait_for_log("config reloaded from")
    assert manager.stop() is True


def test_sigkill_when_sigterm_is_not_enough(
    world: DaemonWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A send is left to finish for the daemon's grace period; a manager that waits less than
    # that falls back to SIGKILL.
    monkeypatch.setenv("SYFT_STOP_GRACE", "60")
    manager = world.manager(stop_timeout=1.0)
    assert manager.start() is True
    wait_for(lambda: _baselined(world), "the first poll")
    stuck = world.sandbox.faults.add(FaultRule.slow(60.0, api="gmail", method="messages.send"))
    world.scientist().request_peer(DO)
    wait_for(lambda: world.sandbox.faults.hits(stuck) >= 1, "a stuck send")
    pid = manager.get_pid()
    assert pid is not None
    assert manager.stop() is True
    assert not is_alive(pid)
    assert "notify stopped after" not in world.log_text()  # it never got to say goodbye
    # SIGKILL left the PID file behind; stop removed it, and a new start works at once.
    assert not manager.pid_file.exists()
    world.sandbox.faults.remove(stuck)
    assert manager.start() is True
    assert manager.stop() is True


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            return str(reply.read().decode())
    except OSError:
        return None


def test_metrics_port_is_served_and_survives_a_reload(world: DaemonWorld) -> None:
    port = free_port()
    world.write_config(metrics_port=port)
    manager = world.manager()
    assert manager.start() is True
    first = wait_for(
        lambda: (
            (text := _scrape(port)) and 'syft_monitor_polls_total{monitor="notify"' in text and text
        ),
        "metrics with a poll counter",
    )
    assert "syft_monitor_poll_duration_seconds" in first
    assert 'syft_monitor_poll_interval_seconds{monitor="notify"} 1.0' in first
    pid = manager.get_pid()
    assert pid is not None
    reloads = world.log_text().count("config reloaded")
    world.write_config(metrics_port=port, interval=2)
    os.kill(pid, signal.SIGHUP)
    wait_for(lambda: world.log_text().count("config reloaded") > reloads, "the reload")
    # The new monitor serves the same port with the same counters (they only grow), and the
    # new interval that alerts measure staleness in.
    after = wait_for(lambda: _scrape(port), "metrics after the reload")
    assert 'syft_monitor_poll_interval_seconds{monitor="notify"} 2.0' in after
    assert "cannot serve metrics" not in world.log_text(errors=True)
    assert manager.stop() is True
    assert _scrape(port) is None
