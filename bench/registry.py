"""The benchmarks, in the order a full run executes them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from bench import (
    burst,
    email_replies,
    flood,
    heartbeat,
    latency,
    operator_scale,
    poll_requests,
    pool,
    resources,
    state_size,
)
from bench.context import BenchContext

Runner = Callable[[BenchContext], dict[str, Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Benchmark:
    name: str
    title: str
    run: Runner


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("poll_requests", "Drive requests per poll", poll_requests.run),
    Benchmark("latency", "Detection latency", latency.run),
    Benchmark("resources", "CPU and memory of a monitor process", resources.run),
    Benchmark("burst", "1,000 jobs at once under the Gmail rate limit", burst.run),
    Benchmark("state_size", "State size per 10,000 jobs", state_size.run),
    Benchmark("flood", "1,000 strangers' peer requests during 10 legitimate jobs", flood.run),
    Benchmark("operator_scale", "Operator scale (SyftMonitors on Kubernetes)", operator_scale.run),
    Benchmark("heartbeat", "Monitor writes to Kubernetes per idle hour", heartbeat.run),
    Benchmark("pool", "One pool process for N data owners vs N processes", pool.run),
    Benchmark("email_replies", "Approving by email reply", email_replies.run),
)


def by_name(name: str) -> Benchmark:
    for bench in BENCHMARKS:
        if bench.name == name:
            return bench
    raise KeyError(name)
