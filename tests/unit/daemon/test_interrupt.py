"""`interrupt`: a stop request abandons retry backoffs and reads, never a send in progress."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from syft_monitors import interrupt
from syft_monitors.google.retry import RetryPolicy, call


@pytest.fixture(autouse=True)
def sigalrm_requests_a_stop() -> Iterator[None]:
    def on_alarm(signum: int, frame: FrameType | None) -> None:
        interrupt.request_stop()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    interrupt.reset()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        interrupt.reset()


def _refused() -> None:
    raise ConnectionRefusedError(111, "Connection refused")


def test_a_retry_backoff_is_abandoned_at_once() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    started = time.monotonic()
    with pytest.raises(interrupt.StopRequested):
        call(_refused, api="drive", method="files.list", policy=RetryPolicy(initial=30, cap=30))
    assert time.monotonic() - started < 5


def test_a_blocked_read_is_abandoned_at_once() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    started = time.monotonic()
    with pytest.raises(interrupt.StopRequested):
        call(lambda: time.sleep(30), api="drive", method="changes.list")
    assert time.monotonic() - started < 5


def test_a_send_finishes_but_the_next_one_does_not_start() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    with interrupt.shielded():
        result = call(lambda: time.sleep(0.6) or "sent", api="gmail", method="messages.send")
    assert result == "sent"
    with pytest.raises(interrupt.StopRequested):
        interrupt.checkpoint()


def test_without_a_stop_request_nothing_is_raised() -> None:
    assert call(lambda: "ok", api="drive", method="files.list") == "ok"
    interrupt.checkpoint()
