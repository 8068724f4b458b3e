"""Fixtures of the pool tests: a sandbox with several owners, and a pool serving their folder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syft_monitors.pool.local_source import FolderSource
from syft_monitors.pool.process import Pool
from syft_sandbox import Sandbox
from syft_sandbox.server import SandboxServer


@pytest.fixture
def sandbox_server() -> Iterator[tuple[Sandbox, SandboxServer]]:
    sandbox = Sandbox()
    with sandbox.serve() as server:
        yield sandbox, server


RunPool = Callable[..., Pool]


def baselined(pool: Pool, *names: str) -> bool:
    """Whether each named owner (default: every owner) has finished a poll: its baseline is
    taken, so a job arriving now is new to it (one arriving before would be part of it)."""
    wanted = names or tuple(pool.owners)
    return bool(wanted) and all(
        metric(pool, f'syft_monitor_polls_total{{monitor="{name}",outcome="ok"}}') >= 1
        for name in wanted
    )


def metric(pool: Pool, series: str) -> float:
    """The value of one series on the pool's /metrics (0 when it is not there)."""
    for line in pool.metrics.render().decode().splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def run_pool() -> Iterator[RunPool]:
    """Start a pool in this process on a folder of owners; stopped at the end of the test."""
    started: list[tuple[Pool, threading.Thread]] = []

    def start(folder: Path, **options: object) -> Pool:
        options.setdefault("spread", 0.0)
        options.setdefault("workers", 4)
        pool = Pool(FolderSource(folder), **options)  # type: ignore[arg-type]
        thread = threading.Thread(target=pool.run, kwargs={"watch_every": 0.2}, daemon=True)
        thread.start()
        started.append((pool, thread))
        assert pool.wait_started()
        return pool

    yield start
    for pool, thread in started:
        pool.stop()
        thread.join(30)
