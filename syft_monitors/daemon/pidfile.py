"""The PID file, held under an exclusive `flock` by the daemon for its whole life.

The lock, not the file's existence, says whether a daemon runs: the kernel drops it when the
process dies however it dies, so a PID file left by a crash (or by SIGKILL) is recognisably stale,
and a second daemon cannot take it while the first lives. Only the lock holder writes the file,
so while the lock is held the file names the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from syft_monitors.files import open_regular, still_linked

#: A reader probing the lock holds it for microseconds; a starting daemon retries this long.
ACQUIRE_PATIENCE = 0.5
_MAX_PID_FILE = 64
#: pid_t is 32 bits; a larger number would make os.kill raise OverflowError.
_PID_LIMIT = 2**31


class AlreadyLockedError(Exception):
    """Another live process holds the PID file lock."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"already running (PID {pid})" if pid else "already running")
        self.pid = pid


class PidFileLock:
    """Take and hold the lock, write our PID, and remove the file on release."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, patience: float = ACQUIRE_PATIENCE) -> None:
        """Lock the file (waiting up to `patience` s for a probe to let go) and write our PID."""
        deadline = time.monotonic() + patience
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise AlreadyLockedError(read_pid(self.path)) from None
                time.sleep(0.02)
                continue
            if not still_linked(fd, self.path):
                # The previous holder unlinked the file between our open and our lock: the
                # lock we hold is on a dead inode, which nobody else would ever see.
                os.close(fd)
                continue
            self._fd = fd
            break
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)

    def release(self) -> None:
        """Remove the file while still holding the lock, then let go."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if still_linked(fd, self.path):
                self.path.unlink()
        except OSError:
            pass
        finally:
            os.close(fd)


def read_pid(path: Path) -> int | None:
    """The PID written in the file, or None (missing, empty while starting, or garbage)."""
    try:
        with open_regular(path) as file:  # a FIFO here must not hang `status`
            raw = file.read(_MAX_PID_FILE)
    except OSError:
        return None
    text = raw.decode("ascii", "replace").strip()
    if len(raw) >= _MAX_PID_FILE or not text.isdigit():
        return None
    pid = int(text)
    return pid if 0 < pid < _PID_LIMIT else None


def is_locked(path: Path) -> bool:
    """Whether a live process holds the lock (probe with a shared, non-blocking lock)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def remove_stale(path: Path) -> bool:
    """Delete the PID file if no process holds its lock; True when something was removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not still_linked(fd, path):
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
    finally:
        os.close(fd)
