"""Reading and replacing our own files (config, state, health, job state, emails).

`open()` on a FIFO blocks until a writer appears (and a service stuck there ignores SIGTERM);
reading a device may never end. `open_regular` opens with O_NONBLOCK, checks with `fstat` that
the descriptor is a regular file, and only then hands it back (in blocking mode).

`write_atomically` is the one way a file is replaced: a reader or a crash sees the old content or
the new one, never a mix, and once it returns the new content survives a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable
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


def temporary_name(path: Path) -> str:
    """The prefix of `write_atomically`'s temporary files next to `path` (for sweeping leftovers
    after a crash): `.{name}.tmp-`."""
    return f".{path.name}.tmp-"


def write_atomically(
    path: Path,
    data: bytes,
    *,
    mode: int = 0o600,
    durable: bool = True,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Replace `path` by a file holding `data` with permission bits `mode`.

    The data goes to a fresh temporary file in the same folder (O_EXCL and O_NOFOLLOW: a planted
    file or link there is never written through), is fsynced, renamed over `path`, and the folder
    is fsynced, since the rename is only on disk once the directory entry is. `durable=False`
    skips both fsyncs, for files that are rewritten often and worthless after a power cut (the
    health file). `before_replace` runs between the fsync and the rename (the state file bumps
    its change token there). Any failure removes the temporary file and raises the OSError.
    """
    temp = path.with_name(f"{temporary_name(path)}{os.getpid()}-{secrets.token_hex(4)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, mode)
        try:
            os.fchmod(fd, mode)  # the mode given to open() is filtered by the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if before_replace is not None:
            before_replace()
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if durable:
        fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    """Make the renames in `folder` durable (filesystems that cannot fsync a folder are let be)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def still_linked(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is still the one at `path`: a lock file taken over by flock
    may have been unlinked and recreated by another process between open and lock."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)
