"""Is a PID alive, and is it one of our daemons? (`/proc` where there is one.)"""

from __future__ import annotations

import os
from pathlib import Path

#: The module every daemon runs; its command line names it and the service.
CHILD_MODULE = "syft_monitors.daemon.child"
_PROC = Path("/proc")


def is_alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself hold ") ".
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "Z"


def command_line(pid: int) -> list[str] | None:
    """The process's argv, or None where /proc is not available or the process is gone."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def is_our_daemon(pid: int, service: str) -> bool:
    """The PID runs our daemon module for `service` (True where /proc cannot tell)."""
    if not is_alive(pid):
        return False
    argv = command_line(pid)
    if argv is None:
        return not _PROC.is_dir()
    return CHILD_MODULE in argv and _service_of(argv) == service


def _service_of(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv[:-1]):
        if arg == "--service":
            return argv[index + 1]
    return None
