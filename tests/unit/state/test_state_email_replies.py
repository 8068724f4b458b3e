"""The approve service's email-reply feed is a typed, bounded record of the state document."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from syft_monitors.state import (
    SCHEMA_VERSION,
    CompactionPolicy,
    EmailRepliesRecord,
    HandledReply,
    JsonStateManager,
    StateDocument,
    compact_document,
    to_timestamp,
)

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

#: A state file as the previous version (schema 3) wrote it: the reply feed in free-form data.
#: The third handled entry has no readable timestamp and is dropped.
VERSION_3_WITH_REPLIES = json.dumps(
    {
        "schema_version": 3,
        "cursors": {"approve": "812"},
        "data": {
            "mine": 1,
            "email_replies": {
                "history_id": "4711",
                "handled": {
                    "m1": {"outcome": "approved", "at": "2026-05-01T10:00:00+00:00"},
                    "m2": {"outcome": "refused", "at": "2026-05-02T10:00:00+00:00"},
                    "m3": {"outcome": "unknown", "at": "yesterday"},
                },
            },
        },
    }
)


def test_a_version_3_document_keeps_its_reply_feed_as_a_typed_record(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(VERSION_3_WITH_REPLIES, encoding="utf-8")
    state = JsonStateManager(path)
    doc = state.load()
    assert doc.email_replies == EmailRepliesRecord(
        history_id="4711",
        handled={
            "m1": HandledReply(outcome="approved", at="2026-05-01T10:00:00+00:00"),
            "m2": HandledReply(outcome="refused", at="2026-05-02T10:00:00+00:00"),
        },
    )
    assert doc.data == {"mine": 1}
    state.set_data("mine", 2)  # the first write stores the new format
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["schema_version"] == SCHEMA_VERSION
    assert stored["data"] == {"mine": 2}
    assert stored["email_replies"]["history_id"] == "4711"
    assert set(stored["email_replies"]["handled"]) == {"m1", "m2"}
    assert JsonStateManager(path).load().email_replies == doc.email_replies


def test_an_unreadable_legacy_section_only_costs_a_rebaseline() -> None:
    doc = StateDocument.model_validate(
        {"schema_version": 3, "data": {"email_replies": {"history_id": 12, "handled": []}}}
    )
    assert doc.email_replies == EmailRepliesRecord()
    assert doc.data == {}


def test_the_typed_record_wins_over_a_leftover_legacy_section() -> None:
    doc = StateDocument.model_validate(
        {
            "email_replies": {"history_id": "new"},
            "data": {"email_replies": {"history_id": "old"}},
        }
    )
    assert doc.email_replies.history_id == "new"
    assert doc.data == {}


def test_handled_replies_are_capped_oldest_first() -> None:
    record = EmailRepliesRecord()
    for day in range(5):
        record = record.with_handled(
            {f"m{day}": "approved"}, to_timestamp(NOW + day * DAY), limit=3
        )
    assert list(record.handled) == ["m2", "m3", "m4"]
    again = record.with_handled({"m4": "refused"}, to_timestamp(NOW + 9 * DAY), limit=3)
    assert again == record  # a reply is recorded once, with its first outcome


def test_compaction_drops_old_handled_replies_beyond_the_kept_count() -> None:
    doc = StateDocument()
    handled = {
        f"m{age}": HandledReply(outcome="approved", at=to_timestamp(NOW - age * DAY))
        for age in (1, 2, 200, 300, 400)
    }
    doc.email_replies = EmailRepliesRecord(history_id="9", handled=handled)
    policy = CompactionPolicy(retention=dt.timedelta(days=180), max_entries=3)
    report = compact_document(doc, policy, now=NOW)
    # Two over the count: the two oldest go; m200 is old too but within the kept count.
    assert report.dropped_replies == 2
    assert report.changed
    assert set(doc.email_replies.handled) == {"m1", "m2", "m200"}
    assert doc.email_replies.history_id == "9"
    young = StateDocument()
    young.email_replies = EmailRepliesRecord(
        handled={f"m{n}": HandledReply(outcome="x", at=to_timestamp(NOW)) for n in range(10)}
    )
    assert compact_document(young, policy, now=NOW).dropped_replies == 0
    assert len(young.email_replies.handled) == 10
