"""The StateManager operations, run against every backend."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from syft_monitors.errors import StateConflictError, StateError
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import (
    JsonStateManager,
    MemoryStateManager,
    NotifiedRecord,
    SendIntent,
    StateDocument,
    StateManager,
    ThreadRecord,
    Unchanged,
    to_timestamp,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["json", "memory"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> StateManager:
    if request.param == "json":
        return JsonStateManager(tmp_path / "state.json")
    return MemoryStateManager()


def _intent(key: str, message_id: str = "<m1@syft>") -> SendIntent:
    return SendIntent(
        notification_key=key, message_id=message_id, recorded_at=to_timestamp(T0), attempts=1
    )


def _sent(message_id: str = "<m1@syft>", thread_id: str | None = "t1") -> NotifiedRecord:
    return NotifiedRecord(
        sent_at=to_timestamp(T0), message_id=message_id, provider_id="p1", thread_id=thread_id
    )


# --- the update contract ----------------------------------------------------------------------


def test_update_returns_fn_result_and_persists(manager: StateManager) -> None:
    def bump(doc: StateDocument) -> int:
        doc.data["n"] = doc.data.get("n", 0) + 1
        return int(doc.data["n"])

    assert manager.update(bump) == 1
    assert manager.update(bump) == 2
    assert manager.load().data == {"n": 2}


def test_update_that_raises_persists_nothing(manager: StateManager) -> None:
    manager.set_data("n", 1)

    def broken(doc: StateDocument) -> None:
        doc.data["n"] = 99
        doc.cursor = "half-done"
        raise KeyError("boom")

    with pytest.raises(KeyError):
        manager.update(broken)
    assert manager.get_data("n") == 1
    assert manager.get_cursor() is None


def test_unchanged_returns_its_result_without_writing(manager: StateManager) -> None:
    manager.set_data("n", 1)
    before = manager.size_bytes()

    def nothing(doc: StateDocument) -> None:
        doc.data["n"] = 2
        raise Unchanged("same")

    assert manager.update(nothing) == "same"
    assert manager.get_data("n") == 1
    assert manager.size_bytes() == before


def test_load_returns_a_private_copy(manager: StateManager) -> None:
    manager.set_data("list", [1])
    doc = manager.load()
    doc.data["list"].append(2)
    doc.cursor = "mine"
    assert manager.get_data("list") == [1]
    assert manager.get_cursor() is None
    value = manager.get_data("list")
    value.append(3)
    assert manager.get_data("list") == [1]


def test_update_refuses_a_document_with_wrong_types(manager: StateManager) -> None:
    def corrupt(doc: StateDocument) -> None:
        doc.seen["k"] = "not a record"  # type: ignore[assignment]

    with pytest.raises((TypeError, StateError)):
        manager.update(corrupt)
    assert manager.load().seen == {}


# --- seed API ---------------------------------------------------------------------------------


def test_seed_was_notified_and_mark_notified(manager: StateManager) -> None:
    assert not manager.was_notified("job1", "new")
    manager.mark_notified("job1", "new", now=T0)
    assert manager.was_notified("job1", "new")
    assert not manager.was_notified("job1", "approved")
    assert not manager.was_notified("job", "1:new")  # distinct pair, distinct question
    record = Ledger(manager).notified_record("job1:new")
    assert record == NotifiedRecord(sent_at=to_timestamp(T0))
    manager.mark_notified("job1", "new", now=T0 + dt.timedelta(days=1))
    assert Ledger(manager).notified_record("job1:new") == record  # the first time is kept


def test_seed_get_and_set_data(manager: StateManager) -> None:
    assert manager.get_data("missing") is None
    assert manager.get_data("missing", "fallback") == "fallback"
    manager.set_data("peer_snapshot", ["a@x.org", "b@x.org"])
    manager.set_data("nested", {"a": {"b": [1, 2.5, None, True, "s"]}})
    assert manager.get_data("peer_snapshot") == ["a@x.org", "b@x.org"]
    assert manager.get_data("nested") == {"a": {"b": [1, 2.5, None, True, "s"]}}
    assert manager.delete_data("nested") is True
    assert manager.delete_data("nested") is False
    assert manager.get_data("nested") is None


@pytest.mark.parametrize(
    "value", [{1: "int key"}, {"when": dt.datetime.now()}, float("nan"), {"s": {1, 2}}, b"bytes"]
)
def test_set_data_refuses_values_that_would_not_read_back(
    manager: StateManager, value: object
) -> None:
    with pytest.raises((TypeError, ValueError)):
        manager.set_data("k", value)
    assert manager.get_data("k") is None


# --- cursor -----------------------------------------------------------------------------------


def test_cursor_and_baseline(manager: StateManager) -> None:
    assert manager.get_cursor() is None
    manager.set_cursor("100", baseline=True, now=T0)
    manager.set_cursor("200")
    doc = manager.load()
    assert doc.cursor == "200"
    assert doc.cursor_baselined_at == to_timestamp(T0)
    assert not doc.is_empty


# --- intent lifecycle -------------------------------------------------------------------------


def test_intent_lifecycle(manager: StateManager) -> None:
    key = "new_job:abc:do"
    claimed = Ledger(manager).record_intent(_intent(key))
    assert claimed is not None
    assert Ledger(manager).pending_intents() == [claimed]
    assert not Ledger(manager).is_notified(key)

    assert Ledger(manager).fail_intent(key, "smtp 451 try later") is True
    retry = Ledger(manager).record_intent(_intent(key, message_id="<other@syft>"))
    assert retry is not None
    assert retry.message_id == "<m1@syft>"  # a retry reuses the first Message-ID
    assert retry.attempts == 2
    assert retry.last_error == "smtp 451 try later"

    Ledger(manager).resolve_intent(key, _sent(), thread_job_key="abc")
    assert Ledger(manager).pending_intents() == []
    assert Ledger(manager).is_notified(key)
    assert Ledger(manager).notified_record(key) == _sent()
    assert Ledger(manager).thread_for("abc") == ThreadRecord(message_id="<m1@syft>", thread_id="t1")
    assert manager.heartbeat().notifications_sent == 1

    assert Ledger(manager).record_intent(_intent(key)) is None  # already sent: do not send again


def test_resolve_keeps_the_first_thread_root(manager: StateManager) -> None:
    Ledger(manager).resolve_intent(
        "new_job:abc:do", _sent("<root@syft>", "t1"), thread_job_key="abc"
    )
    Ledger(manager).resolve_intent(
        "job_approved:abc:do", _sent("<r2@syft>", "t1"), thread_job_key="abc"
    )
    assert Ledger(manager).thread_for("abc") == ThreadRecord(
        message_id="<root@syft>", thread_id="t1"
    )


def test_resolve_without_intent_is_idempotent(manager: StateManager) -> None:
    Ledger(manager).resolve_intent("k", _sent())
    Ledger(manager).resolve_intent("k", _sent())
    assert Ledger(manager).is_notified("k")
    assert manager.heartbeat().notifications_sent == 1


def test_batch_intents(manager: StateManager) -> None:
    Ledger(manager).resolve_intent("done", _sent())
    claimed = Ledger(manager).record_intents([_intent("a"), _intent("b"), _intent("done")])
    assert set(claimed) == {"a", "b"}
    assert [i.notification_key for i in Ledger(manager).pending_intents()] == ["a", "b"]
    Ledger(manager).resolve_intents({"a": _sent("<a@x>"), "b": _sent("<b@x>")})
    assert Ledger(manager).pending_intents() == []
    assert manager.heartbeat().notifications_sent == 3


def test_drop_and_fail_missing_intents(manager: StateManager) -> None:
    assert Ledger(manager).fail_intent("nope", "error") is False
    assert Ledger(manager).drop_intent("nope") is False
    Ledger(manager).record_intent(_intent("k"))
    assert Ledger(manager).drop_intent("k") is True
    assert Ledger(manager).pending_intents() == []
    assert not Ledger(manager).is_notified("k")


def test_pending_intents_oldest_first(manager: StateManager) -> None:
    later = SendIntent(
        notification_key="late", message_id="<l@x>", recorded_at=to_timestamp(T0 + dt.timedelta(1))
    )
    Ledger(manager).record_intents([later, _intent("early")])
    assert [i.notification_key for i in Ledger(manager).pending_intents()] == ["early", "late"]


# --- seen, threads, peers, heartbeat -----------------------------------------------------------


def test_seen(manager: StateManager) -> None:
    assert Ledger(manager).mark_seen(["file:1", "file:2", "file:1"], "msgv2", now=T0) == 2
    assert Ledger(manager).mark_seen(["file:2", "file:3"], "msgv2", now=T0 + dt.timedelta(1)) == 1
    assert Ledger(manager).mark_seen([], "msgv2") == 0
    assert Ledger(manager).is_seen("file:1")
    assert not Ledger(manager).is_seen("file:4")
    assert Ledger(manager).unseen(["file:4", "file:1", "file:4", "file:5"]) == ["file:4", "file:5"]
    seen = manager.load().seen
    assert seen["file:2"].at == to_timestamp(T0)  # first observation is kept
    assert seen["file:3"].kind == "msgv2"


def test_threads(manager: StateManager) -> None:
    assert Ledger(manager).thread_for("job") is None
    Ledger(manager).set_thread("job", "<m@x>")
    assert Ledger(manager).thread_for("job") == ThreadRecord(message_id="<m@x>", thread_id=None)
    Ledger(manager).set_thread("job", "<m@x>", "t9")
    assert Ledger(manager).thread_for("job") == ThreadRecord(message_id="<m@x>", thread_id="t9")


def test_peers(manager: StateManager) -> None:
    manager.set_peer_states({"a@x.org": "requested_by_peer"})
    states = manager.peer_states()
    states["b@x.org"] = "accepted"
    assert manager.peer_states() == {"a@x.org": "requested_by_peer"}
    manager.set_peer_states({"a@x.org": "accepted"})
    assert manager.peer_states() == {"a@x.org": "accepted"}


def test_record_poll(manager: StateManager) -> None:
    beat = manager.record_poll(True, now=T0, events=3)
    assert beat.last_poll_at == beat.last_success_at == to_timestamp(T0)
    assert (beat.events_today, beat.events_day) == (3, "2026-03-01")

    later = T0 + dt.timedelta(hours=1)
    beat = manager.record_poll(False, "drive 503", now=later, events=2)
    assert beat.last_poll_at == beat.last_error_at == to_timestamp(later)
    assert beat.last_success_at == to_timestamp(T0)
    assert beat.last_error == "drive 503"
    assert beat.events_today == 5

    beat = manager.record_poll(True, now=T0 + dt.timedelta(days=1), events=1)
    assert (beat.events_today, beat.events_day) == (1, "2026-03-02")
    assert beat.last_error == "drive 503"  # kept; last_error_at < last_success_at says it is old
    assert manager.heartbeat() == beat
    with pytest.raises(ValueError, match="events"):
        manager.record_poll(True, events=-1)


def test_size_bytes_tracks_the_document(manager: StateManager) -> None:
    small = manager.size_bytes()
    Ledger(manager).mark_seen([f"file:{i}" for i in range(100)], "msgv2")
    assert manager.size_bytes() > small + 100 * len('"file:00":{"at":"","kind":"msgv2"}')


def test_threads_of_one_process_do_not_lose_updates(manager: StateManager) -> None:
    def bump(doc: StateDocument) -> None:
        doc.data["n"] = doc.data.get("n", 0) + 1

    def work() -> None:
        for _ in range(50):
            manager.update(bump)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert manager.get_data("n") == 200


# --- optimistic concurrency -------------------------------------------------------------------


class _Contended(MemoryStateManager):
    """Another writer gets in between our read and our write `losses` times."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses
        self.calls = 0

    def _write(self, doc: StateDocument, version: str | None) -> None:
        if self.losses > 0:
            self.losses -= 1
            rival = self._read()[0].working_copy()
            rival.data["rival"] = rival.data.get("rival", 0) + 1
            super()._write(rival, version)
        super()._write(doc, version)


def test_optimistic_update_retries_on_fresh_state() -> None:
    manager = _Contended(losses=3)
    manager.retry_pause = 0.0
    calls = 0

    def bump(doc: StateDocument) -> int:
        nonlocal calls
        calls += 1
        doc.data["n"] = doc.data.get("n", 0) + 1
        return calls

    assert manager.update(bump) == 4  # fn re-ran on each fresh copy
    assert manager.load().data == {"n": 1, "rival": 3}  # nobody's write was lost


def test_optimistic_update_gives_up_after_max_attempts() -> None:
    manager = _Contended(losses=100)
    manager.retry_pause = 0.0
    manager.max_attempts = 3
    with pytest.raises(StateError, match="3 write conflicts") as info:
        manager.set_data("n", 1)
    assert not isinstance(info.value, StateConflictError)
    assert manager.get_data("n") is None


def test_memory_write_with_stale_version_conflicts() -> None:
    manager = MemoryStateManager()
    doc, version = manager._read()
    manager.set_data("x", 1)
    with pytest.raises(StateConflictError):
        manager._write(doc.working_copy(), version)
    assert manager.version == "1"


def test_memory_starts_from_an_initial_document() -> None:
    initial = StateDocument(cursor="c1")
    manager = MemoryStateManager(initial)
    initial.cursor = "changed later"
    assert manager.get_cursor() == "c1"


def test_intent_lookup_reads_the_unresolved_send(manager: StateManager) -> None:
    state = manager
    assert Ledger(state).intent("new_job:j:do") is None
    recorded = SendIntent(
        notification_key="new_job:j:do", message_id="<m@x>", recorded_at=to_timestamp()
    )
    Ledger(state).record_intent(recorded)
    found = Ledger(state).intent("new_job:j:do")
    assert found is not None
    assert found.message_id == "<m@x>"


def test_reading_once_shares_one_read_and_sees_its_own_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    mine, other = JsonStateManager(path), JsonStateManager(path)
    mine.set_data("n", 1)
    with mine.reading_once():
        assert mine.get_data("n") == 1
        other.set_data("n", 2)  # another process writes during the poll
        assert mine.get_data("n") == 1  # the poll keeps the document it read
        mine.set_cursor("c1")  # its own write: read back, with what the store held
        assert mine.get_cursor() == "c1"
        assert mine.get_data("n") == 2
        other.set_data("n", 3)
        mine.refresh()
        assert mine.get_data("n") == 3
    other.set_data("n", 4)
    assert mine.get_data("n") == 4  # outside the scope every read goes to the store
