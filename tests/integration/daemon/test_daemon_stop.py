"""`stop()` is prompt whatever the daemon is doing, and returns only once the process is gone.

Before, SIGTERM was acted on only between polls: with Google refusing or hanging, or a backlog
of slow sends, every stop took the full 10 s and ended in SIGKILL. The bounds below are
generous (the SIGKILL deadline is 10 s); the measured times are printed (`pytest -s`) and kept
in docs/reliability.md.
"""

from __future__ import annotations

import time

import pytest
from daemon_testkit import DO, DaemonWorld, wait_for

from syft_monitors.daemon.manager import STOP_TIMEOUT
from syft_monitors.daemon.process import is_alive
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import FaultRule

#: Well before SIGKILL, with room for a loaded 2-core machine.
PROMPT = 5.0


def _baselined(world: DaemonWorld) -> bool:
    state = world.home / "state.json"
    return state.exists() and bool(JsonStateManager(state).load().cursors)


def _timed_stop(world: DaemonWorld, what: str) -> float:
    manager = world.manager()
    pid = manager.get_pid()
    assert pid is not None
    started = time.monotonic()
    assert manager.stop() is True
    elapsed = time.monotonic() - started
    assert not is_alive(pid)  # stop() returned: the process is gone
    print(f"\nstop while {what}: {elapsed:.2f} s")
    logs = world.log_text() + world.log_text(errors=True)
    assert "SIGKILL" not in logs
    assert "notify stopped after" in logs
    JsonStateManager(world.home / "state.json").load()  # still a readable document
    return elapsed


def _start(world: DaemonWorld) -> None:
    assert world.manager().start() is True
    wait_for(lambda: _baselined(world), "the first (silent) baseline poll")


def test_stop_when_idle(world: DaemonWorld) -> None:
    world.write_config(interval=3600)
    _start(world)
    assert _timed_stop(world, "idle") < PROMPT


@pytest.mark.parametrize(
    ("what", "fault"),
    [
        ("backing off (Drive answers 503)", FaultRule.server_error(503, api="drive")),
        ("waiting on a hanging server", FaultRule.slow(60.0, api="drive")),
        ("backing off (connections reset)", FaultRule.reset(api="drive")),
    ],
)
def test_stop_while_the_poll_waits_on_google(
    world: DaemonWorld, what: str, fault: FaultRule
) -> None:
    _start(world)
    rule = world.sandbox.faults.add(fault)
    wait_for(lambda: world.sandbox.faults.hits(rule) >= 2 or "hanging" in what, "a failing request")
    wait_for(lambda: world.sandbox.faults.hits(rule) >= 1, "a poll inside the fault")
    time.sleep(0.3)  # inside the request or the backoff sleep that follows it
    assert _timed_stop(world, what) < PROMPT
    assert "stop interrupted the poll in progress" in world.log_text()
    world.sandbox.faults.remove(rule)
    # Nothing was lost: the next start picks up what arrived meanwhile.
    world.scientist().request_peer(DO)
    _start(world)
    wait_for(
        lambda: any(
            "Peer Request" in str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO)
        ),
        "the peer request email after the restart",
    )
    world.manager().stop()


def test_stop_during_a_backlog_of_slow_sends(world: DaemonWorld) -> None:
    _start(world)
    world.sandbox.faults.add(FaultRule.slow(0.7, api="gmail", method="messages.send"))
    scientist = world.scientist()
    for n in range(15):
        scientist.submit_job(DO, f"job{n:02d}", {"main.py": f"print({n})\n"})
    wait_for(lambda: len(world.sandbox.sent_mail(DO)) >= 3, "the backlog being sent", 60)
    sent_before = len(world.sandbox.sent_mail(DO))
    assert _timed_stop(world, "sending a backlog (0.7 s per send)") < PROMPT
    # Stopped after the send in progress, long before the 30 emails were through.
    assert len(world.sandbox.sent_mail(DO)) <= sent_before + 2


def test_a_hanging_send_is_cut_off_after_the_grace_period(
    world: DaemonWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYFT_STOP_GRACE", "2")
    _start(world)
    rule = world.sandbox.faults.add(FaultRule.slow(60.0, api="gmail", method="messages.send"))
    world.scientist().request_peer(DO)
    wait_for(lambda: world.sandbox.faults.hits(rule) >= 1, "a send in progress", 60)
    elapsed = _timed_stop(world, "a send hangs (grace 2 s)")
    assert 1.5 < elapsed < STOP_TIMEOUT
    assert "a send was cut off after the grace period" in world.log_text()
    # The cut-off send is recorded as unsettled: the next start looks in Sent mail first.
    [intent] = Ledger(JsonStateManager(world.home / "state.json")).pending_intents()
    assert intent.last_error == "send interrupted by a stop"
    assert intent.owner is None
