"""Who is sending: a process-wide holder id and the leases that say whether a holder still lives.

A send intent names its holder. Another process may take the intent over only once that holder
is gone; otherwise two processes sharing a state (notify and approve, or a stray second notify)
would both send the email while the first send is in flight or not yet searchable in Sent mail.

- The holder id is `<host>:<pid>:<random>`; the random part keeps a recycled PID from being
  mistaken for the old holder. A forked child gets a new id.
- File leases (the JSON backend): each holder keeps an exclusive `flock` on its own file in the
  `<state>.holders/` folder for as long as the process lives. The kernel drops the lock when the
  process dies however it dies, so the lease expires exactly when its holder is gone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import socket
import threading
from pathlib import Path

from syft_monitors.errors import StateError
from syft_monitors.files import still_linked

_lock = threading.Lock()
_pid = 0
_id = ""
_leases: dict[Path, int] = {}


def holder_id() -> str:
    """This process's holder id."""
    global _pid, _id
    with _lock:
        if _pid != os.getpid():
            host = socket.gethostname().replace(":", "-") or "localhost"
            _pid, _id = os.getpid(), f"{host}:{os.getpid()}:{secrets.token_hex(4)}"
            # Inherited through fork, the parent's lease descriptors are not ours to reuse.
            _leases.clear()
        return _id


def describe_holder(holder: str) -> str:
    """`PID 1234 on host` for messages."""
    parts = holder.split(":")
    if len(parts) == 3 and parts[1].isdigit():
        return f"PID {parts[1]} on {parts[0]}"
    return holder


def gone_from_this_host(holder: str) -> bool:
    """True when `holder` ran on this host and its process is certainly gone: its PID no longer
    exists, or is our own (a restarted container gets PID 1 again). Otherwise (another host, or
    a live PID that may or may not be it) False: only its lease can tell."""
    parts = holder.split(":")
    me = holder_id().split(":")
    if len(parts) != 3 or not parts[1].isdigit() or parts[0] != me[0]:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return holder != holder_id()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def _lease_file(folder: Path, holder: str) -> Path:
    return folder / holder.rsplit(":", 1)[-1]


def hold_file_lease(folder: Path, role: str = "") -> None:
    """Take (once per process) this holder's lease in `folder`; held until the process ends.
    `role` (a service name) is written into it for `live_holders`."""
    me = holder_id()
    path = _lease_file(folder, me)
    with _lock:
        if folder in _leases:
            return
        while True:
            try:
                folder.mkdir(mode=0o700, exist_ok=True)
                fd = os.open(
                    path,
                    os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK,
                    0o600,
                )
            except OSError as e:
                raise StateError(f"cannot create the state lease in {folder}: {e.strerror}") from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if not still_linked(fd, path):
                    # A sweep took our new file for a dead holder's between open and flock.
                    os.close(fd)
                    continue
                os.ftruncate(fd, 0)
                os.write(fd, f"{me} {role}".strip().encode() + b"\n")
            except OSError as e:
                os.close(fd)
                raise StateError(f"cannot lock the state lease in {folder}: {e.strerror}") from e
            break
        _leases[folder] = fd
    _sweep(folder, me)


def _sweep(folder: Path, me: str) -> None:
    """Remove the lease files of processes that are gone (killed ones leave theirs behind)."""
    mine = _lease_file(folder, me).name
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if entry.name != mine:
                file_lease_alive(folder, f"::{entry.name}")


def file_lease_alive(folder: Path, holder: str) -> bool:
    """Whether `holder` still holds its lease in `folder`; a dead holder's file is removed."""
    if holder == holder_id():
        return True
    path = _lease_file(folder, holder)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        # Cannot tell (e.g. permissions): never take over a send that may be in flight.
        return e.errno != errno.ENOENT
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return True
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    finally:
        os.close(fd)


def live_holders(folder: Path) -> list[tuple[str, str]]:
    """(holder id, role) of every other process holding a lease in `folder`."""
    found: list[tuple[str, str]] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return found
    me = holder_id()
    for entry in entries:
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            words = os.read(fd, 512).decode("utf-8", "replace").split()
        except OSError:
            words = []
        finally:
            os.close(fd)
        if not words or words[0] == me or not file_lease_alive(folder, words[0]):
            continue
        found.append((words[0], words[1] if len(words) > 1 else ""))
    return found


def release_file_leases() -> None:
    """Let go of every lease of this process (tests; a process that ends lets go by itself)."""
    with _lock:
        for folder, fd in list(_leases.items()):
            with contextlib.suppress(OSError):
                _lease_file(folder, _id).unlink()
            os.close(fd)
        _leases.clear()
