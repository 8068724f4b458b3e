"""Flood control's pure policy: windows, budgets, priorities, pauses, digest emails."""

from __future__ import annotations

import datetime as dt

import pytest

from syft_monitors.notify import flood
from syft_monitors.notify.flood import BURST_GROUP, FloodConfig
from syft_monitors.state.model import DigestItem, DigestRecord, FloodState

NOON = dt.datetime(2026, 12, 7, 12, 0, 30, tzinfo=dt.UTC).timestamp()


def sent(state: FloodState, label: str, who: str, n: int, *, to_owner: bool = True) -> FloodState:
    for _ in range(n):
        state = flood.count_send(state, label, who, to_owner=to_owner, now=NOON)
    return state


def test_day_and_window_roll_over() -> None:
    state = sent(flood.current(FloodState(), NOON), "new_job", "a@x", 3)
    assert (state.sent_high, state.counts[flood.sender_group("a@x")]) == (3, 3)
    later = flood.current(state, NOON + 3600)
    assert later.counts == {}
    assert later.sent_high == 3  # same day
    tomorrow = flood.current(state, NOON + 86400)
    assert (tomorrow.sent_high, tomorrow.sent_low) == (0, 0)


def test_peer_requests_fold_after_the_burst_threshold_jobs_do_not() -> None:
    config = FloodConfig(burst_threshold=2)
    state = sent(flood.current(FloodState(), NOON), "new_peer", "s1@x", 1)
    state = sent(state, "new_peer", "s2@x", 1)
    folded = flood.decide(config, state, "new_peer", "s3@x", NOON)
    assert (folded.action, folded.reason, folded.group) == ("fold", "burst", BURST_GROUP)
    assert flood.decide(config, state, "new_job", "s3@x", NOON).action == "send"


def test_copies_to_the_requester_count_against_the_budget_only() -> None:
    state = sent(flood.current(FloodState(), NOON), "new_peer", "s@x", 5, to_owner=False)
    assert state.counts == {}
    assert state.sent_low == 5


def test_low_share_spent_folds_strangers_and_keeps_the_reserve_for_jobs() -> None:
    config = FloodConfig(daily_budget=10, low_priority_share=0.2, burst_threshold=100)
    state = sent(flood.current(FloodState(), NOON), "new_peer", "s@x", 2, to_owner=False)
    assert flood.remaining(config, state) == (8, 0)
    assert flood.decide(config, state, "new_peer", "t@x", NOON).reason == "low_budget"
    assert flood.decide(config, state, "new_job", "a@x", NOON).action == "send"
    spent = sent(state, "new_job", "a@x", 8, to_owner=False)
    held = flood.decide(config, spent, "new_job", "a@x", NOON)
    assert (held.action, held.reason) == ("defer", "daily_budget")
    assert held.retry_after == pytest.approx(flood.next_utc_midnight(NOON) - NOON)


def test_per_sender_budget_applies_to_accepted_peers_too() -> None:
    config = FloodConfig(per_sender_per_hour=3)
    state = sent(flood.current(FloodState(), NOON), "new_job", "a@x", 3)
    decision = flood.decide(config, state, "job_executed", "A@X", NOON)
    assert (decision.action, decision.reason) == ("fold", "per_sender")
    assert flood.decide(config, state, "new_job", "b@x", NOON).action == "send"


def test_pause_holds_low_priority_only_and_is_sized_by_reason() -> None:
    config = FloodConfig(quota_pause_seconds=900)
    daily = flood.pause_seconds(config, "dailyLimitExceeded", None, daily=True, now=NOON)
    assert daily == pytest.approx(flood.next_utc_midnight(NOON) - NOON)
    assert flood.pause_seconds(config, "userRateLimitExceeded", 5.0, daily=False, now=NOON) == 900
    assert flood.pause_seconds(config, "rateLimitExceeded", 5.0, daily=False, now=NOON) == 60
    state = flood.pause_low(flood.current(FloodState(), NOON), 900, now=NOON)
    assert flood.decide(config, state, "new_peer", "s@x", NOON).action == "defer"
    assert flood.decide(config, state, "new_job", "a@x", NOON).action == "send"
    assert flood.decide(config, state, "new_peer", "s@x", NOON + 901).action == "send"


def test_disabled_sends_everything() -> None:
    state = sent(flood.current(FloodState(), NOON), "new_peer", "s@x", 1000)
    assert flood.decide(FloodConfig(enabled=False), state, "new_peer", "t@x", NOON).action == "send"


def test_digest_key_is_stable_and_hides_the_address() -> None:
    key = flood.digest_key(flood.sender_group("alice@x.example"), NOON - 30)
    assert key == flood.digest_key(flood.sender_group("alice@x.example"), NOON - 30)
    assert "alice" not in key
    assert key.endswith("T120000Z:do")


def test_digest_email_lists_every_request_and_is_the_same_every_time() -> None:
    items = [
        DigestItem(
            key=f"k{n}:{r}", counterpart=f"s{n}@x.example", subject=f"New {n}", to_owner=r == "do"
        )
        for n in range(3)
        for r in ("do", "ds")
    ]
    record = DigestRecord(group=BURST_GROUP, do_email="o@x.example", window_end=NOON, items=items)
    email = flood.plan_digest("digest:abc:do", record, html=True)
    assert email.subject == "3 more peer requests from 3 addresses"
    assert all(f"- s{n}@x.example: New {n}" in email.text for n in range(3))
    assert "3 confirmation emails to the requesters were not sent" in email.text
    again = flood.plan_digest("digest:abc:do", record, html=True)
    assert (again.text, again.html, again.message_id) == (email.text, email.html, email.message_id)


def test_a_digest_past_its_item_cap_counts_the_rest() -> None:
    items = [DigestItem(key="k:do", counterpart="s@x.example", subject="New s")]
    record = DigestRecord(
        group=BURST_GROUP,
        do_email="o@x.example",
        window_end=NOON,
        items=items,
        more_to_owner=4999,
        more_copies=5000,
    )
    email = flood.plan_digest("digest:abc:do", record, html=False)
    assert email.subject == "5000 more peer requests from 5000 addresses"
    assert "... and 4999 more not listed here." in email.text
    assert "5000 confirmation emails" in email.text
