"""The metrics of a pool process: the monitor metrics, each series labelled with its owner.

A pool serves many data owners from one /metrics. Every metric of `MonitorMetrics` appears under
its usual name with a `monitor="<SyftMonitor name>"` label (metrics that already carry `monitor`,
such as `syft_monitor_polls`, get the owner's name there instead of the service name), so the
dashboards and alerts of single-owner pods work per owner with the pool too.

Each owner's runtime gets an `OwnerMetrics`: a `MonitorMetrics` whose metrics are views that add
the owner's label, so the runtime (poll loop, pipeline, dispatch) records exactly what it records
in a single-owner process without knowing it is pooled. Series of an owner are created when first
used (polls and errors at once, for alerts), not the whole catalogue per owner: a thousand owners
times every event kind and outcome would be a /metrics of hundreds of thousands of lines.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from syft_monitors.metrics import ERROR_KINDS, MonitorMetrics

OWNER_LABEL = "monitor"


def _pooled(metric: MetricWrapperBase, registry: CollectorRegistry) -> MetricWrapperBase:
    """`metric` (of a template `MonitorMetrics`) again on `registry`, with the owner label."""
    # prometheus_client exposes no public accessors for a metric's definition; these attributes
    # are what its own constructors store.
    labels = tuple(metric._labelnames)
    if OWNER_LABEL not in labels:
        labels = (OWNER_LABEL, *labels)
    name, documentation = metric._name, metric._documentation
    if isinstance(metric, Histogram):
        buckets = [b for b in metric._upper_bounds if b != float("inf")]
        return Histogram(name, documentation, labels, buckets=buckets, registry=registry)
    if isinstance(metric, Counter):
        return Counter(name, documentation, labels, registry=registry)
    if isinstance(metric, Gauge):
        return Gauge(name, documentation, labels, registry=registry)
    raise TypeError(f"no pooled form for {type(metric).__name__}")


class PoolMetrics:
    """The one registry of a pool process and a factory of per-owner views."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        template = MonitorMetrics()
        templates = {
            attribute: value
            for attribute, value in vars(template).items()
            if isinstance(value, MetricWrapperBase)
        }
        self.metrics: dict[str, MetricWrapperBase] = {
            attribute: _pooled(value, self.registry) for attribute, value in templates.items()
        }
        #: Metrics the runtime labels `monitor` itself (with its service name, e.g. "notify").
        self.own_label = {
            attribute for attribute, value in templates.items() if OWNER_LABEL in value._labelnames
        }
        self.owners = Gauge(
            "syft_pool_owners",
            "Data owners this pool process serves right now.",
            registry=self.registry,
        )
        self._lock = threading.Lock()

    def for_owner(self, owner: str) -> OwnerMetrics:
        return OwnerMetrics(self, owner)

    def forget(self, owner: str) -> None:
        """Drop every series of `owner` (it left the pool)."""
        with self._lock:
            for metric in self.metrics.values():
                # Same reason as in `_pooled`: no public way to list a metric's children.
                children = list(metric._metrics)
                for values in children:
                    if values and values[0] == owner:
                        metric.remove(*values)

    def render(self) -> bytes:
        from prometheus_client import generate_latest  # noqa: PLC0415 - exposition only

        return generate_latest(self.registry)


class _OwnerView:
    """One pooled metric as an owner's runtime sees it: the same calls, the owner's series."""

    __slots__ = ("_metric", "_owner", "_replaces")

    def __init__(self, metric: MetricWrapperBase, owner: str, *, replaces: bool) -> None:
        self._metric = metric
        self._owner = owner
        #: The runtime passes its service name as `monitor`: the owner's name goes there.
        self._replaces = replaces

    def labels(self, *values: str) -> Any:
        if self._replaces:
            return self._metric.labels(self._owner, *values[1:])
        return self._metric.labels(self._owner, *values)

    def _child(self) -> Any:
        return self._metric.labels(self._owner)

    def inc(self, amount: float = 1) -> None:
        self._child().inc(amount)

    def set(self, value: float) -> None:
        self._child().set(value)

    def observe(self, value: float) -> None:
        self._child().observe(value)


class OwnerMetrics(MonitorMetrics):
    """`MonitorMetrics` of one owner of a pool: every series lands in the pool's registry."""

    def __init__(self, pool: PoolMetrics, owner: str) -> None:
        # No super().__init__(): the metrics are views on the pool's, not a registry of its own.
        self.registry = pool.registry
        self.owner = owner
        for attribute, metric in pool.metrics.items():
            # The views answer the calls the runtime makes on these metrics (labels, inc, set,
            # observe); typed as the metrics they stand for.
            view = _OwnerView(metric, owner, replaces=attribute in pool.own_label)
            setattr(self, attribute, cast(Any, view))
        for kind in ERROR_KINDS:
            self.errors.labels(kind)
