"""Flood control through the sandbox (issue 20): a crowd of strangers' peer requests costs the
owner a bounded number of emails, every request is accounted for in a digest, an accepted peer's
job is still emailed within the same poll, and Gmail quota errors hold strangers' mail only.

The monitor talks HTTP to the sandbox with the official clients; only its clock is moved forward
(to close an hourly digest window or end a pause) instead of waiting.
"""

from __future__ import annotations

import email.message
import time

import pytest

from bench.world import add_strangers
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.email import KEY_HEADER
from syft_monitors.notify.flood import WINDOW_SECONDS, next_utc_midnight
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DemoWorld
from syft_sandbox.faults import FaultRule

FLOOD = 300


class Clock:
    """Real time plus a jump the test controls."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def use_clock(world: DemoWorld) -> Clock:
    clock = Clock()
    # Start a minute into an hourly window, so that no window closes before the test means it to.
    now = time.time()
    clock.offset = now - now % WINDOW_SECONDS + WINDOW_SECONDS + 60 - now
    world.monitor.dispatcher.clock = clock
    world.monitor.pipeline.clock = clock
    return clock


def accepted_alice(world: DemoWorld) -> None:
    world.poll()  # baseline: nothing before it is news
    world.scientists[DS_ALICE].request_peer(DO_EMAIL)
    world.owner.accept_peer(DS_ALICE)
    world.poll()


def text_of(message: email.message.Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    for part in parts:
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def test_flood_of_strangers_is_bounded_digested_and_does_not_delay_jobs(
    world: DemoWorld,
) -> None:
    clock = use_clock(world)
    accepted_alice(world)
    strangers = add_strangers(world.sandbox, DO_EMAIL, FLOOD)
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "real analysis", {"main.py": "print(1)\n"})

    first = world.poll()  # one poll interval after the flood and the job landed
    subjects = [m.subject for m in first]
    assert "Job: real analysis" in subjects
    assert "Job Submitted: real analysis" in subjects
    # Jobs come first: the job's emails precede every email about the flood.
    assert subjects.index("Job: real analysis") < min(
        (i for i, s in enumerate(subjects) if "Peer Request" in s), default=len(subjects)
    )
    flood_first = [m for m in first if "real analysis" not in m.subject]
    assert len([m for m in flood_first if m.to == DO_EMAIL]) == 10  # burst_threshold
    assert len(flood_first) == 20  # and the ten requesters' confirmations

    clock.offset += WINDOW_SECONDS  # the hourly window closes: its digest goes out
    later = world.poll()
    assert [m.subject for m in later] == [f"{FLOOD - 10} more peer requests from 290 addresses"]
    digest = later[0]
    owner_total = sum(1 for m in [*flood_first, *later] if m.to == DO_EMAIL)
    assert owner_total <= 20
    assert len(flood_first) + len(later) <= 100

    # Every request is accounted for: emailed on its own, or listed in the digest.
    emailed = {
        m.subject.removeprefix("New Peer Request from ") for m in flood_first if m.to == DO_EMAIL
    }
    body = text_of(digest.record.message)
    listed = {s for s in strangers if f"- {s}:" in body}
    assert emailed | listed == set(strangers)
    assert not emailed & listed
    doc = world.monitor.state.load()
    digest_key = str(digest.record.message[KEY_HEADER])
    folded = [k for k, r in doc.notified.items() if r.digest == digest_key]
    assert len(folded) == 2 * (FLOOD - 10)  # both emails of each folded request
    assert doc.notified[digest_key].provider_id is not None
    assert doc.flood.digests == {}
    assert doc.intents == {}
    assert not doc.work
    assert world.poll() == []  # nothing repeats


def test_daily_quota_error_holds_strangers_mail_not_accepted_peers_jobs(
    world: DemoWorld,
) -> None:
    clock = use_clock(world)
    accepted_alice(world)
    world.sandbox.faults.add(
        FaultRule.quota_403(
            reason="dailyLimitExceeded", api="gmail", method="messages.send", times=1
        )
    )
    [stranger] = add_strangers(world.sandbox, DO_EMAIL, 1)
    assert world.poll() == []  # Gmail refused the stranger's request email: paused
    assert world.monitor.metrics.deferred.labels("quota_pause")._value.get() >= 1
    paused_until = world.monitor.state.load().flood.paused_low_until
    assert paused_until == pytest.approx(next_utc_midnight(clock()), abs=5)

    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "during quota", {"main.py": "print(2)\n"})
    clock.offset += 120  # past the failed send's settling time and any retry backoff
    sent = world.poll()
    assert [m.subject for m in sent] == ["Job: during quota", "Job Submitted: during quota"]
    assert world.poll() == []  # the stranger still waits

    clock.offset += paused_until - clock() + 1  # the next UTC day
    sent = world.poll()
    assert sorted(m.subject for m in sent) == [
        f"New Peer Request from {stranger}",
        f"Peer Request Sent to {DO_EMAIL}",
    ]


def test_user_rate_limit_on_a_job_email_pauses_strangers_first(world: DemoWorld) -> None:
    clock = use_clock(world)
    accepted_alice(world)
    world.sandbox.faults.add(
        FaultRule.quota_403(
            reason="userRateLimitExceeded", api="gmail", method="messages.send", times=1
        )
    )
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "rate limited", {"main.py": "print(3)\n"})
    add_strangers(world.sandbox, DO_EMAIL, 3)
    assert world.poll() == []
    flood = world.monitor.state.load().flood
    assert flood.paused_low_until == pytest.approx(clock() + 3600, abs=5)
    clock.offset += 120
    sent = world.poll()
    # The job's emails go out on retry; the strangers' wait for the pause to end.
    assert [m.subject for m in sent] == ["Job: rate limited", "Job Submitted: rate limited"]
    clock.offset += 3600
    assert len(world.poll()) == 6


def test_noisy_accepted_peer_is_folded_past_its_hourly_budget(world: DemoWorld) -> None:
    clock = use_clock(world)
    accepted_alice(world)  # accepted before the poll: only her "accepted" email, not counted
    for n in range(25):
        world.scientists[DS_ALICE].submit_job(DO_EMAIL, f"noisy {n:02d}", {"main.py": "1\n"})
    sent = world.poll()
    to_owner = [m.subject for m in sent if m.to == DO_EMAIL]
    assert len(to_owner) == 20
    assert len(sent) == 40  # and their "Job Submitted" copies
    assert world.monitor.metrics.senders_folded._value.get() == 1
    clock.offset += WINDOW_SECONDS
    [digest] = world.poll()
    assert digest.subject == "5 more emails from 1 address"
    body = text_of(digest.record.message)
    folded = {f"Job: noisy {n:02d}" for n in range(25)} - set(to_owner)
    assert len(folded) == 5
    assert all(f"{DS_ALICE}: {subject}" in body for subject in folded)
    assert "5 confirmation emails to the requesters were not sent" in body


def test_sandbox_daily_send_limit_answers_gmails_quota_error(world: DemoWorld) -> None:
    clock = use_clock(world)
    accepted_alice(world)
    world.sandbox.mail.daily_send_limit = len(world.sandbox.sent_mail(DO_EMAIL)) + 2
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "fits", {"main.py": "1\n"})
    assert len(world.poll()) == 2
    add_strangers(world.sandbox, DO_EMAIL, 1)
    assert world.poll() == []
    assert world.monitor.metrics.notifications.labels("new_peer", "failed")._value.get() == 1
    # Gmail's reason reached the dispatcher: a daily limit pauses low-priority mail for the day.
    flood = world.monitor.state.load().flood
    assert flood.paused_low_until == pytest.approx(next_utc_midnight(clock()), abs=5)


def test_budget_and_sending_window_survive_a_restart(world: DemoWorld) -> None:
    clock = use_clock(world)
    accepted_alice(world)  # one send ("Peer Request Accepted") within the last minute
    before = world.monitor.state.load().flood
    assert before.sent_high + before.sent_low == 1
    assert len(before.recent_sends) == 1
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "after restart", {"main.py": "1\n"})
    restarted = NotificationMonitor(
        do_email=DO_EMAIL,
        sender=GmailSender(
            world.token_files[DO_EMAIL], api_root=world.server.url, rate_limit_per_minute=1
        ),
        state=JsonStateManager(world.workdir / "state.json"),
        config={},
        drive_token_path=world.token_files[DO_EMAIL],
        syftbox_root=None,
        google_api_root=world.server.url,
        strategy="changes",
        drive=None,
        metrics=MonitorMetrics(),
    )
    restarted.dispatcher.clock = restarted.pipeline.clock = clock
    mark = len(world.sandbox.sent_mail(DO_EMAIL))
    restarted.check()
    # The new process counts the old one's send: its window of 1 per minute is full.
    assert len(world.sandbox.sent_mail(DO_EMAIL)) == mark
    assert restarted.state.load().flood.sent_high == before.sent_high
