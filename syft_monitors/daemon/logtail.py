"""Read the end of a log file, and follow it as it grows and rotates (`tail -F`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from syft_monitors.files import NotRegularFileError, open_regular

_BLOCK = 64 * 1024
FOLLOW_POLL = 0.2


def tail_lines(path: Path, count: int, *, end: int | None = None) -> list[str]:
    """The last `count` lines before byte `end` (default: the end), read backwards."""
    if count <= 0:
        return []
    try:
        with open_regular(path) as file:
            file.seek(0, os.SEEK_END)
            stop = file.tell() if end is None else min(end, file.tell())
            data = b""
            while stop > 0 and data.count(b"\n") <= count:
                start = max(0, stop - _BLOCK)
                file.seek(start)
                data = file.read(stop - start) + data
                stop = start
    except (FileNotFoundError, NotRegularFileError):  # a FIFO would hang `status`
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-count:]


def file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


class LogFollower:
    """Each complete line appended to `path` from `offset` on (default: its end now), until
    `stop` is set.

    The file is opened at construction, so nothing written between "show the last lines" and
    "follow" is lost. When the file is rotated (a new inode at `path`) the rest of the old file
    is drained and reading goes on from the start of the new one; a file truncated in place is
    read again from its start; a missing file is waited for.
    """

    def __init__(
        self,
        path: Path,
        stop: threading.Event,
        *,
        offset: int | None = None,
        poll: float = FOLLOW_POLL,
    ) -> None:
        self.path = path
        self.stop = stop
        self.poll = poll
        self._file: BinaryIO | None = None
        try:
            self._file = open_regular(path)
        except (FileNotFoundError, NotRegularFileError):
            return
        self._file.seek(0, os.SEEK_END)
        if offset is not None:
            self._file.seek(min(offset, self._file.tell()))

    def __iter__(self) -> Iterator[str]:
        pending = b""
        try:
            while not self.stop.is_set():
                if self._file is None:
                    try:
                        self._file = open_regular(self.path)  # a new file: read it whole
                    except (FileNotFoundError, NotRegularFileError):
                        self.stop.wait(self.poll)
                        continue
                chunk = self._file.read(_BLOCK)
                if chunk:
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    for line in complete:
                        yield line.decode("utf-8", "replace")
                    continue
                if _replaced(self._file, self.path):
                    self._file.close()
                    self._file = None
                    continue
                self.stop.wait(self.poll)
        finally:
            self.close()

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()


def _replaced(file: BinaryIO, path: Path) -> bool:
    """True when `path` is now another file; rewinds `file` when it was truncated in place."""
    mine = os.fstat(file.fileno())
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False  # mid-rotation: the new file is not there yet
    if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
        return True
    if current.st_size < file.tell():
        file.seek(0)
    return False
