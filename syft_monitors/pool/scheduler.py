"""Polls of many owners on a few threads: a timer heap and a bounded pool of workers.

A thread per owner would cost a thousand owners a thousand stacks and as many wake-ups; here one
timer thread keeps every owner's next due time in a heap and hands due owners to `workers`
threads. A job runs for one owner at a time (an owner is back in the heap only when its job has
returned) and says when it wants to run next. An owner whose poll is slow (a hostile file, a
Google outage for its account) holds one worker; the others keep everyone else on time.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: A job runs one owner's turn and returns the seconds until its next one.
Job = Callable[[], float]
#: When a job raises (it should not: owners catch their own errors), it runs again after this.
AFTER_CRASH = 30.0


class _Entry:
    __slots__ = ("generation", "job", "key", "running")

    def __init__(self, key: str, job: Job) -> None:
        self.key = key
        self.job = job
        self.generation = 0
        self.running = False


class PollScheduler:
    """Runs each added job when due, on one of `workers` threads; thread-safe."""

    def __init__(self, workers: int = 4, *, clock: Callable[[], float] = time.monotonic) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self._clock = clock
        self._heap: list[tuple[float, int, str, int]] = []
        self._entries: dict[str, _Entry] = {}
        self._sequence = itertools.count()
        self._wake = threading.Condition()
        self._ready: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._timer, name="pool-timer", daemon=True),
            *(
                threading.Thread(target=self._worker, name=f"pool-worker-{i}", daemon=True)
                for i in range(workers)
            ),
        ]
        self.workers = workers

    def start(self) -> PollScheduler:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """No new turns start; running ones finish (each thread is waited for `timeout`)."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for _ in range(self.workers):
            self._ready.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    # --- owners -----------------------------------------------------------------------------

    def add(self, key: str, job: Job, *, delay: float = 0.0) -> None:
        """Run `job` for `key` in `delay` seconds, then whenever it asks; replaces a job of
        `key` (a running turn of the old job finishes, and is not rescheduled)."""
        with self._wake:
            old = self._entries.get(key)
            entry = _Entry(key, job)
            if old is not None:
                entry.generation = old.generation + 1
            self._entries[key] = entry
            self._push(entry, delay)

    def remove(self, key: str) -> None:
        """Stop running `key` (a turn under way finishes)."""
        with self._wake:
            self._entries.pop(key, None)

    def run_soon(self, key: str) -> None:
        """Bring `key`'s next turn forward to now (unless it is running)."""
        with self._wake:
            entry = self._entries.get(key)
            if entry is not None and not entry.running:
                entry.generation += 1
                self._push(entry, 0.0)

    def is_running(self, key: str) -> bool:
        """Whether a turn of `key` is under way now."""
        with self._wake:
            entry = self._entries.get(key)
            return entry is not None and entry.running

    def __contains__(self, key: str) -> bool:
        with self._wake:
            return key in self._entries

    def __len__(self) -> int:
        with self._wake:
            return len(self._entries)

    def _push(self, entry: _Entry, delay: float) -> None:
        due = self._clock() + max(0.0, delay)
        heapq.heappush(self._heap, (due, next(self._sequence), entry.key, entry.generation))
        self._wake.notify()

    # --- threads ----------------------------------------------------------------------------

    def _timer(self) -> None:
        with self._wake:
            while not self._stopping:
                if not self._heap:
                    self._wake.wait()
                    continue
                due, _seq, key, generation = self._heap[0]
                wait = due - self._clock()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
                entry = self._entries.get(key)
                if entry is None or entry.generation != generation or entry.running:
                    continue  # removed, replaced or moved since this turn was planned
                entry.running = True
                self._ready.put(entry)

    def _worker(self) -> None:
        while True:
            entry = self._ready.get()
            if entry is None:
                return
            try:
                delay = entry.job()
            except Exception:  # an owner's bug must not take a worker away from the others
                logger.exception("pool job of %s failed", entry.key)
                delay = AFTER_CRASH
            with self._wake:
                entry.running = False
                if self._entries.get(entry.key) is entry and not self._stopping:
                    entry.generation += 1
                    self._push(entry, delay)
