"""The state document: validation, copies, JSON round trip, seed-format conversion."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syft_monitors.state import (
    SCHEMA_VERSION,
    Heartbeat,
    NotifiedRecord,
    SeenRecord,
    SendIntent,
    StateDocument,
    ThreadRecord,
    to_timestamp,
)
from syft_monitors.state.model import clip_error, parse_timestamp

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


def test_empty_document_defaults() -> None:
    doc = StateDocument()
    assert doc.schema_version == SCHEMA_VERSION
    assert doc.is_empty
    assert doc.heartbeat == Heartbeat()


def test_timestamps_are_utc_iso_and_naive_means_utc() -> None:
    assert to_timestamp(T0) == "2026-01-02T03:04:05.678901+00:00"
    assert to_timestamp(T0.replace(tzinfo=None)) == to_timestamp(T0)
    paris = dt.timezone(dt.timedelta(hours=1))
    assert to_timestamp(T0.astimezone(paris)) == to_timestamp(T0)
    assert parse_timestamp("2026-01-02T03:04:05") == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_records_reject_bad_timestamps_and_extra_fields() -> None:
    with pytest.raises(ValidationError):
        SeenRecord(at="yesterday", kind="file")
    with pytest.raises(ValidationError):
        NotifiedRecord.model_validate({"sent_at": to_timestamp(T0), "surprise": 1})


def test_records_are_immutable() -> None:
    record = SeenRecord(at=to_timestamp(T0), kind="file")
    with pytest.raises(ValidationError):
        record.kind = "other"


def test_schema_version_outside_known_range_is_invalid() -> None:
    with pytest.raises(ValidationError):
        StateDocument(schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(ValidationError):
        StateDocument(schema_version=0)


def test_working_copy_is_independent() -> None:
    doc = StateDocument(data={"nested": {"list": [1, 2]}}, peers={"a@x.org": "accepted"})
    doc.seen["file:1"] = SeenRecord(at=to_timestamp(T0), kind="file")
    copy = doc.working_copy()
    copy.seen["file:2"] = SeenRecord(at=to_timestamp(T0), kind="file")
    copy.data["nested"]["list"].append(3)
    copy.peers["b@x.org"] = "requested_by_peer"
    copy.heartbeat = Heartbeat(notifications_sent=5)
    assert set(doc.seen) == {"file:1"}
    assert doc.data == {"nested": {"list": [1, 2]}}
    assert doc.peers == {"a@x.org": "accepted"}
    assert doc.heartbeat.notifications_sent == 0
    assert copy == StateDocument.model_validate_json(copy.to_json_bytes())


def test_to_json_bytes_refuses_wrong_types_without_echoing_them() -> None:
    doc = StateDocument()
    doc.notified["k"] = "secret-looking value"  # type: ignore[assignment]
    with pytest.raises(TypeError) as info:
        doc.to_json_bytes()
    assert "secret-looking" not in str(info.value)


def test_clip_error_bounds_stored_messages() -> None:
    assert clip_error(None) is None
    assert clip_error("short") == "short"
    clipped = clip_error("x" * 10_000)
    assert clipped is not None
    assert len(clipped) == 500
    assert clipped.endswith("…")


def test_from_legacy_converts_seed_files() -> None:
    raw = {
        "notified_jobs": {"job1": ["new", "approved"], "peer_granted_a@x.org": ["peer_granted"]},
        "thread_ids": {"job1": "18c0ab"},
        "peer_snapshot": ["a@x.org"],
    }
    doc = StateDocument.from_legacy(raw, now=T0)
    assert set(doc.notified) == {"job1:new", "job1:approved", "peer_granted_a@x.org:peer_granted"}
    assert doc.notified["job1:new"] == NotifiedRecord(sent_at=to_timestamp(T0))
    assert doc.data == {"thread_ids": {"job1": "18c0ab"}, "peer_snapshot": ["a@x.org"]}


@pytest.mark.parametrize(
    "raw",
    [
        {"notified_jobs": ["job1"]},
        {"notified_jobs": {"job1": "new"}},
        {"notified_jobs": {"j": [1]}},
    ],
)
def test_from_legacy_rejects_malformed_seed_files(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="notified_jobs"):
        StateDocument.from_legacy(raw)


# --- round trip of arbitrary documents ------------------------------------------------------

_text = st.text(max_size=40)
_stamps = st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
).map(to_timestamp)
_opt_text = st.none() | _text
_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)

_notified = st.builds(
    NotifiedRecord,
    sent_at=_stamps,
    message_id=_opt_text,
    provider_id=_opt_text,
    thread_id=_opt_text,
)
_intent = st.builds(
    SendIntent,
    notification_key=_text,
    message_id=_text,
    recorded_at=_stamps,
    attempts=st.integers(min_value=0, max_value=1000),
    last_error=_opt_text,
)
_heartbeat = st.builds(
    Heartbeat,
    last_poll_at=st.none() | _stamps,
    last_success_at=st.none() | _stamps,
    last_error=_opt_text,
    last_error_at=st.none() | _stamps,
    notifications_sent=st.integers(min_value=0, max_value=10**9),
    events_today=st.integers(min_value=0, max_value=10**6),
    events_day=_opt_text,
)
documents = st.builds(
    StateDocument,
    cursor=_opt_text,
    cursor_baselined_at=st.none() | _stamps,
    notified=st.dictionaries(_text, _notified, max_size=5),
    intents=st.dictionaries(_text, _intent, max_size=3),
    threads=st.dictionaries(
        _text, st.builds(ThreadRecord, message_id=_text, thread_id=_opt_text), max_size=3
    ),
    seen=st.dictionaries(_text, st.builds(SeenRecord, at=_stamps, kind=_text), max_size=5),
    peers=st.dictionaries(_text, _text, max_size=3),
    heartbeat=_heartbeat,
    data=st.dictionaries(_text, _json, max_size=4),
)


@settings(max_examples=60, deadline=None)
@given(documents)
def test_json_round_trip_is_exact(doc: StateDocument) -> None:
    raw = doc.to_json_bytes()
    json.loads(raw)  # plain JSON, readable by anything
    assert StateDocument.model_validate_json(raw) == doc
    assert doc.working_copy() == doc
