"""Compaction keeps state bounded and never forgets what still matters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import (
    CompactionPolicy,
    JsonStateManager,
    MemoryStateManager,
    NotifiedRecord,
    SeenRecord,
    SendIntent,
    StateDocument,
    ThreadRecord,
    compact_document,
    to_timestamp,
)

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _doc(*, seen_ages: list[int], notified_ages: list[int]) -> StateDocument:
    """Entries named by age in days: seen `s<age>`, notified `new_job:j<age>:do`."""
    doc = StateDocument()
    for age in seen_ages:
        doc.seen[f"s{age}"] = SeenRecord(at=to_timestamp(NOW - age * DAY), kind="file")
    for age in notified_ages:
        doc.notified[f"new_job:j{age}:do"] = NotifiedRecord(
            sent_at=to_timestamp(NOW - age * DAY), message_id=f"<{age}@x>"
        )
    return doc


def test_small_state_is_never_trimmed_whatever_its_age() -> None:
    doc = _doc(seen_ages=[1000, 2000], notified_ages=[3000])
    report = compact_document(doc, CompactionPolicy(max_entries=5), now=NOW)
    assert not report.changed
    assert len(doc.seen) == 2
    assert len(doc.notified) == 1


def test_young_entries_are_kept_beyond_the_count() -> None:
    doc = _doc(seen_ages=list(range(10)), notified_ages=list(range(10)))
    report = compact_document(doc, CompactionPolicy(max_entries=3), now=NOW)
    assert not report.changed
    assert len(doc.seen) == 10


def test_old_entries_beyond_the_count_go_oldest_first() -> None:
    ages = [1, 2, 200, 300, 400, 500]
    doc = _doc(seen_ages=ages, notified_ages=ages)
    policy = CompactionPolicy(retention=180 * DAY, max_entries=3)
    report = compact_document(doc, policy, now=NOW)
    assert (report.dropped_seen, report.dropped_notified) == (3, 3)
    assert set(doc.seen) == {"s1", "s2", "s200"}  # s200 is old but within the newest 3
    assert set(doc.notified) == {"new_job:j1:do", "new_job:j2:do", "new_job:j200:do"}
    assert report.size_bytes == len(doc.to_json_bytes())


def test_count_bound_holds_for_large_old_state() -> None:
    ages = list(range(200, 1200))
    doc = _doc(seen_ages=ages, notified_ages=ages)
    report = compact_document(doc, CompactionPolicy(max_entries=100), now=NOW)
    assert len(doc.seen) == len(doc.notified) == 100
    assert max(int(k[1:]) for k in doc.seen) == 299  # the newest survived
    assert report.dropped_seen == report.dropped_notified == 900


def test_intents_are_never_dropped() -> None:
    doc = _doc(seen_ages=[400, 500], notified_ages=[400, 500])
    for age in (1000, 2000):
        key = f"new_job:i{age}:do"
        doc.intents[key] = SendIntent(
            notification_key=key, message_id="<m@x>", recorded_at=to_timestamp(NOW - age * DAY)
        )
    report = compact_document(doc, CompactionPolicy(max_entries=0, max_bytes=10), now=NOW)
    assert set(doc.intents) == {"new_job:i1000:do", "new_job:i2000:do"}
    assert doc.seen == {}
    assert doc.notified == {}
    assert report.over_budget


def test_threads_go_with_their_last_notified_entry() -> None:
    doc = _doc(seen_ages=[], notified_ages=[300, 400, 500])
    doc.notified["job_approved:j300:do"] = NotifiedRecord(sent_at=to_timestamp(NOW - DAY))
    doc.intents["job_executed:j500:do"] = SendIntent(
        notification_key="job_executed:j500:do", message_id="<m>", recorded_at=to_timestamp(NOW)
    )
    for job in ("j300", "j400", "j500", "unrelated"):
        doc.threads[job] = ThreadRecord(message_id=f"<{job}>")
    report = compact_document(doc, CompactionPolicy(max_entries=1), now=NOW)
    assert report.dropped_notified == 3
    # j300 still has a recent email, j500 a pending send, `unrelated` lost no entry.
    assert set(doc.threads) == {"j300", "j500", "unrelated"}
    assert report.dropped_threads == 1


def test_max_bytes_drops_oldest_regardless_of_age() -> None:
    doc = _doc(seen_ages=list(range(0, 400, 2)), notified_ages=list(range(1, 400, 2)))
    full = len(doc.to_json_bytes())
    budget = full // 3
    report = compact_document(doc, CompactionPolicy(max_bytes=budget), now=NOW)
    assert report.size_bytes <= budget
    assert report.size_bytes == len(doc.to_json_bytes())
    assert not report.over_budget
    kept = [int(k[1:]) for k in doc.seen] + [int(k.split(":")[1][1:]) for k in doc.notified]
    # Oldest first across both collections: what is left is exactly the youngest entries.
    assert sorted(kept) == list(range(len(kept)))
    assert 0 < len(kept) < 400


def test_max_bytes_frees_threads_with_their_jobs_and_keeps_recent_jobs() -> None:
    # Thread roots alone are larger than the budget: dropping a job's emails must free its
    # thread in the same pass, or compaction empties everything (found by the state benchmark).
    ages = list(range(1, 1000))
    doc = _doc(seen_ages=[], notified_ages=ages)
    for age in ages:
        doc.threads[f"j{age}"] = ThreadRecord(
            message_id=f"<thread-root-{age}-{'x' * 60}@mail.example>", thread_id=f"t{age}"
        )
    threads_only = len(StateDocument(threads=dict(doc.threads)).to_json_bytes())
    budget = threads_only // 2
    report = compact_document(doc, CompactionPolicy(max_bytes=budget), now=NOW)
    assert report.size_bytes <= budget
    assert not report.over_budget
    kept = sorted(int(k.split(":")[1][1:]) for k in doc.notified)
    assert kept, "recent jobs survive"
    assert kept == list(range(1, len(kept) + 1))  # exactly the youngest
    assert set(doc.threads) == {f"j{age}" for age in kept}  # each kept job keeps its thread
    assert report.dropped_threads == len(ages) - len(kept)
    # Not over-dropped: one more job would not have fit.
    assert len(kept) > len(ages) // 4


def test_max_bytes_reports_when_unreachable() -> None:
    doc = StateDocument(data={"big": "x" * 5000})
    report = compact_document(doc, CompactionPolicy(max_bytes=1000), now=NOW)
    assert report.over_budget
    assert report.size_bytes > 1000
    assert doc.data == {"big": "x" * 5000}


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        CompactionPolicy(max_entries=-1)
    with pytest.raises(ValueError, match="retention"):
        CompactionPolicy(retention=-DAY)
    with pytest.raises(ValueError, match="max_bytes"):
        CompactionPolicy(max_bytes=0)


@pytest.mark.parametrize("backend", ["json", "memory"])
def test_manager_compact_uses_its_policy_and_writes_only_on_change(
    backend: str, tmp_path: Path
) -> None:
    if backend == "json":
        manager: JsonStateManager | MemoryStateManager = JsonStateManager(
            tmp_path / "state.json", max_entries=2
        )
    else:
        manager = MemoryStateManager(policy=CompactionPolicy(max_entries=2))
    for age in (1, 300, 400, 500):
        Ledger(manager).mark_seen([f"s{age}"], "file", now=NOW - age * DAY)
    Ledger(manager).record_intent(
        SendIntent(
            notification_key="k", message_id="<m>", recorded_at=to_timestamp(NOW - 999 * DAY)
        )
    )
    report = manager.compact(now=NOW)
    assert report.dropped_seen == 2
    assert set(manager.load().seen) == {"s1", "s300"}
    assert [i.notification_key for i in Ledger(manager).pending_intents()] == ["k"]
    assert report.size_bytes <= manager.size_bytes() <= report.size_bytes + 1  # + newline

    again = manager.compact(now=NOW)
    assert not again.changed
    stricter = manager.compact(now=NOW, policy=CompactionPolicy(max_entries=0, retention=DAY))
    assert stricter.dropped_seen == 1
    assert set(manager.load().seen) == {"s1"}
