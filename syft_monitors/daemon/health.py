"""`syft-{service}.health.json`: how a daemon's last poll went, outside the state it reports on.

A daemon whose state file is read-only, corrupt or a FIFO cannot record its failures in that
state; `syft-bg status` would then show a healthy "running" service. So the daemon also writes
this small file in its daemon folder after every poll (whole-file replace, best effort), and
`status` reads it, refusing anything that is not a regular file before opening it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from syft_monitors.files import write_atomically

logger = logging.getLogger(__name__)

_MAX_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Health:
    pid: int
    ok: bool
    #: Why the service is failing (its last poll, or saving it in the state); None when ok.
    problem: str | None
    checked_at: str
    failing_since: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode("utf-8")


def _stamp(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def health_of(pid: int, problem: str | None, failing_since: float | None) -> Health:
    return Health(
        pid=pid,
        ok=problem is None,
        problem=problem,
        checked_at=dt.datetime.now(dt.UTC).isoformat(),
        failing_since=_stamp(failing_since) if problem is not None else None,
    )


def write_health(path: Path, health: Health) -> None:
    """Replace the file; a failure is only logged (health must never stop the service)."""
    try:
        # Rewritten every poll and stale after a restart anyway: not worth two fsyncs.
        write_atomically(path, health.to_json(), mode=0o600, durable=False)
    except OSError as error:
        logger.debug("cannot write %s: %s", path, error.strerror)


def read_health(path: Path) -> Health | None:
    """The recorded health, or None (missing, not a regular file, unreadable, garbage)."""
    try:
        # O_NONBLOCK + fstat: a FIFO put in its place must not hang `status`.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, _MAX_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        data: Any = json.loads(raw)
        return Health(
            pid=int(data["pid"]),
            ok=bool(data["ok"]),
            problem=str(data["problem"]) if data.get("problem") is not None else None,
            checked_at=str(data["checked_at"]),
            failing_since=str(data["failing_since"]) if data.get("failing_since") else None,
        )
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def check_state_file(config: Any) -> None:
    """StateError (one line) when the config's JSON state file cannot be used: a FIFO, device or
    directory, a corrupt document, a folder that cannot be written. For `start` and `run`."""
    if config.state_backend != "file":
        return
    from syft_monitors.state.json_file import JsonStateManager  # noqa: PLC0415

    JsonStateManager(config.state_file).check()


def remove_health(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
