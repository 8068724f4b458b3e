"""Benchmark 3: CPU per idle poll and peak memory of a monitor process.

The monitor runs in its own process; CPU is `getrusage(RUSAGE_SELF)` user + system time of that
process (all threads) around a batch of back-to-back idle polls, divided by the batch size; peak
memory is the kernel's high-water mark of its resident set (`VmHWM` in /proc/self/status).
`ru_maxrss` is not used: Linux carries it over from the parent across fork + exec.

- "idle": a small world (10 peers, 100 jobs), after the baseline and the idle batches;
- "10,000 jobs seen": a world with 10,000 existing jobs, which the first poll takes into its
  baseline (listed, classified and recorded as seen; no email is due for existing jobs);
- "24 h of polls": 8,640 polls (one every 10 s for a day, upstream's sync interval) run back to
  back, with one new job per simulated hour (24 jobs, each emailed), Gmail's per-minute limit on
  a compressed clock.
The same measurements are taken of upstream's old poller when it is installed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench.context import BenchContext
from bench.harness import served_world, spawn_monitor
from bench.lineproto import LineProcess
from bench.stats import summarize
from bench.upstream import spawn_upstream
from bench.world import World


@dataclasses.dataclass(frozen=True, slots=True)
class WorldSize:
    label: str
    peers: int
    jobs: int


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    worlds: tuple[WorldSize, ...]
    batches: int
    batch_polls: dict[str, int]
    day_polls: int
    job_every: int


FULL = Sizes(
    worlds=(WorldSize("idle", 10, 100), WorldSize("10,000 jobs seen", 100, 10_000)),
    batches=5,
    batch_polls={"changes": 200, "list": 3, "upstream": 20},
    day_polls=8640,
    job_every=360,
)
SMOKE = Sizes(
    worlds=(WorldSize("idle", 2, 3), WorldSize("10,000 jobs seen", 2, 20)),
    batches=2,
    batch_polls={"changes": 3, "list": 1, "upstream": 1},
    day_polls=12,
    job_every=6,
)


def run(ctx: BenchContext) -> dict[str, Any]:
    sizes = SMOKE if ctx.smoke else FULL
    rows: list[dict[str, Any]] = []
    upstream = ctx.upstream()
    for size in sizes.worlds:
        folder = ctx.workdir / "resources" / f"p{size.peers}-j{size.jobs}"
        with served_world(folder / "world", peers=size.peers, jobs=size.jobs) as world:
            for strategy in ("changes", "list"):
                for repeat in range(ctx.repeat):
                    with spawn_monitor(
                        world, folder / f"{strategy}-{repeat}", strategy=strategy
                    ) as monitor:
                        found = _idle_profile(monitor, sizes.batches, sizes.batch_polls[strategy])
                    rows.append({**_labels(size, strategy, repeat), **found})
                    ctx.progress(f"resources {size.label} {strategy}: {found['vmhwm_kib']} KiB")
        if upstream.available:
            with served_world(
                folder / "legacy-world", peers=size.peers, jobs=size.jobs, legacy=True
            ) as world:
                for repeat in range(ctx.repeat):
                    with spawn_upstream(
                        upstream, world, folder / f"upstream-{repeat}", {}
                    ) as poller:
                        found = _idle_profile(poller, sizes.batches, sizes.batch_polls["upstream"])
                    rows.append({**_labels(size, "upstream", repeat), **found})
    day = [_day_of_polls(ctx, sizes, repeat) for repeat in range(ctx.repeat)]
    return {
        "params": {
            "worlds": [dataclasses.asdict(w) for w in sizes.worlds],
            "batches": sizes.batches,
            "batch_polls": sizes.batch_polls,
            "day_polls": sizes.day_polls,
            "day_interval_s": 10,
            "job_every_polls": sizes.job_every,
        },
        "rows": rows,
        "day": day,
        "upstream": upstream.to_json(),
    }


def _labels(size: WorldSize, strategy: str, repeat: int) -> dict[str, Any]:
    return {
        "world": size.label,
        "peers": size.peers,
        "jobs": size.jobs,
        "strategy": strategy,
        "repeat": repeat,
    }


def _idle_profile(process: LineProcess, batches: int, polls: int) -> dict[str, Any]:
    start = process.call({"cmd": "stats"})
    baseline = process.call({"cmd": "poll", "n": 1}, timeout=1800)
    per_poll = []
    walls = []
    for _ in range(batches):
        batch = process.call({"cmd": "poll", "n": polls}, timeout=1800)
        per_poll.append(batch["cpu_s"] / polls)
        walls.append(batch["wall_s"] / polls)
    end = process.call({"cmd": "stats"})
    return {
        "vmhwm_kib": end["vmhwm_kib"],
        "vmrss_kib": end["vmrss_kib"],
        "vmhwm_start_kib": start["vmhwm_kib"],
        "baseline_cpu_s": round(baseline["cpu_s"], 4),
        "baseline_wall_s": round(baseline["wall_s"], 4),
        "cpu_per_idle_poll_s": summarize(per_poll),
        "wall_per_idle_poll_s": summarize(walls),
        "polls_per_batch": polls,
        "errors": baseline.get("errors", 0),
    }


def _day_of_polls(ctx: BenchContext, sizes: Sizes, repeat: int) -> dict[str, Any]:
    folder: Path = ctx.workdir / "resources" / f"day-{repeat}"
    size = sizes.worlds[0]
    with served_world(folder / "world", peers=size.peers, jobs=size.jobs) as world:
        for ds in world.peers:
            world.scientist(ds)
        with spawn_monitor(world, folder / "monitor", virtual_limiter=True) as monitor:
            monitor.call({"cmd": "poll", "n": 1}, timeout=600)
            start = monitor.call({"cmd": "stats"})
            cpu = 0.0
            wall = 0.0
            errors = 0
            polls = 0
            jobs = 0
            while polls < sizes.day_polls:
                quiet = min(sizes.job_every - 1, sizes.day_polls - polls - 1)
                if quiet > 0:
                    reply = monitor.call({"cmd": "poll", "n": quiet}, timeout=1800)
                    cpu, wall, errors = _add(reply, cpu, wall, errors)
                    polls += quiet
                _submit(world, jobs)
                jobs += 1
                reply = monitor.call({"cmd": "poll", "n": 1}, timeout=600)
                cpu, wall, errors = _add(reply, cpu, wall, errors)
                polls += 1
            end = monitor.call({"cmd": "stats"})
    emailed = sum(
        1
        for m in world.sandbox.sent_mail(world.do_email)
        if str(m.message["Subject"]).startswith("Job: day-")
    )
    ctx.progress(f"resources 24 h: {polls} polls, VmHWM {end['vmhwm_kib']} KiB")
    return {
        "polls": polls,
        "jobs": jobs,
        "jobs_emailed": emailed,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "cpu_per_poll_s": round(cpu / polls, 6),
        "vmhwm_start_kib": start["vmhwm_kib"],
        "vmrss_start_kib": start["vmrss_kib"],
        "vmhwm_end_kib": end["vmhwm_kib"],
        "vmrss_end_kib": end["vmrss_kib"],
        "errors": errors,
    }


def _submit(world: World, index: int) -> None:
    world.submit(world.peers[index % len(world.peers)], f"day-{index:03d}")


def _add(reply: dict[str, Any], cpu: float, wall: float, errors: int) -> tuple[float, float, int]:
    return cpu + reply["cpu_s"], wall + reply["wall_s"], errors + int(reply.get("errors", 0))
