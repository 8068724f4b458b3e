"""docs/metrics.md, docs/runbook.md, the alert rules and the dashboards agree with each other and
with the code's label enumerations (the live scrape is checked in tests/integration/observability).
"""

from __future__ import annotations

import re

import pytest
from observability_docs import (
    METRIC_IN_EXPR,
    alerts,
    dashboard_queries,
    documented_label_values,
    documented_metrics,
    family_of,
    runbook_anchors,
)

from syft_monitors.events import EventKind
from syft_monitors.metrics import (
    DEFER_REASONS,
    ERROR_KINDS,
    FOLD_REASONS,
    NOTIFICATION_OUTCOMES,
    REQUEST_OUTCOMES,
)
from syft_operator.metrics import OUTCOMES
from syft_operator.status import CONDITION_TYPES, STATUSES

DOCUMENTED = documented_metrics()
LABEL_VALUES = documented_label_values()


def test_metric_tables_are_read() -> None:
    assert len(DOCUMENTED) >= 13
    for metric in DOCUMENTED.values():
        assert metric.name.startswith(("syft_monitor_", "syft_operator_"))
        assert metric.type in {"counter", "gauge", "histogram"}
        assert metric.help
        if metric.type == "counter":
            assert metric.name.endswith("_total"), metric.name
        else:
            assert not metric.name.endswith("_total"), metric.name


def test_every_documented_label_has_its_values_documented() -> None:
    for metric in DOCUMENTED.values():
        for label in metric.labels:
            assert (metric.name, label) in LABEL_VALUES, f"{metric.name}{{{label}}}"
    for metric, label in LABEL_VALUES:
        assert label in DOCUMENTED[metric].labels, f"{metric}{{{label}}} is not a label of it"


EVENT_KINDS = frozenset(kind.value for kind in EventKind)


@pytest.mark.parametrize(
    ("metric", "label", "values"),
    [
        ("syft_monitor_google_requests_total", "outcome", frozenset(REQUEST_OUTCOMES)),
        ("syft_monitor_notifications_total", "outcome", frozenset(NOTIFICATION_OUTCOMES)),
        ("syft_monitor_notifications_total", "event", EVENT_KINDS | {"heartbeat", "digest"}),
        ("syft_monitor_notifications_folded_total", "event", EVENT_KINDS),
        ("syft_monitor_notifications_folded_total", "reason", frozenset(FOLD_REASONS)),
        ("syft_monitor_notifications_deferred_total", "reason", frozenset(DEFER_REASONS)),
        ("syft_monitor_events_detected_total", "kind", EVENT_KINDS),
        ("syft_monitor_errors_total", "kind", frozenset(ERROR_KINDS)),
        ("syft_operator_reconciles_total", "outcome", frozenset(OUTCOMES)),
        ("syft_operator_monitors", "condition", frozenset(CONDITION_TYPES)),
        ("syft_operator_monitors", "status", frozenset(STATUSES)),
    ],
)
def test_documented_label_values_are_the_codes(
    metric: str, label: str, values: frozenset[str]
) -> None:
    assert LABEL_VALUES[(metric, label)] == values


def _used_metrics(expr: str) -> set[str]:
    return set(METRIC_IN_EXPR.findall(expr))


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
def test_alerts_query_documented_metrics_and_link_the_runbook(alert: dict[str, object]) -> None:
    expr = str(alert["expr"])
    for series in _used_metrics(expr):
        assert family_of(series, DOCUMENTED), f"{alert['alert']} queries undocumented {series}"
    annotations = alert["annotations"]
    assert isinstance(annotations, dict)
    assert annotations["summary"]
    assert annotations["description"]
    url = str(annotations["runbook_url"])
    anchor = url.rsplit("#", 1)[1]
    assert url.split("#", maxsplit=1)[0].endswith("/docs/runbook.md")
    sections = runbook_anchors()
    assert anchor in sections, f"docs/runbook.md has no section #{anchor}"
    assert len(sections[anchor]) > 200, f"the runbook section #{anchor} is too thin"
    assert alert["for"], alert["alert"]
    labels = alert["labels"]
    assert isinstance(labels, dict)
    assert labels["severity"] in {"warning", "critical"}


def test_runbook_has_no_section_without_an_alert() -> None:
    names = {str(a["alert"]).lower() for a in alerts()}
    assert set(runbook_anchors()) == names


def test_issue_alerts_are_all_there() -> None:
    wanted = {
        "SyftMonitorDown",  # monitor down
        "SyftMonitorTargetsAbsent",  # ... or absent
        "SyftMonitorNoSuccessfulPoll",
        "SyftMonitorNotificationsFailing",
        "SyftMonitorAuthErrors",
        "SyftMonitorGoogleQuotaErrors",
        "SyftMonitorStateNearLimit",
        "SyftOperatorReconcileErrors",
    }
    assert wanted <= {str(a["alert"]) for a in alerts()}


@pytest.mark.parametrize(("uid", "panel", "expr"), dashboard_queries())
def test_dashboards_query_documented_metrics(uid: str, panel: str, expr: str) -> None:
    used = _used_metrics(expr)
    assert used or re.search(r"\bup\{", expr), f"{uid} {panel} queries no metric of ours"
    for series in used:
        assert family_of(series, DOCUMENTED), f"{uid} {panel} queries undocumented {series}"


def test_every_documented_metric_is_on_a_dashboard_or_in_an_alert() -> None:
    used = {
        family_of(series, DOCUMENTED)
        for expr in [q[2] for q in dashboard_queries()] + [str(a["expr"]) for a in alerts()]
        for series in _used_metrics(expr)
    }
    assert set(DOCUMENTED) - used == set()
