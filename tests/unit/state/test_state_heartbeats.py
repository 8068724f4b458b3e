"""Each monitor on a shared state keeps its own heartbeat; the aggregate covers them all."""

from __future__ import annotations

import datetime as dt

from syft_monitors.state.memory import MemoryStateManager


def test_monitors_sharing_a_state_keep_separate_heartbeats() -> None:
    state = MemoryStateManager()
    morning = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
    state.record_poll(True, now=morning, events=2, monitor="notify")
    state.record_poll(False, "drive down", now=morning + dt.timedelta(minutes=1), monitor="approve")

    notify, approve = state.heartbeat("notify"), state.heartbeat("approve")
    assert notify.last_error is None
    assert notify.events_today == 2
    assert approve.last_error == "drive down"
    assert approve.last_success_at is None
    together = state.heartbeat()
    assert together.events_today == 2
    assert together.last_error == "drive down"
    assert state.heartbeat("unknown").last_poll_at is None


def test_heartbeat_without_monitor_name_updates_only_the_aggregate() -> None:
    state = MemoryStateManager()
    state.record_poll(True)
    assert state.heartbeat().last_poll_at is not None
    assert state.load().heartbeats == {}
