"""Send intents have holders: a live holder's intent is never claimed by another process."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import stat
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from syft_monitors.errors import StateError
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import JsonStateManager
from syft_monitors.state.base import LEASE_TTL
from syft_monitors.state.holders import describe_holder, holder_id
from syft_monitors.state.memory import MemoryStateManager
from syft_monitors.state.model import SendIntent, StateDocument, to_timestamp

OTHER = "other-host:4242:deadbeef"


def _intent(key: str = "new_job:k:do") -> SendIntent:
    return SendIntent(notification_key=key, message_id="<m@x>", recorded_at=to_timestamp())


def _held_by_other(renewed: dt.datetime) -> MemoryStateManager:
    doc = StateDocument()
    doc.intents["new_job:k:do"] = _intent().model_copy(update={"owner": OTHER})
    doc.holders[OTHER] = to_timestamp(renewed)
    return MemoryStateManager(doc)


def test_a_live_holders_intent_is_not_claimed() -> None:
    state = _held_by_other(dt.datetime.now(dt.UTC))
    assert Ledger(state).held_by("new_job:k:do") == OTHER
    assert Ledger(state).record_intent(_intent()) is None
    assert Ledger(state).intent("new_job:k:do").owner == OTHER  # type: ignore[union-attr]
    assert describe_holder(OTHER) == "PID 4242 on other-host"


def test_an_expired_lease_lets_the_intent_be_taken_over() -> None:
    state = _held_by_other(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=LEASE_TTL + 1))
    assert Ledger(state).held_by("new_job:k:do") is None
    claimed = Ledger(state).record_intent(_intent())
    assert claimed is not None
    assert claimed.owner == holder_id()
    assert claimed.attempts == 2
    # The claim renewed our own lease and dropped the dead holder's.
    assert set(state.load().holders) == {holder_id()}


def test_a_failed_attempt_is_no_longer_in_flight() -> None:
    state = _held_by_other(dt.datetime.now(dt.UTC))
    doc = state.load()
    state = MemoryStateManager(doc)
    # The holder's attempt ended (fail_intent clears the owner): anyone may retry it.
    state.update(
        lambda d: d.intents.__setitem__(
            "new_job:k:do", d.intents["new_job:k:do"].model_copy(update={"owner": None})
        )
    )
    assert Ledger(state).held_by("new_job:k:do") is None
    assert Ledger(state).record_intent(_intent()) is not None


def _claim_and_hold(path: str, claimed: Event, release: Event) -> None:
    Ledger(JsonStateManager(path)).record_intent(_intent())
    claimed.set()
    release.wait(30)


def test_json_lease_lives_exactly_as_long_as_its_process(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    ctx = multiprocessing.get_context("spawn")
    claimed, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_claim_and_hold, args=(str(path), claimed, release))
    child.start()
    try:
        assert claimed.wait(30)
        state = JsonStateManager(path)
        holder = Ledger(state).held_by("new_job:k:do")
        assert holder is not None
        assert f"PID {child.pid} on" in describe_holder(holder)
        assert Ledger(state).record_intent(_intent()) is None
    finally:
        release.set()
        child.join(30)
    # The process is gone, so is its flock: the intent (a crash leftover now) can be retried.
    assert Ledger(state).held_by("new_job:k:do") is None
    retry = Ledger(state).record_intent(_intent())
    assert retry is not None
    assert retry.owner == holder_id()


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_special_files_are_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "state.json"
        os.mkfifo(path)
    elif kind == "directory":
        path = tmp_path
    else:
        path = Path("/dev/null")
    state = JsonStateManager(path)
    with pytest.raises(StateError, match="not a regular file") as caught:
        state.load()  # a FIFO would block here forever
    assert "\n" not in str(caught.value)
    with pytest.raises(StateError, match="not a regular file"):
        state.check()
    if kind == "fifo":
        with pytest.raises(StateError, match="FIFO"):
            state.set_data("k", 1)
        assert stat.S_ISFIFO(os.stat(path).st_mode)  # not replaced by a regular file


def test_check_names_a_corrupt_or_unwritable_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    JsonStateManager(path).check()  # absent, in a writable folder: fine
    path.write_text("{not json")
    with pytest.raises(StateError, match="corrupt"):
        JsonStateManager(path).check()
    if os.geteuid() != 0:  # root may write anything
        path.write_text("{}")
        path.chmod(0o444)
        with pytest.raises(StateError, match="read-only"):
            JsonStateManager(path).check()
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        try:
            with pytest.raises(StateError, match="not writable"):
                JsonStateManager(folder / "state.json").check()
        finally:
            folder.chmod(0o700)


def test_a_reset_under_a_running_service_is_undone_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    state = JsonStateManager(path)
    state.set_cursor("page-7")
    Ledger(state).mark_seen(["file:a"], "job")
    path.write_text("{}")  # someone "resets" the state while the service runs
    assert state.get_cursor() == "page-7"  # a silent re-baseline would swallow waiting jobs
    assert Ledger(state).is_seen("file:a")
    assert b'"schema_version"' in path.read_bytes()  # written back
    [record] = [r for r in caplog.records if "was reset" in r.getMessage()]
    assert record.levelname == "ERROR"
    # A process that never knew the file's state starts fresh, and says so.
    other = tmp_path / "other.json"
    other.write_text("{}")
    fresh = JsonStateManager(other)
    assert fresh.get_cursor() is None
    assert any("holds no record of earlier polls" in r.getMessage() for r in caplog.records)


def _claim_and_exit(path: str) -> None:
    Ledger(JsonStateManager(path)).record_intent(_intent("new_job:other:do"))


def test_lease_files_of_dead_processes_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    ctx = multiprocessing.get_context("spawn")
    for _ in range(2):
        child = ctx.Process(target=_claim_and_exit, args=(str(path),))
        child.start()
        child.join(30)
    holders = tmp_path / "state.json.holders"
    # An exited (or killed) process leaves its file; the next one to take a lease sweeps it.
    [left] = list(holders.iterdir())
    Ledger(JsonStateManager(path)).record_intent(_intent())
    [mine] = list(holders.iterdir())
    assert mine != left
    assert holder_id() in mine.read_text()


def test_a_crashed_holder_on_this_host_is_not_waited_for() -> None:
    # The ConfigMap lease is time-based; a holder on this host whose process is gone (a crash,
    # a restarted container) is known dead at once, however fresh its lease.
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=os.getpid)
    child.start()
    child.join(30)
    host = holder_id().split(":")[0]
    dead = f"{host}:{child.pid}:0badf00d"
    doc = StateDocument()
    doc.intents["new_job:k:do"] = _intent().model_copy(update={"owner": dead})
    doc.holders[dead] = to_timestamp()
    state = MemoryStateManager(doc)
    assert Ledger(state).held_by("new_job:k:do") is None
    assert Ledger(state).record_intent(_intent()) is not None
    # The same PID as ours with another token: an earlier life of this container.
    earlier = f"{host}:{os.getpid()}:0badf00d"
    assert Ledger(MemoryStateManager(_held(earlier))).held_by("new_job:k:do") is None


def _held(owner: str) -> StateDocument:
    doc = StateDocument()
    doc.intents["new_job:k:do"] = _intent().model_copy(update={"owner": owner})
    doc.holders[owner] = to_timestamp()
    return doc
