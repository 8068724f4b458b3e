"""Operator metrics: own registry, every series from the start, monitors counted by condition."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from syft_operator.metrics import OperatorMetrics


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_series_exist_before_the_first_reconcile() -> None:
    metrics = OperatorMetrics()
    for outcome in ("success", "retry", "error"):
        assert value(metrics.registry, "syft_operator_reconciles_total", outcome=outcome) == 0
    assert value(metrics.registry, "syft_operator_reconcile_duration_seconds_count") == 0
    assert value(metrics.registry, "syft_operator_monitors", condition="Ready", status="True") == 0


def test_reconciles_and_durations() -> None:
    metrics = OperatorMetrics()
    metrics.reconciles.labels("retry").inc()
    metrics.reconcile_duration.observe(0.2)
    assert value(metrics.registry, "syft_operator_reconciles_total", outcome="retry") == 1
    assert value(metrics.registry, "syft_operator_reconcile_duration_seconds_count") == 1


def test_monitors_by_condition_follow_the_watch_stream() -> None:
    metrics = OperatorMetrics()
    ready = [{"type": "Ready", "status": "True"}, {"type": "SecretsResolved", "status": "True"}]
    missing = [{"type": "Ready", "status": "False"}, {"type": "SecretsResolved", "status": "False"}]
    metrics.monitors.observe("ns", "a", ready)
    metrics.monitors.observe("ns", "b", missing)
    metrics.monitors.observe("ns", "c", [])
    reg = metrics.registry
    assert value(reg, "syft_operator_monitors", condition="Ready", status="True") == 1
    assert value(reg, "syft_operator_monitors", condition="Ready", status="False") == 1
    assert value(reg, "syft_operator_monitors", condition="Ready", status="Unknown") == 1
    assert (
        value(reg, "syft_operator_monitors", condition="WorkloadAvailable", status="Unknown") == 3
    )
    metrics.monitors.observe("ns", "b", ready)
    metrics.monitors.forget("ns", "c")
    assert value(reg, "syft_operator_monitors", condition="Ready", status="True") == 2
    assert value(reg, "syft_operator_monitors", condition="Ready", status="Unknown") == 0


def test_two_instances_do_not_share_state() -> None:
    first, second = OperatorMetrics(), OperatorMetrics()
    first.reconciles.labels("success").inc()
    assert value(second.registry, "syft_operator_reconciles_total", outcome="success") == 0


def test_fleet_series_read_the_runtime_at_scrape_time() -> None:
    metrics = OperatorMetrics()
    reg = metrics.registry
    assert value(reg, "syft_operator_queue_depth") == 0
    assert value(reg, "syft_operator_sweeps_total") == 0
    assert value(reg, "syft_operator_queue_lag_seconds_count") == 0
    depth = [3]
    metrics.track(queue_depth=lambda: depth[0], cache_objects=lambda: 42)
    metrics.sweeps.inc()
    metrics.queue_lag.observe(0.3)
    assert value(reg, "syft_operator_queue_depth") == 3
    depth[0] = 0
    assert value(reg, "syft_operator_queue_depth") == 0
    assert value(reg, "syft_operator_cache_objects") == 42
    assert value(reg, "syft_operator_sweeps_total") == 1
    assert value(reg, "syft_operator_queue_lag_seconds_count") == 1
