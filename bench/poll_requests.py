"""Benchmark 1: Drive requests per poll, ours (changes feed, listing) and upstream's, side by side.

One world per number of peers P is grown through the numbers of existing jobs J. At each (P, J)
every poller starts with empty state and takes its baseline; then the sandbox's request log
counts, by Google method, the Drive requests of: an idle poll, a poll after 1 new job, a poll
after 100 new jobs (from up to 100 DSs picked evenly along the peer list), and a poll after 1 new
job that the DO's sync archived before the poll. New-job emails are switched off here (on both
sides): they cost Gmail requests, not Drive requests, and are measured by the latency and burst
benchmarks.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.context import BenchContext
from bench.harness import drive_calls, gmail_calls, served_world, spawn_monitor
from bench.lineproto import LineProcess
from bench.upstream import old_module_model, spawn_upstream, syft_bg_model
from bench.world import World


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    peers: tuple[int, ...]
    jobs: tuple[int, ...]
    burst: int


FULL = Sizes(peers=(1, 10, 100, 1000), jobs=(0, 100, 10000), burst=100)
SMOKE = Sizes(peers=(2,), jobs=(3,), burst=3)
OUR_STRATEGIES = ("changes", "list")
NO_NEW_JOB_EMAILS = {"notify_on_new_job": False, "notify_on_new_peer": False}


def _counted(world: World, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    mark = world.sandbox.mark()
    reply = action()
    drive = drive_calls(world.sandbox, mark, user=world.do_email)
    gmail = gmail_calls(world.sandbox, mark, user=world.do_email)
    return {
        "drive": sum(drive.values()),
        "by_method": dict(sorted(drive.items())),
        "gmail": sum(gmail.values()),
        "wall_s": round(float(reply.get("wall_s", 0.0)), 4),
        "cpu_s": round(float(reply.get("cpu_s", 0.0)), 4),
        # Our monitors report the events they found; upstream's count is its downloads.
        "events": (reply.get("report") or {}).get("events"),
    }


def measure_poller(world: World, poller: LineProcess, burst: int, tag: str) -> dict[str, Any]:
    """Baseline, idle, +1 job, +`burst` jobs, +1 job archived by the DO before the poll;
    returns the counts and removes the new jobs again."""

    def poll() -> dict[str, Any]:
        return poller.call({"cmd": "poll", "n": 1}, timeout=1800)

    created: list[tuple[str, str]] = []
    submitters = world.submitters(burst)
    result: dict[str, Any] = {"baseline": _counted(world, poll), "idle": _counted(world, poll)}
    created.append((submitters[0], world.submit(submitters[0], f"{tag}-one")))
    result["new_1"] = _counted(world, poll)
    for i in range(burst):
        ds = submitters[i % len(submitters)]
        created.append((ds, world.submit(ds, f"{tag}-burst-{i:03d}")))
    result[f"new_{burst}"] = _counted(world, poll)
    # The DO's sync archives the next message before the poll (the race of listing pollers).
    ds = submitters[-1]
    file_id = world.submit(ds, f"{tag}-archived")
    created.append((ds, file_id))
    world.sandbox.move(world.do_email, file_id, world.archives[ds])
    result["archived_1"] = _counted(world, poll)
    result["memory"] = poller.call({"cmd": "stats"})
    # The next poller must meet the same world: J existing jobs, not J + 101.
    for ds, file_id in created:
        world.sandbox.delete(ds, file_id)
    return result


def run(ctx: BenchContext) -> dict[str, Any]:
    sizes = SMOKE if ctx.smoke else FULL
    burst = sizes.burst
    upstream = ctx.upstream()
    rows: list[dict[str, Any]] = []
    for peers in sizes.peers:
        rows.extend(_ours(ctx, peers, sizes.jobs, burst))
        if upstream.available:
            rows.extend(_upstream(ctx, peers, sizes.jobs, burst))
    models = [
        {
            "peers": p,
            "old_module": {k: old_module_model(p, n) for k, n in _new_counts(burst).items()},
            "syft_bg": {k: syft_bg_model(p, n) for k, n in _new_counts(burst).items()},
        }
        for p in sizes.peers
    ]
    return {
        "params": {
            **dataclasses.asdict(sizes),
            "strategies": [*OUR_STRATEGIES, "upstream"],
            "new_job_emails": False,
        },
        "rows": rows,
        "upstream": upstream.to_json(),
        "model": models,
        "model_note": (
            "upstream's documented formulas (reference 1.6-1.7) with D = N = P = peers; "
            "a model, not measured"
        ),
    }


def _new_counts(burst: int) -> dict[str, int]:
    return {"idle": 0, "new_1": 1, f"new_{burst}": burst}


def _ours(ctx: BenchContext, peers: int, jobs: tuple[int, ...], burst: int) -> list[dict[str, Any]]:
    """Both our strategies on one world per P, its past jobs grown through `jobs` in turn."""
    rows: list[dict[str, Any]] = []
    folder = ctx.workdir / "poll_requests" / f"p{peers}"
    with served_world(folder / "world", peers=peers, jobs=0) as world:
        for ds in world.submitters(burst):
            world.scientist(ds)  # open the channels before any baseline
        for count in sorted(jobs):
            world.add_past_jobs(count - world.existing_jobs)
            for strategy in OUR_STRATEGIES:
                for repeat in range(ctx.repeat):
                    with spawn_monitor(
                        world,
                        folder / f"j{count}-{strategy}-{repeat}",
                        strategy=strategy,
                        **NO_NEW_JOB_EMAILS,
                    ) as monitor:
                        found = measure_poller(world, monitor, burst, f"{strategy}{repeat}")
                    rows.append(_row(peers, count, strategy, repeat, world, found))
                    _progress(ctx, rows[-1])
    return rows


def _upstream(
    ctx: BenchContext, peers: int, jobs: tuple[int, ...], burst: int
) -> list[dict[str, Any]]:
    """Upstream's old poller on a legacy-layout world (the only layout it can read)."""
    rows: list[dict[str, Any]] = []
    folder = ctx.workdir / "poll_requests" / f"p{peers}-legacy"
    status = ctx.upstream()
    with served_world(folder / "world", peers=peers, jobs=0, legacy=True) as world:
        for ds in world.submitters(burst):
            world.scientist(ds)
        for count in sorted(jobs):
            world.add_past_jobs(count - world.existing_jobs)
            for repeat in range(ctx.repeat):
                with spawn_upstream(
                    status, world, folder / f"j{count}-{repeat}", NO_NEW_JOB_EMAILS
                ) as poller:
                    found = measure_poller(world, poller, burst, f"upstream{repeat}")
                    found["version"] = poller.ready.get("syft_client")
                rows.append(_row(peers, count, "upstream", repeat, world, found))
                _progress(ctx, rows[-1])
    return rows


def _progress(ctx: BenchContext, row: dict[str, Any]) -> None:
    ctx.progress(
        f"requests P={row['peers']} J={row['jobs']} {row['strategy']}: idle poll "
        f"{row['idle']['drive']} Drive requests, {row['idle']['wall_s']} s"
    )


def _row(
    peers: int, jobs: int, strategy: str, repeat: int, world: World, found: dict[str, Any]
) -> dict[str, Any]:
    return {
        "peers": peers,
        "jobs": jobs,
        "strategy": strategy,
        "repeat": repeat,
        "layout": "legacy" if world.legacy else "current",
        "world_build_s": round(world.build_seconds, 3),
        **found,
    }


def detected(row: dict[str, Any], key: str) -> int:
    """New jobs the poller found in that poll: its events, else its message downloads."""
    events = row[key].get("events")
    if isinstance(events, int):
        return events
    methods: Counter[str] = Counter(row[key]["by_method"])
    return methods.get("files.get_media", 0)
