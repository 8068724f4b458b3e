"""Summaries of repeated measurements: median and spread, never a lone number."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

Summary = dict[str, float | int]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(values: Sequence[float], *, digits: int = 6) -> Summary:
    """n, median, min, max, p5, p95 (rounded) of a non-empty sample."""
    if not values:
        raise ValueError("summary of no values")

    def r(x: float) -> float:
        return round(float(x), digits)

    return {
        "n": len(values),
        "median": r(statistics.median(values)),
        "min": r(min(values)),
        "max": r(max(values)),
        "p5": r(percentile(values, 5)),
        "p95": r(percentile(values, 95)),
    }


def max_in_window(stamps: Sequence[float], window: float) -> int:
    """The largest number of stamps inside any half-open interval [t, t + window)."""
    ordered = sorted(stamps)
    best = 0
    start = 0
    for end, stamp in enumerate(ordered):
        while ordered[start] <= stamp - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def min_span(stamps: Sequence[float], count: int) -> float | None:
    """The shortest time covered by `count` consecutive stamps; None when there are fewer."""
    ordered = sorted(stamps)
    if len(ordered) < count:
        return None
    return min(ordered[i + count - 1] - ordered[i] for i in range(len(ordered) - count + 1))
