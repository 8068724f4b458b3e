"""The operator's own Prometheus metrics, in a registry of their own.

- `syft_operator_reconciles_total{outcome}`: reconciles by outcome (`success`, `retry` when a
  Secret is missing or the API failed transiently, `error` when the spec cannot be served);
- `syft_operator_reconcile_duration_seconds`: how long a reconcile took;
- `syft_operator_drift_repairs_total{kind}`: children someone else changed and the operator
  restored (replicas, image, securityContext, Role rules, ...);
- `syft_operator_sweeps_total`: status sweeps (each queues every SyftMonitor once);
- `syft_operator_queue_depth`: SyftMonitors due in the reconcile queue (not those backing off);
- `syft_operator_queue_lag_seconds`: how long a due SyftMonitor waited for the queue to start
  it (the sweep's lag behind its schedule; grows when the queue cannot keep up);
- `syft_operator_cache_objects`: children and Secrets held from the watches;
- `syft_operator_monitors{condition,status}`: SyftMonitors by condition and status, computed at
  scrape time from what the watch stream last showed (deleted objects drop out at once).

Every label combination is exported from the start (zero), so alerts on `rate()` and `== 0` work
before the first reconcile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from syft_operator.status import CONDITION_TYPES, STATUSES

OUTCOMES = ("success", "retry", "error")
CHILD_KINDS = ("ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Deployment", "CronJob")
#: Reconciles are a few API calls: 5 ms to a slow API server's 30 s.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Queue waits: nothing (idle) to a sweep that takes longer than its 60 s period.
LAG_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0)


class _MonitorConditions(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_object: dict[tuple[str, str], dict[str, str]] = {}

    def observe(self, namespace: str, name: str, conditions: Sequence[Mapping[str, Any]]) -> None:
        states = {
            str(c.get("type")): str(c.get("status"))
            for c in conditions
            if c.get("type") in CONDITION_TYPES and c.get("status") in STATUSES
        }
        with self._lock:
            self._by_object[(namespace, name)] = states

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._by_object.pop((namespace, name), None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "syft_operator_monitors",
            "SyftMonitors by condition and status (Unknown: not reported yet).",
            labels=["condition", "status"],
        )
        with self._lock:
            snapshot = list(self._by_object.values())
        for condition in CONDITION_TYPES:
            counts = dict.fromkeys(STATUSES, 0)
            for states in snapshot:
                counts[states.get(condition, "Unknown")] += 1
            for status, count in counts.items():
                family.add_metric([condition, status], count)
        yield family


class _Sizes(Collector):
    """Gauges read at scrape time from the runtime (set by `OperatorMetrics.track`)."""

    def __init__(self) -> None:
        self.queue_depth: Callable[[], int] = lambda: 0
        self.cache_objects: Callable[[], int] = lambda: 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "syft_operator_queue_depth",
            "SyftMonitors waiting in the reconcile queue.",
            value=self.queue_depth(),
        )
        yield GaugeMetricFamily(
            "syft_operator_cache_objects",
            "Children and Secrets held in memory from the watches.",
            value=self.cache_objects(),
        )


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.reconciles = Counter(
            "syft_operator_reconciles",
            "Reconciles of SyftMonitors by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "syft_operator_reconcile_duration_seconds",
            "Duration of one reconcile of a SyftMonitor.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.drift_repairs = Counter(
            "syft_operator_drift_repairs",
            "Children changed outside the operator and restored, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.sweeps = Counter(
            "syft_operator_sweeps",
            "Status sweeps: each queues every SyftMonitor for a pass from the cache.",
            registry=self.registry,
        )
        self.queue_lag = Histogram(
            "syft_operator_queue_lag_seconds",
            "Time a due SyftMonitor waited in the reconcile queue.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.sizes = _Sizes()
        self.registry.register(self.sizes)
        self.monitors = _MonitorConditions()
        self.registry.register(self.monitors)
        for outcome in OUTCOMES:
            self.reconciles.labels(outcome)
        for kind in CHILD_KINDS:
            self.drift_repairs.labels(kind)

    def track(self, queue_depth: Callable[[], int], cache_objects: Callable[[], int]) -> None:
        self.sizes.queue_depth = queue_depth
        self.sizes.cache_objects = cache_objects

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
        """Serve `/metrics` from a daemon thread (prometheus_client's own server)."""
        start_http_server(port, addr=host, registry=self.registry)
