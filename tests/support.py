"""Helpers every test suite needs: polling with a deadline, a free loopback port, and the
project's tool-fetching scripts."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
#: What scripts/fetch-*.sh exit with when the package registry cannot be reached.
EX_UNREACHABLE = 75


def eventually(
    probe: Callable[[], T | None], *, timeout: float = 20.0, what: str = "", interval: float = 0.1
) -> T:
    """Poll `probe` until it returns something truthy and return that; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or probe}; last value: {last!r}")


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """`eventually` with the daemon suites' argument order and a faster poll."""
    return eventually(predicate, timeout=timeout, what=what, interval=0.05)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_fetch_script(script: Path, unavailable: type[Exception], *, timeout: float = 300) -> Path:
    """Run one of scripts/fetch-*.sh (instant when cached); returns the folder it prints last.

    Raises `unavailable` when the registry is unreachable (callers may skip), RuntimeError on
    any other failure.
    """
    result = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    if result.returncode == EX_UNREACHABLE:
        raise unavailable(result.stderr.strip().splitlines()[-1] if result.stderr else "offline")
    if result.returncode != 0:
        raise RuntimeError(f"{script.relative_to(ROOT)} failed:\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])
