"""The operator's metrics about SyftMonitorPools, in the operator's registry.

- `syft_operator_pool_monitors{namespace,pool,shard}`: SyftMonitors assigned to each shard, as
  last written (computed at scrape time; a deleted pool drops out at once);
- `syft_operator_pool_moves_total{namespace,pool}`: SyftMonitors that moved to another shard
  (a replica count changed); rendezvous hashing keeps this to the monitors that must move;
- `syft_operator_pool_reconciles_total{outcome}`: reconciles of pools by outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

OUTCOMES = ("success", "retry", "error")

Snapshot = Callable[[], dict[tuple[str, str], dict[int, int]]]


class _Assignments(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "syft_operator_pool_monitors",
            "SyftMonitors assigned to each shard of each SyftMonitorPool.",
            labels=["namespace", "pool", "shard"],
        )
        for (namespace, pool), shards in sorted(self.snapshot().items()):
            for shard, count in sorted(shards.items()):
                family.add_metric([namespace, pool, str(shard)], count)
        yield family


class PoolMetrics:
    def __init__(self, registry: CollectorRegistry, snapshot: Snapshot) -> None:
        self.moves = Counter(
            "syft_operator_pool_moves",
            "SyftMonitors moved to another shard of their pool.",
            ["namespace", "pool"],
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
