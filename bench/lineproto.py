"""One JSON object per line between the bench and a process it drives (a monitor, upstream).

The driven process keeps its real stdout for the protocol and points file descriptor 1 at
stderr, so nothing a library prints can corrupt a reply. The bench side reads replies on a
thread, so every call has a timeout and a dead child is an error, not a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

Message = dict[str, Any]


class ChildError(RuntimeError):
    """The driven process failed, answered with an error, or did not answer in time."""


def protocol_stream() -> IO[str]:
    """In the child: a private copy of stdout for replies; fd 1 then goes to stderr."""
    sys.stdout.flush()
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    return stream


def send(stream: IO[str], message: Mapping[str, Any]) -> None:
    stream.write(json.dumps(message, sort_keys=True) + "\n")
    stream.flush()


class LineProcess:
    """A child process spoken to with `call({"cmd": ...})`; its stderr goes to `log`."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 120.0,
    ) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = log.open("ab")
        self._process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_handle,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            text=True,
            encoding="utf-8",
        )
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True, name="bench-child-reader")
        self._reader.start()
        self.ready = self._next(ready_timeout, "start")

    @property
    def pid(self) -> int:
        return self._process.pid

    def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        for line in stdout:
            self._replies.put(line)
        self._replies.put(None)

    def _next(self, timeout: float, what: str) -> Message:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            message = f"no answer to {what} within {timeout:.0f} s (log: {self.log})"
            raise ChildError(message) from None
        if line is None:
            code = self._process.wait(timeout=10)
            raise ChildError(f"process exited with {code} during {what} (log: {self.log})")
        reply: Message = json.loads(line)
        if "error" in reply:
            raise ChildError(f"{what} failed: {reply['error']} (log: {self.log})")
        return reply

    def call(self, command: Mapping[str, Any], *, timeout: float = 600.0) -> Message:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        return self._next(timeout, str(command.get("cmd")))

    def close(self, timeout: float = 30.0) -> None:
        """Ask the child to quit; kill it (by its own pid) if it does not."""
        if self._process.poll() is None:
            with contextlib.suppress(ChildError, OSError):
                self.call({"cmd": "quit"}, timeout=timeout)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._log_handle.close()

    def __enter__(self) -> LineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
