"""The sliding-window rate limiter, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from syft_monitors.notify.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def test_allows_the_quota_then_waits_for_the_oldest_to_expire() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 10
    assert limiter.acquire() == pytest.approx(50.0)
    assert clock.sleeps == [pytest.approx(50.0)]
    assert limiter.in_window() == 1 + 0  # the three old ones expired at t=60


def test_window_slides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 30
    limiter.acquire()
    clock.now += 31  # the first one is now 61 s old
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    assert clock.sleeps == []


def test_never_more_than_the_quota_in_any_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter(150, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(500):
        limiter.acquire()
        stamps.append(clock.now)
        clock.now += 0.05
    for i, start in enumerate(stamps):
        in_minute = [s for s in stamps[i:] if s < start + 60]
        assert len(in_minute) <= 150


def test_threads_share_the_quota() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert sum(1 for _ in clock.sleeps) >= 1  # 20 sends at quota 10 had to wait
    assert clock.now - 1000.0 >= 60.0


def test_invalid_quota() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(0)


def test_slots_count_from_completion_so_no_provider_window_exceeds_the_limit() -> None:
    # The provider counts a send when it arrives; the first one is slow in flight (20 s).
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock, sleep=clock.sleep)
    arrivals: list[float] = []
    for index in range(12):
        limiter.acquire()
        clock.now += 20.0 if index % 6 == 0 else 0.5
        arrivals.append(clock.now)
        limiter.restamp()
    for start in arrivals:
        in_window = [t for t in arrivals if start <= t < start + 60.0]
        assert len(in_window) <= 3


def test_restamp_without_a_slot_is_harmless() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock, sleep=clock.sleep)
    limiter.restamp()
    limiter.acquire()
    limiter.restamp()
    limiter.restamp()
    assert limiter.in_window() == 1
