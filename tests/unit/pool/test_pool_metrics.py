"""Metrics of a pool: every series of the runtime carries the owner's name."""

from __future__ import annotations

from syft_monitors.pool.metrics import PoolMetrics


def test_owner_series_carry_the_owner_and_leave_with_it() -> None:
    pool = PoolMetrics()
    alice, bob = pool.for_owner("alice"), pool.for_owner("bob")
    alice.init_monitor(["notify"])
    alice.polls.labels("notify", "ok").inc()
    alice.notifications.labels("new_job", "sent").inc(2)
    alice.state_size.set(512)
    alice.observe_request("drive", "changes.list", "ok", 0.1)
    bob.polls.labels("notify", "error").inc()
    text = pool.render().decode()
    assert 'syft_monitor_polls_total{monitor="alice",outcome="ok"} 1.0' in text
    assert 'syft_monitor_polls_total{monitor="bob",outcome="error"} 1.0' in text
    assert 'monitor="notify"' not in text
    assert (
        'syft_monitor_notifications_total{event="new_job",monitor="alice",outcome="sent"} 2.0'
        in text
    )
    assert 'syft_monitor_state_size_bytes{monitor="alice"} 512.0' in text
    assert (
        'syft_monitor_google_requests_total{api="drive",method="changes.list",monitor="alice",'
        'outcome="ok"} 1.0' in text
    )
    assert 'syft_monitor_errors_total{kind="auth",monitor="bob"} 0.0' in text
    pool.forget("alice")
    text = pool.render().decode()
    assert 'monitor="alice"' not in text
    assert 'monitor="bob"' in text
