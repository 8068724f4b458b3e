"""The PID file lock: one holder, stale files recognisable, removal only when unlocked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syft_monitors.daemon.pidfile import (
    AlreadyLockedError,
    PidFileLock,
    is_locked,
    read_pid,
    remove_stale,
)


def test_holder_writes_its_pid_and_removes_the_file_on_release(tmp_path: Path) -> None:
    path = tmp_path / "run" / "syft-notify.pid"
    lock = PidFileLock(path)
    lock.acquire()
    try:
        assert lock.held
        assert read_pid(path) == os.getpid()
        assert is_locked(path)
        assert not remove_stale(path)  # a held lock is never "stale"
        assert path.exists()
    finally:
        lock.release()
    assert not path.exists()
    assert not is_locked(path)


def test_second_holder_is_refused_with_the_first_pid(tmp_path: Path) -> None:
    path = tmp_path / "syft-notify.pid"
    first = PidFileLock(path)
    first.acquire()
    try:
        # flock locks belong to open file descriptions: a second open conflicts in-process too.
        with pytest.raises(AlreadyLockedError) as refused:
            PidFileLock(path).acquire(patience=0.1)
        assert refused.value.pid == os.getpid()
        assert read_pid(path) == os.getpid()
    finally:
        first.release()


def test_stale_file_is_unlocked_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "syft-notify.pid"
    path.write_text("424242\n")
    assert read_pid(path) == 424242
    assert not is_locked(path)
    lock = PidFileLock(path)
    lock.acquire()
    try:
        assert read_pid(path) == os.getpid()
    finally:
        lock.release()
    path.write_text("424242\n")
    assert remove_stale(path)
    assert not path.exists()
    assert not remove_stale(path)


@pytest.mark.parametrize("content", ["", "\n", "abc", "-5", "0", "12 34", "9" * 80])
def test_garbage_reads_as_no_pid(tmp_path: Path, content: str) -> None:
    path = tmp_path / "syft-notify.pid"
    path.write_text(content)
    assert read_pid(path) is None


def test_release_after_someone_replaced_the_file_leaves_theirs(tmp_path: Path) -> None:
    path = tmp_path / "syft-notify.pid"
    lock = PidFileLock(path)
    lock.acquire()
    path.unlink()
    path.write_text("777\n")  # not our inode any more
    lock.release()
    assert path.read_text() == "777\n"
