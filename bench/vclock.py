"""A time-compressed clock: real time plus every wait that was skipped instead of slept.

Given to the rate limiter (`clock=`, `sleep=`) and to the sandbox (`clock=`), it lets a burst
that needs 13 minutes of Gmail quota run in seconds, while every timestamp the sandbox stores
is on the same compressed time line the limiter decides with.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class VirtualClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._skipped = 0.0
        self._sleeps = 0

    @property
    def skipped(self) -> float:
        """Seconds of waiting skipped so far."""
        with self._lock:
            return self._skipped

    @property
    def sleeps(self) -> int:
        with self._lock:
            return self._sleeps

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def wall(self) -> float:
        return time.time() + self.skipped

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    def sleep(self, seconds: float) -> None:
        """Skip the wait: the clock jumps forward instead."""
        with self._lock:
            self._skipped += max(0.0, seconds)
            self._sleeps += 1
