"""Benchmark 4: 1,000 jobs submitted at once, sent under Gmail's per-user limit (150/min).

The monitor runs in this process so that it, its rate limiter and the sandbox share one
time-compressed clock (`VirtualClock`): when the limiter must wait, the clock jumps instead, and
every Gmail receive time the sandbox stores is on that same compressed time line. The limit is
then checked on the sandbox's own timestamps, not on anything the monitor reports: no 60 s window
may hold more than 150 sends. Lost and duplicated emails are counted by the notification key
header (`X-Syft-Monitor-Key`) of what the sandbox received.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.child import build_monitor
from bench.context import BenchContext
from bench.harness import monitor_config, served_world
from bench.stats import max_in_window, min_span
from bench.vclock import VirtualClock
from bench.world import World
from syft_monitors.notify.email import KEY_HEADER
from syft_monitors.state.json_file import JsonStateManager
from syft_monitors.state.model import StateDocument
from syft_sandbox import Sandbox

WINDOW = 60.0
#: The monitor's poll interval, spent on the compressed clock between polls.
INTERVAL = 30.0
MAX_POLLS = 400


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    jobs: int
    peers: int
    existing_jobs: int
    per_minute: int


FULL = Sizes(jobs=1000, peers=10, existing_jobs=100, per_minute=150)
# A tiny limit makes the smoke run cross several windows in a few sends.
SMOKE = Sizes(jobs=6, peers=2, existing_jobs=0, per_minute=4)


@dataclasses.dataclass(slots=True)
class BurstRun:
    result: dict[str, Any]
    #: The monitor's state after its baseline and after the burst.
    before: StateDocument
    after: StateDocument


def run(ctx: BenchContext) -> dict[str, Any]:
    sizes = SMOKE if ctx.smoke else FULL
    runs = []
    for repeat in range(ctx.repeat):
        done = execute(ctx, sizes, ctx.workdir / "burst" / f"run-{repeat}")
        ctx.shared["burst"] = done  # the state-size benchmark reuses its records
        runs.append(done.result)
    return {"params": dataclasses.asdict(sizes) | {"window_s": WINDOW}, "runs": runs}


def execute(ctx: BenchContext, sizes: Sizes, folder: Path) -> BurstRun:
    """Submit `sizes.jobs` jobs at once, poll until every email is out, verify what was sent."""
    clock = VirtualClock()
    sandbox = Sandbox(clock=clock.now)
    with served_world(
        folder / "world", peers=sizes.peers, jobs=sizes.existing_jobs, sandbox=sandbox
    ) as world:
        for ds in world.peers:
            world.scientist(ds)
        config = monitor_config(
            world, folder, strategy="changes", rate_limit_per_minute=sizes.per_minute
        )
        monitor = build_monitor({"config": config}, clock)
        # A full sending window defers the rest to later polls; their backoff runs on the same
        # compressed time line as the limiter and the sandbox.
        monitor.pipeline.clock = clock.wall
        monitor.dispatcher.clock = clock.wall
        monitor.check()  # baseline
        before = JsonStateManager(folder / "state.json").load()
        names: list[str] = []
        file_ids: list[str] = []
        submit_started = time.perf_counter()
        for index in range(sizes.jobs):
            name = f"burst-{index:04d}"
            file_ids.append(world.submit(world.peers[index % len(world.peers)], name))
            names.append(name)
        submit_wall = time.perf_counter() - submit_started
        landed = [world.message_landed_at(f) for f in file_ids]
        started = time.perf_counter()
        skipped_before = clock.skipped
        polls = 0
        while polls < MAX_POLLS:
            monitor.check()
            polls += 1
            report = monitor.last_report
            if report is not None and report.work_pending == 0 and report.changes == 0:
                break
            clock.sleep(INTERVAL)  # the daemon's wait until its next poll
        process_wall = time.perf_counter() - started
        state = JsonStateManager(folder / "state.json")
        document = state.load()
        state_bytes = (folder / "state.json").stat().st_size
    result = _verify(world, names, landed, sizes.per_minute)
    result.update(
        {
            "polls": polls,
            "submit_wall_s": round(submit_wall, 2),
            "process_wall_s": round(process_wall, 2),
            "skipped_wait_s": round(clock.skipped - skipped_before, 2),
            "state_bytes": state_bytes,
            "state_bytes_per_job": round(state_bytes / max(1, sizes.jobs), 1),
            "state_entries": {
                "notified": len(document.notified),
                "seen": len(document.seen),
                "threads": len(document.threads),
                "intents": len(document.intents),
                "work": len(document.work),
            },
        }
    )
    ctx.progress(
        f"burst of {sizes.jobs}: {result['do_emails']} DO emails in "
        f"{result['minutes_to_all_do_emails']} simulated min ({process_wall:.0f} s real)"
    )
    return BurstRun(result, before, document)


def _verify(world: World, names: list[str], landed: list[float], per_minute: int) -> dict[str, Any]:
    with world.sandbox.lock:
        sent = [
            m
            for m in world.sandbox.mail.box(world.do_email).messages.values()
            if "SENT" in m.label_ids
        ]
    burst_names = set(names)
    do_times: dict[str, list[float]] = {}
    ds_times: dict[str, list[float]] = {}
    keys: Counter[str] = Counter()
    stamps: list[float] = []
    for message in sent:
        subject = message.header("subject")
        when = message.internal_date / 1000.0
        for prefix, table in (("Job: ", do_times), ("Job Submitted: ", ds_times)):
            name = subject.removeprefix(prefix)
            if subject.startswith(prefix) and name in burst_names:
                table.setdefault(name, []).append(when)
                keys[message.header(KEY_HEADER)] += 1
                stamps.append(when)
    last_landed = max(landed)
    first_landed = min(landed)
    all_do = [t for times in do_times.values() for t in times]
    every = stamps
    per_minute_counts: Counter[int] = Counter(int((t - min(every)) // WINDOW) for t in every)
    span = min_span(every, per_minute + 1)
    return {
        "jobs": len(names),
        "do_emails": len(all_do),
        "ds_emails": sum(len(t) for t in ds_times.values()),
        "lost_do": sum(1 for n in names if n not in do_times),
        "lost_ds": sum(1 for n in names if n not in ds_times),
        "duplicates": sum(count - 1 for count in keys.values() if count > 1),
        "distinct_keys": len(keys),
        "max_sends_in_any_window": max_in_window(every, WINDOW),
        "min_span_of_limit_plus_one_sends_s": round(span, 3) if span is not None else None,
        "minutes_to_all_do_emails": round((max(all_do) - last_landed) / 60.0, 2),
        "minutes_to_all_emails": round((max(every) - last_landed) / 60.0, 2),
        "minutes_from_first_landing": round((max(every) - first_landed) / 60.0, 2),
        "sends_per_minute": [per_minute_counts[k] for k in range(max(per_minute_counts) + 1)],
    }
