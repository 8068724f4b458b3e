"""Reading the end of a log and following it across growth, rotation and truncation."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from syft_monitors.daemon.logtail import LogFollower, tail_lines


def test_tail_reads_only_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    with path.open("w") as file:
        for index in range(200_000):
            file.write(f"line {index}\n")
    assert tail_lines(path, 3) == ["line 199997", "line 199998", "line 199999"]
    assert tail_lines(path, 0) == []
    assert tail_lines(tmp_path / "missing.log", 5) == []
    short = tmp_path / "short.log"
    short.write_text("a\nb")
    assert tail_lines(short, 50) == ["a", "b"]
    assert tail_lines(path, 2, end=len("line 0\nline 1\nline 2\n")) == ["line 1", "line 2"]


class Follower:
    """Runs a LogFollower on a thread and queues what it yields."""

    def __init__(self, path: Path) -> None:
        self.stop = threading.Event()
        self.lines: queue.Queue[str] = queue.Queue()
        self._iterator = LogFollower(path, self.stop, poll=0.02)  # positioned now
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for line in self._iterator:
            self.lines.put(line)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def take(self, count: int) -> list[str]:
        return [self.lines.get(timeout=10) for _ in range(count)]

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "syft-notify.log"
    path.write_text("old 1\nold 2\n")
    return path


@pytest.fixture
def follower(log: Path) -> Iterator[Follower]:
    running = Follower(log).start()
    yield running
    running.close()


def _append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


def test_follow_starts_at_the_end_and_sees_growth(log: Path, follower: Follower) -> None:
    # Written in pieces: a line is only yielded once complete.
    _append(log, "new ")
    _append(log, "1\nnew 2\n")
    assert follower.take(2) == ["new 1", "new 2"]
    assert follower.lines.empty()


def test_follow_across_rotation_and_truncation(log: Path, follower: Follower) -> None:
    _append(log, "before rotation\n")
    assert follower.take(1) == ["before rotation"]
    os.rename(log, log.with_name(log.name + ".1"))
    log.write_text("after rotation\n")
    assert follower.take(1) == ["after rotation"]
    # Truncated in place (`: > log`): noticed as soon as the file is shorter than our position.
    log.write_text("cut\n")
    assert follower.take(1) == ["cut"]


def test_follow_from_an_offset(log: Path) -> None:
    running = Follower.__new__(Follower)
    running.stop = threading.Event()
    running.lines = queue.Queue()
    running._iterator = LogFollower(log, running.stop, offset=len("old 1\n"), poll=0.02)
    running._thread = threading.Thread(target=running._run, daemon=True)
    running.start()
    try:
        assert running.take(1) == ["old 2"]
    finally:
        running.close()


def test_follow_waits_for_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    running = Follower(path).start()
    try:
        path.write_text("first\n")
        assert running.take(1) == ["first"]
    finally:
        running.close()
