"""Work-item backoff, the heartbeat email, compaction and the metrics endpoint, on the sandbox."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request

import pytest

from syft_monitors.monitors.pipeline import BACKOFF_BASE
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.plan import HEARTBEAT_SUBJECT
from syft_monitors.notify.ratelimit import RateLimiter
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.runtime.delivery import SETTLE_SECONDS
from syft_monitors.state.compaction import CompactionPolicy
from syft_monitors.state.json_file import JsonStateManager
from syft_monitors.state.model import SeenRecord
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DemoWorld
from syft_sandbox.faults import FaultRule


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def subjects(world: DemoWorld) -> list[str]:
    return [str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO_EMAIL)]


def sends_since(world: DemoWorld, mark: int) -> int:
    return len(world.sandbox.requests(mark, api="gmail", method="messages.send"))


def test_failed_send_waits_for_its_backoff_then_sends_once(world: DemoWorld) -> None:
    clock = FakeClock()
    world.monitor.pipeline.clock = clock
    world.monitor.dispatcher.clock = clock
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    world.owner.accept_peer(DS_ALICE)
    world.poll()  # baseline: the accepted peer existed before the monitor
    world.sandbox.faults.add(
        FaultRule.server_error(503, api="gmail", method="messages.send", times=1)
    )
    alice.submit_job(DO_EMAIL, "flaky", {"main.py": "print(1)\n"})

    assert world.poll() == []
    work = list(world.monitor.state.load().work.values())
    assert len(work) == 1
    assert work[0].attempts == 1
    assert work[0].next_at == pytest.approx(clock.now + BACKOFF_BASE)
    assert work[0].last_error

    # Before the backoff has passed the item is left alone: no send attempt at all.
    clock.now += BACKOFF_BASE / 2
    mark = world.sandbox.mark()
    assert world.poll() == []
    assert sends_since(world, mark) == 0

    # A 503 is ambiguous (Gmail may have sent it): after the backoff the monitor still waits
    # for Sent mail to settle before it looks there, and only then sends.
    clock.now += BACKOFF_BASE
    mark = world.sandbox.mark()
    assert world.poll() == []
    assert sends_since(world, mark) == 0
    assert world.monitor.state.load().work[work[0].file["id"]].next_at > clock.now

    clock.now += SETTLE_SECONDS
    mark = world.sandbox.mark()
    sent = {e.subject for e in world.poll()}
    assert sent == {"Job: flaky", "Job Submitted: flaky"}
    lookups = world.sandbox.requests(mark, api="gmail", method="messages.list")
    assert lookups, "the unsettled email was looked up in Sent mail before resending"
    assert world.monitor.state.load().work == {}
    assert world.monitor.metrics.pending_work._value.get() == 0  # type: ignore[attr-defined]
    # A later poll sends nothing again.
    assert world.poll() == []
    assert subjects(world).count("Job: flaky") == 1


def test_heartbeat_is_sent_once_per_period_across_restarts(world: DemoWorld) -> None:
    clock = FakeClock(start=1_800_000_000.0 - 1_800_000_000.0 % 3600 + 10)
    world.monitor.housekeeping.heartbeat_enabled = True
    world.monitor.housekeeping.heartbeat_interval = 3600
    world.monitor.housekeeping.clock = clock
    world.poll()
    world.poll()
    assert subjects(world).count(HEARTBEAT_SUBJECT) == 1

    # A restarted monitor on the same state, later in the same period: nothing new.
    restarted = NotificationMonitor(
        do_email=DO_EMAIL,
        sender=GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        state=JsonStateManager(world.workdir / "state.json"),
        config={"heartbeat_enabled": True, "heartbeat_interval": 3600},
        drive_token_path=world.token_files[DO_EMAIL],
        syftbox_root=None,
        google_api_root=world.server.url,
        strategy="changes",
        drive=None,
        metrics=None,
    )
    restarted.housekeeping.clock = clock
    clock.now += 1000
    restarted.check()
    assert subjects(world).count(HEARTBEAT_SUBJECT) == 1

    clock.now += 3600  # next period
    restarted.check()
    assert subjects(world).count(HEARTBEAT_SUBJECT) == 2


def test_heartbeat_is_off_by_default(world: DemoWorld) -> None:
    world.poll()
    world.poll()
    assert HEARTBEAT_SUBJECT not in subjects(world)


def test_old_entries_are_compacted_and_size_reported(world: DemoWorld) -> None:
    world.poll()
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC).isoformat()

    def plant(doc):  # type: ignore[no-untyped-def]
        for index in range(500):
            doc.seen[f"stale:{index}"] = SeenRecord(at=old, kind="job_message")

    world.monitor.state.update(plant)
    # Keep few entries whatever their age, so the planted ones are both old and surplus.
    world.monitor.state.policy = CompactionPolicy(max_entries=20)
    bloated = world.monitor.state.size_bytes()
    world.monitor.housekeeping._compacted_at = None  # as after a restart
    world.poll()
    doc = world.monitor.state.load()
    assert len(doc.seen) == 20  # the 480 oldest of the 500 old entries are gone
    size = world.monitor.state.size_bytes()
    assert size < bloated
    gauge = world.monitor.metrics.state_size._value.get()  # type: ignore[attr-defined]
    assert gauge == size


def test_metrics_port_from_config_serves_metrics_and_health(world: DemoWorld) -> None:
    monitor = NotificationMonitor(
        do_email=DO_EMAIL,
        sender=GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        state=JsonStateManager(world.workdir / "state-metrics.json"),
        config={"metrics_port": 0},
        drive_token_path=world.token_files[DO_EMAIL],
        syftbox_root=None,
        google_api_root=world.server.url,
        strategy="changes",
        drive=None,
        metrics=None,
    )
    monitor.start(interval=1)
    try:
        server = monitor.metrics_server
        assert server is not None
        base = f"http://127.0.0.1:{server.port}"
        deadline = 100
        while monitor.checks < 2 and deadline:
            monitor._stop_event.wait(0.05)
            deadline -= 1
        with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'syft_monitor_polls_total{monitor="notify",outcome="ok"}' in text
        assert 'syft_monitor_google_requests_total{api="drive",method="changes.list"' in text
        assert "syft_monitor_state_size_bytes" in text
        assert 'syft_monitor_poll_interval_seconds{monitor="notify"} 1.0' in text
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        monitor.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "/healthz", timeout=2)


def test_full_sending_window_defers_to_later_polls_instead_of_blocking(world: DemoWorld) -> None:
    # 3 sends per minute; 3 jobs need 6 emails. A poll sends what fits and returns at once:
    # a poll blocked for minutes would detect nothing and look dead to /healthz.
    limiter_clock = FakeClock()
    clock = FakeClock()
    world.monitor.pipeline.clock = clock
    world.monitor.dispatcher.clock = clock
    world.monitor.sender.rate_limiter = RateLimiter(
        3, clock=limiter_clock, sleep=lambda _s: pytest.fail("a poll must not sleep")
    )
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    world.owner.accept_peer(DS_ALICE)
    world.poll()  # baseline
    for index in range(3):
        alice.submit_job(DO_EMAIL, f"burst {index}", {"main.py": f"print({index})\n"})

    assert len(world.poll()) == 3
    work = world.monitor.state.load().work
    assert work, "the rest waits in the state"
    assert all(record.attempts == 0 for record in work.values())  # not counted as failures
    assert world.monitor.metrics.errors.labels("send")._value.get() == 0  # type: ignore[attr-defined]

    limiter_clock.now += 61
    clock.now += 61
    assert len(world.poll()) == 3
    assert world.monitor.state.load().work == {}
    keys = [m.message["X-Syft-Monitor-Key"] for m in world.sandbox.sent_mail(DO_EMAIL)]
    assert len(keys) == len(set(keys)) == 6


SEND_ONLY = (
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/gmail.send",
)


def test_send_only_token_resends_instead_of_holding_the_email(
    world: DemoWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """gmail.send cannot search Sent mail (Google answers 403): after an ambiguous failure the
    email goes out again (at least once) instead of waiting forever for a lookup."""
    clock = FakeClock()
    world.monitor.pipeline.clock = clock
    world.monitor.dispatcher.clock = clock
    world.sandbox.grant_scopes(DO_EMAIL, SEND_ONLY)
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    world.owner.accept_peer(DS_ALICE)
    world.poll()
    assert world.monitor.metrics.registry.get_sample_value(
        "syft_monitor_polls_total", {"monitor": "notify", "outcome": "ok"}
    )

    def config_errors() -> float:
        value = world.monitor.metrics.registry.get_sample_value(
            "syft_monitor_errors_total", {"kind": "config"}
        )
        return value or 0.0

    for name in ("first", "second"):
        world.sandbox.faults.add(
            FaultRule.server_error(503, api="gmail", method="messages.send", times=1)
        )
        alice.submit_job(DO_EMAIL, name, {"main.py": "print(1)\n"})
        assert world.poll() == []
        before = config_errors()
        clock.now += BACKOFF_BASE + SETTLE_SECONDS
        mark = world.sandbox.mark()
        sent = {e.subject for e in world.poll()}
        assert sent == {f"Job: {name}", f"Job Submitted: {name}"}
        statuses = [r.status for r in world.sandbox.requests(mark, method="messages.list")]
        assert statuses, "the unsettled email was looked up in Sent mail"
        assert set(statuses) == {403}, "and the lookup was refused"
        assert config_errors() > before
        assert world.monitor.state.load().work == {}
        assert world.monitor.state.load().intents == {}
    warnings = [
        r.getMessage() for r in caplog.records if "cannot search Sent mail" in r.getMessage()
    ]
    assert len(warnings) == 1, "logged once, not once per email"
    assert "gmail.readonly or gmail.modify" in warnings[0]
    # Nothing is sent twice by later polls, and the monitor never backed off as for a dead token.
    assert world.poll() == []
    assert subjects(world).count("Job: first") == 1
    assert world.monitor._next_wait(30.0) == 30.0
    # Counted as configuration, so the "cannot authenticate" alert stays quiet.
    assert not world.monitor.metrics.registry.get_sample_value(
        "syft_monitor_errors_total", {"kind": "auth"}
    )
