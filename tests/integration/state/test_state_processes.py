"""The JSON state file under real concurrent processes and real crashes (SIGKILL).

Children come from a `forkserver` that has this module preloaded: each one starts in
milliseconds and single-threaded, unlike a fork of the (threaded) pytest process.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import secrets
import signal
import stat
from multiprocessing.context import ForkServerContext
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path

import pytest

from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import JsonStateManager, StateDocument

WRITERS = 4
INCREMENTS = 200
CRASH_TRIALS = 30


@pytest.fixture(scope="module")
def ctx() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "syft_monitors.state"])
    return context


def _increment(path: str, barrier: Barrier) -> None:
    manager = JsonStateManager(path)
    barrier.wait()

    def bump(doc: StateDocument) -> None:
        doc.data["counter"] = doc.data.get("counter", 0) + 1
        doc.data[f"by-{os.getpid()}"] = doc.data.get(f"by-{os.getpid()}", 0) + 1

    for _ in range(INCREMENTS):
        manager.update(bump)


def test_concurrent_writers_lose_no_update(ctx: ForkServerContext, tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.json"
    barrier = ctx.Barrier(WRITERS + 1)
    workers = [ctx.Process(target=_increment, args=(str(path), barrier)) for _ in range(WRITERS)]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=30)

    # Meanwhile this process reads through one long-lived (caching) manager: values only grow.
    reader = JsonStateManager(path)
    last = 0
    while any(w.is_alive() for w in workers):
        value = reader.get_data("counter", 0)
        assert value >= last
        last = value
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    doc = reader.load()
    assert doc.data["counter"] == WRITERS * INCREMENTS
    per_process = [v for k, v in doc.data.items() if k.startswith("by-")]
    assert per_process == [INCREMENTS] * WRITERS


def _write_forever(path: str, ready: Event) -> None:
    manager = JsonStateManager(path)
    rng = random.Random()
    while True:

        def grow(doc: StateDocument) -> None:
            doc.data["n"] = doc.data.get("n", 0) + 1
            # Varying sizes, large enough that the kill often lands inside write/fsync.
            doc.data["pad"] = secrets.token_hex(rng.randint(1, 400_000))

        manager.update(grow)
        Ledger(manager).mark_seen([f"file:{rng.getrandbits(64):x}"], "msgv2")
        ready.set()


def test_sigkill_never_leaves_a_broken_file(ctx: ForkServerContext, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    rng = random.Random()
    last_n = 0
    for _ in range(CRASH_TRIALS):
        ready = ctx.Event()
        writer = ctx.Process(target=_write_forever, args=(str(path), ready))
        writer.start()
        try:
            assert ready.wait(timeout=30), "writer never completed a write"
            # Random moment within a few write cycles.
            ready.clear()
            ready.wait(timeout=rng.uniform(0, 0.02))
        finally:
            assert writer.pid is not None
            os.kill(writer.pid, signal.SIGKILL)
            writer.join(timeout=30)
        assert writer.exitcode == -signal.SIGKILL

        doc = JsonStateManager(path).load()  # a fresh reader: no cache can hide damage
        assert doc.data["n"] >= last_n + 1  # each trial wrote at least once, nothing was lost
        last_n = doc.data["n"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # Temporaries of killed writers are garbage and go with the next writer.
    JsonStateManager(path).set_cursor("after")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]
