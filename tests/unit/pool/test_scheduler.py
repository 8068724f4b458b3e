"""The pool's scheduler: jobs run when due, one turn at a time per owner, on a few threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from syft_monitors.pool.scheduler import PollScheduler
from tests.support import eventually


@pytest.fixture
def scheduler() -> Iterator[PollScheduler]:
    running = PollScheduler(workers=2).start()
    yield running
    running.stop(timeout=5)


def test_each_job_runs_again_after_the_delay_it_returns(scheduler: PollScheduler) -> None:
    runs: dict[str, int] = {"a": 0, "b": 0}

    def job(key: str, delay: float) -> float:
        runs[key] += 1
        return delay

    scheduler.add("a", lambda: job("a", 0.01))
    scheduler.add("b", lambda: job("b", 3600.0))
    eventually(lambda: runs["a"] >= 5, what="a's turns")
    assert runs["b"] == 1


def test_a_turn_never_overlaps_the_same_owners_previous_one(scheduler: PollScheduler) -> None:
    inside = threading.Semaphore(1)
    overlaps: list[str] = []
    turns: list[int] = []

    def slow() -> float:
        if not inside.acquire(blocking=False):
            overlaps.append("overlap")
            return 0.0
        time.sleep(0.05)
        turns.append(1)
        inside.release()
        return 0.0

    scheduler.add("a", slow)
    scheduler.run_soon("a")  # asked while running: ignored, not a second turn
    eventually(lambda: len(turns) >= 5, what="turns")
    assert overlaps == []


def test_a_slow_owner_holds_one_worker_and_the_others_go_on(scheduler: PollScheduler) -> None:
    release = threading.Event()
    fast: list[int] = []
    scheduler.add("stuck", lambda: (release.wait(30), 3600.0)[1])
    scheduler.add("fast", lambda: (fast.append(1), 0.01)[1])
    eventually(lambda: len(fast) >= 10, what="the fast owner's turns")
    assert scheduler.is_running("stuck")
    release.set()


def test_removed_and_replaced_jobs_stop_and_a_raising_job_keeps_its_worker(
    scheduler: PollScheduler,
) -> None:
    old: list[int] = []
    new: list[int] = []
    scheduler.add("a", lambda: (old.append(1), 0.01)[1])
    eventually(lambda: old, what="the first job")
    scheduler.add("a", lambda: (new.append(1), 0.01)[1])
    eventually(lambda: len(new) >= 3, what="the replacement")
    seen = len(old)
    time.sleep(0.1)
    assert len(old) <= seen + 1  # at most the turn that was under way
    scheduler.remove("a")
    assert "a" not in scheduler

    def broken() -> float:
        raise RuntimeError("a bug in one owner")

    after: list[int] = []
    scheduler.add("broken", broken)
    scheduler.add("after", lambda: (after.append(1), 0.01)[1])
    eventually(lambda: len(after) >= 5, what="turns after a job raised")
    assert len(scheduler) == 2
