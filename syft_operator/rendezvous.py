"""Rendezvous (highest-random-weight) hashing of SyftMonitors over the shards of a pool.

Each monitor goes to the shard whose `weight(monitor, shard)` is highest. The weight depends only
on the two names, so the assignment is the same in every operator process and after a restart,
and it moves as little as possible when the shard count changes: going from N to N+1 shards moves
exactly the monitors whose new shard N now wins (about 1/(N+1) of them, all to shard N), and going
from N+1 back to N moves only the monitors of the removed shard. A modulo of a hash would move
almost everything.

SHA-256 rather than Python's `hash()`: that one is salted per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def weight(monitor: str, shard: int) -> int:
    digest = hashlib.sha256(f"{shard}\x00{monitor}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shard_of(monitor: str, shards: int) -> int:
    """The shard in `range(shards)` that serves `monitor`."""
    if shards < 1:
        raise ValueError(f"a pool needs at least one shard, not {shards}")
    # Ties (2**-64) go to the lower index, deterministically.
    return max(range(shards), key=lambda shard: (weight(monitor, shard), -shard))


def assign(monitors: Iterable[str], shards: int) -> dict[int, list[str]]:
    """Shard index -> the monitors it serves (sorted), for every shard, empty ones included."""
    out: dict[int, list[str]] = {shard: [] for shard in range(shards)}
    for monitor in sorted(set(monitors)):
        out[shard_of(monitor, shards)].append(monitor)
    return out
