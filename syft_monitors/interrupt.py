"""Stopping a poll in the middle: SIGTERM abandons waits, not half-done work.

A stop request (from the service's SIGTERM handler) raises `StopRequested` in the main thread at
the next safe point, or at once when the main thread is blocked somewhere safe to leave:

- inside `interruptible()`: a request that only reads (Drive listings and downloads, Sent-mail
  lookups) or a retry backoff sleep. Leaving those loses nothing: the poll's work items and
  intents are already in the state, exactly as after a crash, and a restart resumes them.
- a send is `shielded()`: it is left to finish (a mail server may deliver what it was handed),
  except its backoff sleeps (the attempt before failed) and, past the grace period, everything
  (`force_stop`, from the service's alarm).
- `checkpoint()` before each send, so a backlog of emails stops after the current one.

Only the main thread is ever interrupted (signals are delivered there); monitors running in
other threads (the library's `Monitor.start`) stop between polls as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequested(BaseException):
    """The service is stopping: abandon the poll in progress (a BaseException, so that no
    `except Exception` of a poll swallows it)."""


class _Flags:
    requested = False
    forced = False
    interruptible = 0
    shielded = 0
    unshielded = 0


_flags = _Flags()


def _main() -> bool:
    return threading.current_thread() is threading.main_thread()


def _may_raise() -> bool:
    if _flags.forced:
        return True
    return _flags.requested and (_flags.shielded == 0 or _flags.unshielded > 0)


@contextmanager
def interruptible(*, inside_send: bool = False) -> Iterator[None]:
    """A blocking call a stop may abandon; `inside_send` also within a shielded send (for a
    backoff sleep between attempts)."""
    if not _main():
        yield
        return
    _flags.interruptible += 1
    if inside_send:
        _flags.unshielded += 1
    try:
        if _may_raise():
            raise StopRequested
        yield
    finally:
        _flags.interruptible -= 1
        if inside_send:
            _flags.unshielded -= 1


@contextmanager
def shielded() -> Iterator[None]:
    """A send: not abandoned by a plain stop request (see module docstring)."""
    if not _main():
        yield
        return
    _flags.shielded += 1
    try:
        yield
    finally:
        _flags.shielded -= 1


def checkpoint() -> None:
    """Raise StopRequested when a stop was requested (call where stopping is safe)."""
    if _main() and (_flags.requested or _flags.forced) and _flags.shielded == 0:
        raise StopRequested


def request_stop() -> None:
    """From the SIGTERM handler: note the request; raise when blocked somewhere safe."""
    _flags.requested = True
    if _flags.interruptible > 0 and _may_raise():
        raise StopRequested


def force_stop() -> None:
    """From the grace-period alarm: abandon whatever runs, sends included."""
    _flags.forced = True
    if _flags.interruptible > 0 or _flags.shielded > 0:
        raise StopRequested


def in_send() -> bool:
    return _flags.shielded > 0


def stop_requested() -> bool:
    return _flags.requested or _flags.forced


def reset() -> None:
    """Forget a stop request (a new run in the same process, tests)."""
    _flags.requested = _flags.forced = False
