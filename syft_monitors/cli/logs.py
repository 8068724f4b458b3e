"""`syft-bg logs`: one service's log as it is, or several at once with the service's name first."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from syft_monitors.daemon.manager import DaemonManager


class _Prefixed:
    """A text stream that writes whole lines to `out` with `prefix`, one writer at a time."""

    def __init__(self, out: TextIO, prefix: str, lock: threading.Lock) -> None:
        self._out = out
        self._prefix = prefix
        self._lock = lock
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        if lines:
            with self._lock:
                self._out.write("".join(f"{self._prefix}{line}\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._out.flush()


def show_logs(
    daemons: list[DaemonManager],
    *,
    follow: bool,
    lines: int,
    errors: bool,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> None:
    stream = out if out is not None else sys.stdout
    shown = []
    for daemon in daemons:
        path = daemon.error_log_file if errors else daemon.log_file
        if path.exists() or follow:
            shown.append(daemon)
        else:
            click.echo(f"{daemon.service}: no log yet at {path}", err=True)
    if len(shown) == 1:
        shown[0].logs(follow=follow, lines=lines, errors=errors, out=stream, stop=stop)
        return
    lock = threading.Lock()
    width = max((len(d.service) for d in shown), default=0)
    writers = [_Prefixed(stream, f"{d.service.ljust(width)} | ", lock) for d in shown]
    if not follow:
        for daemon, writer in zip(shown, writers, strict=True):
            daemon.logs(lines=lines, errors=errors, out=writer)  # type: ignore[arg-type]
        return
    stop = stop or threading.Event()
    threads = [
        threading.Thread(
            target=daemon.logs,
            kwargs={"follow": True, "lines": lines, "errors": errors, "out": writer, "stop": stop},
            daemon=True,
        )
        for daemon, writer in zip(shown, writers, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)
