"""The operator's metrics about SyftMonitorPools, in the operator's registry.

- `syft_operator_pool_shards`: shards of all pools, as last reconciled;
- `syft_operator_pool_monitors`: SyftMonitors assigned to a pool shard, all pools together
  (computed at scrape time; a deleted pool drops out at once);
- `syft_operator_pool_moves_total`: SyftMonitors moved to another shard of their pool (a replica
  count changed); rendezvous hashing keeps this to the monitors that must move;
- `syft_operator_pool_reconciles_total{outcome}`: reconciles of pools by outcome.

No pool or namespace label: label values stay a fixed set (docs/metrics.md). Each pool's
assignment counts per shard are in its own `.status.shards`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

OUTCOMES = ("success", "retry", "error")

#: (shards, assigned monitors) of each pool.
Snapshot = Callable[[], list[tuple[int, int]]]


class _Assignments(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pools = self.snapshot()
        yield GaugeMetricFamily(
            "syft_operator_pool_shards",
            "Shards of all SyftMonitorPools, as last reconciled.",
            value=sum(shards for shards, _monitors in pools),
        )
        yield GaugeMetricFamily(
            "syft_operator_pool_monitors",
            "SyftMonitors assigned to a shard of a SyftMonitorPool.",
            value=sum(monitors for _shards, monitors in pools),
        )


class PoolMetrics:
    def __init__(self, registry: CollectorRegistry, snapshot: Snapshot) -> None:
        self.moves = Counter(
            "syft_operator_pool_moves",
            "SyftMonitors moved to another shard of their pool.",
            registry=registry,
        )
        self.reconciles = Counter(
            "syft_operator_pool_reconciles",
            "Reconciles of SyftMonitorPools by outcome.",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self.reconciles.labels(outcome)
        registry.register(_Assignments(snapshot))
