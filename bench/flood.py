"""Benchmark 7: 1,000 strangers' peer requests at once while an accepted peer submits 10 jobs.

Run twice on the same world: with flood control off (today's behaviour before issue 20: every
request costs two sends, work in arrival order) and with its defaults. The sandbox enforces a
consumer Gmail account's daily sending limit (500 messages per UTC day, answered with Gmail's
403 `dailyLimitExceeded` once spent), so "today" shows what the owner loses when a flood spends
the day's quota.

As in the burst benchmark, the monitor runs in this process on a time-compressed clock shared
with its rate limiter and the sandbox; the accepted peer submits one job every 3 minutes from
the moment the flood lands (half-way between two polls), and the monitor polls every 30 s for
two simulated hours. What was
sent is read from the sandbox's Sent mail (its receive times are on the same clock).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

from bench.child import build_monitor
from bench.context import BenchContext
from bench.harness import monitor_config, served_world
from bench.vclock import VirtualClock
from bench.world import add_strangers
from syft_sandbox import Sandbox

INTERVAL = 30.0
JOB_EVERY = 180.0
HOUR = 3600.0
#: Consumer Gmail's daily sending limit (Workspace: 2,000).
GMAIL_DAILY_LIMIT = 500


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    strangers: int
    jobs: int
    hours: float


FULL = Sizes(strangers=1000, jobs=10, hours=2.0)
SMOKE = Sizes(strangers=30, jobs=3, hours=1.1)


def run(ctx: BenchContext) -> dict[str, Any]:
    sizes = SMOKE if ctx.smoke else FULL
    runs = []
    for repeat in range(ctx.repeat):
        folder = ctx.workdir / "flood" / f"run-{repeat}"
        runs.append(
            {
                mode: execute(ctx, sizes, folder / mode, flood=mode == "flood_control")
                for mode in ("today", "flood_control")
            }
        )
    return {
        "params": dataclasses.asdict(sizes)
        | {"gmail_daily_limit": GMAIL_DAILY_LIMIT, "poll_interval_s": INTERVAL},
        "runs": runs,
    }


def execute(ctx: BenchContext, sizes: Sizes, folder: Path, *, flood: bool) -> dict[str, Any]:
    clock = VirtualClock()
    sandbox = Sandbox(clock=clock.now)
    sandbox.mail.daily_send_limit = GMAIL_DAILY_LIMIT
    with served_world(folder / "world", peers=1, jobs=0, sandbox=sandbox) as world:
        peer = world.peers[0]
        world.scientist(peer)
        config = monitor_config(
            world, folder, strategy="changes", flood={"enabled": flood}, interval=int(INTERVAL)
        )
        monitor = build_monitor({"config": config}, clock)
        monitor.pipeline.clock = clock.wall
        monitor.dispatcher.clock = clock.wall
        monitor.check()  # baseline
        started_real = time.perf_counter()
        start = clock.wall()
        strangers = add_strangers(sandbox, world.do_email, sizes.strangers)
        landed: dict[str, float] = {}
        polls = 0
        while clock.wall() - start < sizes.hours * HOUR:
            monitor.check()
            polls += 1
            # Jobs land half-way between two polls, so each waits for the next one as usual.
            clock.sleep(INTERVAL / 2)
            while len(landed) < sizes.jobs and clock.wall() - start >= len(landed) * JOB_EVERY:
                name = f"legit-{len(landed):02d}"
                file_id = world.submit(peer, name)
                landed[name] = world.message_landed_at(file_id)
            clock.sleep(INTERVAL / 2)
        real = time.perf_counter() - started_real
        with sandbox.lock:
            sent = [
                (m.internal_date / 1000.0, m.header("subject"), m.header("to"))
                for m in sandbox.mail.box(world.do_email).messages.values()
                if "SENT" in m.label_ids
            ]
        refused = int(
            monitor.metrics.requests.labels("gmail", "messages.send", "rate_limited")._value.get()
        )
        folded = sum(
            sample.value
            for metric in monitor.metrics.folded.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    result = _summarise(sent, landed, start, world.do_email, strangers)
    result.update({"refused_sends": refused, "folded": int(folded), "polls": polls})
    result["real_seconds"] = round(real, 1)
    ctx.progress(
        f"flood ({'flood control' if flood else 'today'}): {result['emails_first_hour']} emails "
        f"in the first hour, job emails {result['job_emails_sent']}/{len(landed)}, "
        f"max job latency {result['job_latency_max_s']} s ({real:.0f} s real)"
    )
    return result


def _summarise(
    sent: list[tuple[float, str, str]],
    landed: dict[str, float],
    start: float,
    do_email: str,
    strangers: list[str],
) -> dict[str, Any]:
    first_hour = [s for s in sent if start <= s[0] < start + HOUR]
    to_owner = [s for s in first_hour if s[2].lower() == do_email.lower()]
    latencies = []
    for name, at in landed.items():
        times = [when for when, subject, _ in sent if subject == f"Job: {name}"]
        if times:
            latencies.append(min(times) - at)
    about_flood = [s for s in sent if "Peer Request" in s[1] or "peer requests" in s[1]]
    return {
        "strangers": len(strangers),
        "emails_first_hour": len(first_hour),
        "owner_emails_first_hour": len(to_owner),
        "flood_emails_total": len(about_flood),
        "flood_owner_emails_total": sum(1 for s in about_flood if s[2].lower() == do_email),
        "digests": sum(1 for s in sent if "more peer requests" in s[1]),
        "job_emails_sent": len(latencies),
        "job_latency_max_s": round(max(latencies), 1) if latencies else None,
        "job_latency_median_s": round(statistics.median(latencies), 1) if latencies else None,
        "budget_used": len(sent),
    }
