"""A thread-safe sliding-window rate limiter for email sends.

Gmail's API quota is 15,000 units per user per minute and a send costs 100 units: at most 150
sends in any minute. A sliding window enforces exactly that ("no more than N sends in any 60 s"),
where a token bucket of the same rate would allow a burst of N followed by N more within the
same minute.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

WINDOW_SECONDS = 60.0
DEFAULT_PER_MINUTE = 150


class RateLimiter:
    """At most `per_minute` acquisitions in any window of 60 seconds.

    `clock` and `sleep` are injectable so tests run on a fake clock without waiting.
    """

    def __init__(
        self,
        per_minute: int = DEFAULT_PER_MINUTE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window: float = WINDOW_SECONDS,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.per_minute = per_minute
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stamps: collections.deque[float] = collections.deque()
        self._taken = threading.local()

    def _prune(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.window:
            self._stamps.popleft()

    def _try(self) -> float | None:
        """Take a slot and return None, or return how long to wait for the next one."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            if len(self._stamps) < self.per_minute:
                self._stamps.append(now)
                self._taken.stamp = now
                return None
            # Never 0: a rounding-level wait still has to let the clock move on.
            return max(self._stamps[0] + self.window - now, 1e-3)

    def wait_time(self) -> float:
        """Seconds until a slot is free (0.0 when one is free now); takes nothing."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            if len(self._stamps) < self.per_minute:
                return 0.0
            return max(self._stamps[0] + self.window - now, 1e-3)

    def try_acquire(self) -> bool:
        """Take a slot if one is free now; never waits."""
        return self._try() is None

    def acquire(self) -> float:
        """Wait until a slot is free and take it; returns the seconds spent waiting."""
        waited = 0.0
        while True:
            delay = self._try()
            if delay is None:
                return waited
            # Sleep outside the lock so other threads can check (and find no slot) meanwhile.
            self._sleep(delay)
            waited += delay

    def restamp(self) -> None:
        """Move the slot this thread took last to now (call when the guarded action is done)."""
        taken = getattr(self._taken, "stamp", None)
        if taken is None:
            return
        self._taken.stamp = None
        with self._lock:
            now = self._clock()
            try:
                self._stamps.remove(taken)
            except ValueError:
                return  # already outside the window
            # Stamps stay in time order: `now` is not earlier than any stamp taken before it.
            self._stamps.append(max(now, self._stamps[-1]) if self._stamps else now)

    def restore(self, ages: list[float]) -> None:
        """Count sends that happened `ages` seconds ago (before a restart) in the window."""
        with self._lock:
            now = self._clock()
            stamps = sorted(now - age for age in ages if 0 <= age < self.window)
            self._stamps = collections.deque(sorted([*stamps, *self._stamps]))
            self._prune(now)

    def in_window(self) -> int:
        """How many acquisitions the current window holds."""
        with self._lock:
            self._prune(self._clock())
            return len(self._stamps)
