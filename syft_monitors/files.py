"""Opening our own files (config, state, health) so that no file type can hang a command.

`open()` on a FIFO blocks until a writer appears (and a service stuck there ignores SIGTERM);
reading a device may never end. `open_regular` opens with O_NONBLOCK, checks with `fstat` that
the descriptor is a regular file, and only then hands it back (in blocking mode).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, for a one-line error ("a FIFO", "a directory", ...)."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


class NotRegularFileError(OSError):
    """The path exists but is a FIFO, device, directory or socket."""


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open `path` for binary reading; NotRegularFileError (an OSError whose `strerror` reads
    "a FIFO, not a regular file") instead of blocking on anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # what open() would have said
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(mode):
            kind = file_kind(mode)
            raise NotRegularFileError(errno.EINVAL, f"{kind}, not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The content of a regular file (at most `limit` bytes); see `open_regular`."""
    with open_regular(Path(path)) as handle:
        return handle.read() if limit is None else handle.read(limit)
