"""Benchmark 2: detection latency, from a DS's message landing in Drive to the DO's email.

Both ends are stamped by the sandbox: the message's Drive `createdTime` and the Gmail receive time
(`internalDate`) of the data owner's "Job: {name}" email, so no clock of the monitor is trusted.
The monitor is the production one in its own process, in its own loop (`check(interval=...)`),
with the real Gmail rate limiter. Submissions arrive at uniformly random moments over a window
of several intervals, so the latencies sample every phase of the polling interval.

The "archive" cases add the data owner's sync (`SimulatedDataOwner.sync`, every 0.5 s), which
moves each message to the archive folder within about a second of its arrival, i.e. usually
before the monitor's next poll: the case that defeats pollers listing only inbox folders.

All cases run at the same time (each with its own sandbox, world and monitor process), so that
the benchmark fits its time budget; on 2 cores they compete a little for CPU.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from typing import Any

from bench.context import BenchContext
from bench.harness import served_world, spawn_monitor
from bench.stats import summarize
from bench.world import World

SEED = 20261126
SYNC_EVERY = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class Case:
    interval: float
    archive: bool

    @property
    def name(self) -> str:
        return f"interval-{self.interval:g}s" + ("-archive" if self.archive else "")


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    jobs: int
    window: float
    peers: int
    existing_jobs: int
    intervals: tuple[float, float]


FULL = Sizes(jobs=200, window=240.0, peers=10, existing_jobs=100, intervals=(1.0, 30.0))
SMOKE = Sizes(jobs=4, window=3.0, peers=2, existing_jobs=0, intervals=(1.0, 2.0))


@dataclasses.dataclass(slots=True)
class Submitted:
    name: str
    file_id: str
    landed: float = 0.0
    archived_at: float | None = None


def run(ctx: BenchContext) -> dict[str, Any]:
    sizes = SMOKE if ctx.smoke else FULL
    cases = [Case(i, archive) for i in sizes.intervals for archive in (False, True)]
    outcomes: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []
    for repeat in range(ctx.repeat):

        def one(case: Case, index: int, repeat: int = repeat) -> None:
            try:
                found = _run_case(ctx, sizes, case, SEED + 97 * repeat + index, repeat)
                outcomes.setdefault(case.name, {"runs": []})["runs"].append(found)
            except BaseException as error:  # reported after the other cases finish
                errors.append(error)

        threads = [
            threading.Thread(target=one, args=(case, i), name=f"latency-{case.name}")
            for i, case in enumerate(cases)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    rows = []
    for case in cases:
        runs = outcomes[case.name]["runs"]
        latencies = [x for r in runs for x in r.pop("latencies_s")]
        delays = [x for r in runs for x in r.pop("archive_delays_s")]
        rows.append(
            {
                "case": case.name,
                "interval_s": case.interval,
                "archive": case.archive,
                "jobs": sum(r["jobs"] for r in runs),
                "detected": sum(r["detected"] for r in runs),
                "missing": sum(r["missing"] for r in runs),
                "latency_s": summarize(latencies, digits=3) if latencies else None,
                "archive_delay_s": summarize(delays, digits=3) if delays else None,
                "runs": runs,
            }
        )
    return {
        "params": {**dataclasses.asdict(sizes), "sync_every_s": SYNC_EVERY, "concurrent": True},
        "rows": rows,
    }


def _run_case(
    ctx: BenchContext, sizes: Sizes, case: Case, seed: int, repeat: int
) -> dict[str, Any]:
    folder = ctx.workdir / "latency" / f"{case.name}-{repeat}"
    with served_world(folder / "world", peers=sizes.peers, jobs=sizes.existing_jobs) as world:
        for ds in world.peers:
            world.scientist(ds)
        monitor = spawn_monitor(world, folder / "monitor", interval=max(1, int(case.interval)))
        try:
            monitor.call({"cmd": "poll", "n": 1}, timeout=600)  # the baseline, before any job
            duration = sizes.window + 1.5 * case.interval + (20.0 if not ctx.smoke else 3.0)
            loop: dict[str, Any] = {}

            def monitor_loop() -> None:
                loop.update(
                    monitor.call(
                        {"cmd": "run", "interval": case.interval, "duration": duration},
                        timeout=duration + 600,
                    )
                )

            looping = threading.Thread(target=monitor_loop, name=f"loop-{case.name}")
            looping.start()
            submitted = _submit_and_archive(world, sizes, case, seed)
            looping.join()
            if "cpu_s" not in loop:
                raise RuntimeError(f"monitor loop of {case.name} did not finish")
        finally:
            monitor.close()
        result = _measure(world, submitted)
        result["polls"] = loop.get("checks")
        result["monitor_errors"] = loop.get("errors")
        ctx.progress(f"latency {case.name}: {result['detected']}/{result['jobs']} detected")
        return result


def _submit_and_archive(world: World, sizes: Sizes, case: Case, seed: int) -> list[Submitted]:
    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0.0, sizes.window) for _ in range(sizes.jobs))
    submitted: list[Submitted] = []
    done = threading.Event()
    lock = threading.Lock()

    def archiver() -> None:
        owner = world.owner()
        while True:
            finished = done.is_set()
            owner.sync()
            now = time.time()
            with lock:
                pending = [s for s in submitted if s.archived_at is None]
            for item in pending:
                if _in_archive(world, item.file_id):
                    item.archived_at = now
            if finished:
                return
            time.sleep(SYNC_EVERY)

    syncing = threading.Thread(target=archiver, name=f"sync-{case.name}") if case.archive else None
    if syncing is not None:
        syncing.start()
    start = time.monotonic()
    for index, offset in enumerate(offsets):
        delay = start + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ds = world.peers[index % len(world.peers)]
        name = f"lat-{case.name}-{index:03d}"
        file_id = world.submit(ds, name)
        with lock:
            submitted.append(Submitted(name, file_id))
    done.set()
    if syncing is not None:
        syncing.join()
    return submitted


def _in_archive(world: World, file_id: str) -> bool:
    parents = world.sandbox.file(file_id).parents
    return any(world.sandbox.file(p).name.endswith("_archive") for p in parents)


def _measure(world: World, submitted: list[Submitted]) -> dict[str, Any]:
    emails = _do_job_email_times(world)
    latencies: list[float] = []
    delays: list[float] = []
    missing = 0
    for item in submitted:
        item.landed = world.message_landed_at(item.file_id)
        sent = emails.get(item.name)
        if sent is None:
            missing += 1
        else:
            latencies.append(sent - item.landed)
        if item.archived_at is not None:
            delays.append(item.archived_at - item.landed)
    return {
        "jobs": len(submitted),
        "detected": len(latencies),
        "missing": missing,
        "latencies_s": latencies,
        "archive_delays_s": delays,
    }


def _do_job_email_times(world: World) -> dict[str, float]:
    """Job name -> when the sandbox's Gmail accepted the DO's first "Job: {name}" email."""
    found: dict[str, float] = {}
    sandbox = world.sandbox
    with sandbox.lock:
        box = sandbox.mail.box(world.do_email)
        for message in box.messages.values():
            if "SENT" not in message.label_ids:
                continue
            subject = message.header("subject")
            to = message.header("to").lower()
            if not subject.startswith("Job: ") or world.do_email not in to:
                continue
            name = subject.removeprefix("Job: ")
            when = message.internal_date / 1000.0
            found[name] = min(found.get(name, when), when)
    return found
