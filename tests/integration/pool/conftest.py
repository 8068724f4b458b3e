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
