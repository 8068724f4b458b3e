"""The benchmarks, in the order a full run executes them."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

from bench import burst, latency, poll_requests, resources, state_size
from bench.context import BenchContext

Runner = Callable[[BenchContext], dict[str, Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Benchmark:
    name: str
    title: str
    run: Runner


def operator_scale(ctx: BenchContext) -> dict[str, Any]:
    """Issue 7 part 5 (SyftMonitors reconciled at scale): registered, not written yet.

    It reports why it did not run and never a number until the measurement exists.
    """
    try:
        importlib.import_module("syft_operator.handlers")
    except Exception as error:  # any import failure means the same: no operator to measure
        return {
            "status": "pending",
            "reason": f"pending: operator not yet available ({type(error).__name__})",
        }
    return {
        "status": "pending",
        "reason": "pending: the operator imports; its scale benchmark is not written yet",
    }


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("poll_requests", "Drive requests per poll", poll_requests.run),
    Benchmark("latency", "Detection latency", latency.run),
    Benchmark("resources", "CPU and memory of a monitor process", resources.run),
    Benchmark("burst", "1,000 jobs at once under the Gmail rate limit", burst.run),
    Benchmark("state_size", "State size per 10,000 jobs", state_size.run),
    Benchmark("operator_scale", "Operator scale (SyftMonitors on Kubernetes)", operator_scale),
)


def by_name(name: str) -> Benchmark:
    for bench in BENCHMARKS:
        if bench.name == name:
            return bench
    raise KeyError(name)
