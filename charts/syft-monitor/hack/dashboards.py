"""The Grafana dashboards of the chart, as data (written to files/dashboards/ by generate.py).

Conventions (checked by tests/unit/observability): a stable `uid`, `"id": null`, a `datasource`
variable that every panel and query uses, `namespace` (and, for monitors, `monitor`) variables in
every query, and `$__rate_interval` in every range. The queries select the scrape jobs
`syft-monitor` and `syft-operator` that the chart's PodMonitor and ServiceMonitor set; the
monitor variable filters on the `syftmonitor` target label (the SyftMonitor's name).
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
MONITOR_SELECTOR = 'job="syft-monitor", namespace=~"$namespace", syftmonitor=~"$monitor"'
OPERATOR_SELECTOR = 'job="syft-operator", namespace=~"$namespace"'
WIDTH = 24

Panel = dict[str, Any]


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def _query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "current": {},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
    }


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def timeseries(
    title: str,
    description: str,
    queries: list[tuple[str, str]],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    thresholds: list[dict[str, Any]] | None = None,
) -> Panel:
    defaults: dict[str, Any] = {"unit": unit, "custom": {"fillOpacity": 10, "lineWidth": 1}}
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["custom"]["thresholdsStyle"] = {"mode": "line"}
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": width},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [
            _target(expr, legend, chr(ord("A") + index))
            for index, (expr, legend) in enumerate(queries)
        ],
    }


def stat(title: str, description: str, expr: str, *, unit: str = "short", width: int = 6) -> Panel:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 4, "w": width},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "colorMode": "value",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        },
        "targets": [_target(expr, "", "A")],
    }


def _layout(panels: list[Panel]) -> list[Panel]:
    """Ids in order, and grid positions left to right, top to bottom."""
    x = y = row_height = 0
    for index, panel in enumerate(panels, start=1):
        grid = panel["gridPos"]
        if x + grid["w"] > WIDTH:
            x, y, row_height = 0, y + row_height, 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        row_height = max(row_height, grid["h"])
        panel["id"] = index
    return panels


def _dashboard(
    uid: str, title: str, description: str, variables: list[dict[str, Any]], panels: list[Panel]
) -> dict[str, Any]:
    return {
        "annotations": {"list": []},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": _layout(panels),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["syft-monitor", "syftbox"],
        "templating": {"list": [_datasource_variable(), *variables]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
    }


def overview() -> dict[str, Any]:
    s = MONITOR_SELECTOR
    by = "namespace, syftmonitor"
    legend = "{{namespace}}/{{syftmonitor}}"
    panels = [
        stat(
            "Monitor targets up",
            "Monitor containers Prometheus scrapes successfully.",
            f"sum(up{{{s}}})",
        ),
        stat(
            "Emails sent (24h)",
            "Notifications sent in the last 24 hours.",
            f'sum(increase(syft_monitor_notifications_total{{{s}, outcome="sent"}}[24h]))',
        ),
        stat(
            "Emails failed (24h)",
            "Send attempts that failed in the last 24 hours (each is retried with backoff).",
            f'sum(increase(syft_monitor_notifications_total{{{s}, outcome="failed"}}[24h]))',
        ),
        stat(
            "Oldest successful poll",
            "Age of the oldest last-successful poll among the selected monitors.",
            f"max(time() - syft_monitor_last_successful_poll_timestamp_seconds{{{s}}})",
            unit="s",
        ),
        timeseries(
            "Poll duration p50 / p95",
            "Wall time of one poll (detection and the emails it triggered), by service.",
            [
                (
                    "histogram_quantile(0.5, sum by (le, namespace, syftmonitor, monitor) "
                    f"(rate(syft_monitor_poll_duration_seconds_bucket{{{s}}}[$__rate_interval])))",
                    "p50 {{namespace}}/{{syftmonitor}} {{monitor}}",
                ),
                (
                    "histogram_quantile(0.95, sum by (le, namespace, syftmonitor, monitor) "
                    f"(rate(syft_monitor_poll_duration_seconds_bucket{{{s}}}[$__rate_interval])))",
                    "p95 {{namespace}}/{{syftmonitor}} {{monitor}}",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "Time since last successful poll",
            "Seconds since each service last completed a poll without error.",
            [
                (
                    "time() - max by (namespace, syftmonitor, monitor) "
                    f"(syft_monitor_last_successful_poll_timestamp_seconds{{{s}}})",
                    "{{namespace}}/{{syftmonitor}} {{monitor}}",
                )
            ],
            unit="s",
        ),
        timeseries(
            "Poll intervals since last successful poll",
            "The same age in each service's own poll intervals (1 to 2 is healthy); "
            "SyftMonitorNoSuccessfulPoll fires above 10 (and at least 300 s).",
            [
                (
                    "max by (namespace, syftmonitor, monitor) ("
                    f"(time() - syft_monitor_last_successful_poll_timestamp_seconds{{{s}}})"
                    f" / syft_monitor_poll_interval_seconds{{{s}}})",
                    "{{namespace}}/{{syftmonitor}} {{monitor}}",
                )
            ],
        ),
        timeseries(
            "Events detected per minute",
            "Distinct events (new jobs, status changes, peer requests) by kind.",
            [
                (
                    "sum by (kind) "
                    f"(rate(syft_monitor_events_detected_total{{{s}}}[$__rate_interval])) * 60",
                    "{{kind}}",
                )
            ],
        ),
        timeseries(
            "Emails sent per minute, by event",
            "Notifications delivered, by the event that caused them.",
            [
                (
                    "sum by (event) (rate(syft_monitor_notifications_total"
                    f'{{{s}, outcome="sent"}}[$__rate_interval])) * 60',
                    "{{event}}",
                )
            ],
        ),
        timeseries(
            "Emails failed per minute, by event",
            "Failed send attempts, by event; they are retried with backoff.",
            [
                (
                    "sum by (event) (rate(syft_monitor_notifications_total"
                    f'{{{s}, outcome="failed"}}[$__rate_interval])) * 60',
                    "{{event}}",
                )
            ],
        ),
        timeseries(
            "Drive requests per poll",
            "Google Drive API requests (retries included) divided by polls, per container. "
            "An idle notify poll costs one or two.",
            [
                (
                    f"sum by ({by}, container) (rate(syft_monitor_google_requests_total"
                    f'{{{s}, api="drive"}}[$__rate_interval])) / sum by ({by}, container) '
                    f"(rate(syft_monitor_polls_total{{{s}}}[$__rate_interval]))",
                    "{{namespace}}/{{syftmonitor}} {{container}}",
                )
            ],
        ),
        timeseries(
            "Google API errors per minute",
            "Requests to Drive and Gmail that did not succeed, by API and outcome.",
            [
                (
                    "sum by (api, outcome) (rate(syft_monitor_google_requests_total"
                    f'{{{s}, outcome!="ok"}}[$__rate_interval])) * 60',
                    "{{api}} {{outcome}}",
                )
            ],
        ),
        timeseries(
            "Errors per minute, by kind",
            "Failed polls and housekeeping, by error kind (auth, quota, transport, ...).",
            [
                (
                    "sum by (kind) "
                    f"(rate(syft_monitor_errors_total{{{s}}}[$__rate_interval])) * 60",
                    "{{kind}}",
                )
            ],
        ),
        timeseries(
            "State size",
            "Serialized monitor state. A ConfigMap holds at most 1 MiB; the line is the alert "
            "threshold.",
            [(f"max by ({by}) (syft_monitor_state_size_bytes{{{s}}})", legend)],
            unit="bytes",
            thresholds=[
                {"color": "green", "value": None},
                {"color": "orange", "value": 614400},
            ],
        ),
        timeseries(
            "Pending work items",
            "Detected changes not yet fully notified (retried with backoff).",
            [(f"max by ({by}) (syft_monitor_pending_work_items{{{s}}})", legend)],
        ),
        timeseries(
            "Flood control: folded and deferred emails per hour",
            "Emails folded into digests (by reason) and sends held (quota pause, daily budget).",
            [
                (
                    "sum by (reason) "
                    f"(rate(syft_monitor_notifications_folded_total{{{s}}}[$__rate_interval]))"
                    " * 3600",
                    "folded {{reason}}",
                ),
                (
                    "sum by (reason) "
                    f"(rate(syft_monitor_notifications_deferred_total{{{s}}}[$__rate_interval]))"
                    " * 3600",
                    "deferred {{reason}}",
                ),
            ],
        ),
        timeseries(
            "Sending budget left today",
            "Sends left in the daily budget: high (everything) and low (strangers' share).",
            [
                (
                    f"max by ({by}, priority) (syft_monitor_send_budget_remaining{{{s}}})",
                    "{{syftmonitor}} {{priority}}",
                )
            ],
        ),
        timeseries(
            "Approve decisions per minute",
            "Decisions of the approve service, by kind (job, peer) and outcome.",
            [
                (
                    "sum by (kind, outcome) "
                    f"(rate(syft_monitor_approvals_total{{{s}}}[$__rate_interval])) * 60",
                    "{{kind}} {{outcome}}",
                )
            ],
            width=12,
        ),
        timeseries(
            "Email replies per minute",
            "Replies to new-job emails (approve.email_replies) by outcome; refused: not from the"
            " owner's account or not a reply to our email.",
            [
                (
                    "sum by (outcome) "
                    f"(rate(syft_monitor_email_replies_total{{{s}}}[$__rate_interval])) * 60",
                    "{{outcome}}",
                )
            ],
            width=12,
        ),
    ]
    variables = [
        _query_variable(
            "namespace",
            "Namespace",
            'label_values(syft_monitor_polls_total{job="syft-monitor"}, namespace)',
        ),
        _query_variable(
            "monitor",
            "SyftMonitor",
            'label_values(syft_monitor_polls_total{job="syft-monitor", namespace=~"$namespace"}, '
            "syftmonitor)",
        ),
    ]
    return _dashboard(
        "syft-monitor-overview",
        "SyftMonitor overview",
        "Polls, events, emails, Google API usage and state of the SyftBox monitors.",
        variables,
        panels,
    )


def operator() -> dict[str, Any]:
    s = OPERATOR_SELECTOR
    panels = [
        stat("Operator up", "Operator targets Prometheus scrapes successfully.", f"sum(up{{{s}}})"),
        stat(
            "SyftMonitors",
            "SyftMonitors the operator sees.",
            f'sum(syft_operator_monitors{{{s}, condition="Ready"}})',
        ),
        stat(
            "Ready",
            "SyftMonitors with Ready=True.",
            f'sum(syft_operator_monitors{{{s}, condition="Ready", status="True"}})',
        ),
        stat(
            "Not ready",
            "SyftMonitors with Ready=False (suspended ones included).",
            f'sum(syft_operator_monitors{{{s}, condition="Ready", status="False"}})',
        ),
        timeseries(
            "Reconciles per minute, by outcome",
            "success; retry (missing Secret, API error; retried with backoff); error (a spec "
            "the operator cannot serve).",
            [
                (
                    "sum by (outcome) "
                    f"(rate(syft_operator_reconciles_total{{{s}}}[$__rate_interval])) * 60",
                    "{{outcome}}",
                )
            ],
        ),
        timeseries(
            "Reconcile errors per minute",
            "Reconciles that ended in retry or error.",
            [
                (
                    "sum by (outcome) (rate(syft_operator_reconciles_total"
                    f'{{{s}, outcome=~"error|retry"}}[$__rate_interval])) * 60',
                    "{{outcome}}",
                )
            ],
        ),
        timeseries(
            "Reconcile queue: depth, lag p95, sweeps",
            "SyftMonitors due in the queue (each sweep queues all; a healthy queue drains before "
            "the next), how long a due one waited (p95), sweeps per minute, and the children "
            "and Secrets held from the watches (the idle sweep reads nothing from the API).",
            [
                (f"sum(syft_operator_queue_depth{{{s}}})", "queue depth"),
                (
                    "histogram_quantile(0.95, sum by (le) (rate("
                    f"syft_operator_queue_lag_seconds_bucket{{{s}}}[$__rate_interval])))",
                    "lag p95 (s)",
                ),
                (
                    f"sum(rate(syft_operator_sweeps_total{{{s}}}[$__rate_interval])) * 60",
                    "sweeps/min",
                ),
                (f"sum(syft_operator_cache_objects{{{s}}})", "cached objects"),
            ],
        ),
        timeseries(
            "Drift repairs per minute, by kind",
            "Children someone else changed (replicas, image, securityContext, Role rules, ...) "
            "that the operator restored; a steady rate means something keeps changing them.",
            [
                (
                    "sum by (kind) (rate(syft_operator_drift_repairs_total"
                    f"{{{s}}}[$__rate_interval])) * 60",
                    "{{kind}}",
                )
            ],
        ),
        timeseries(
            "Reconcile duration p50 / p95",
            "Duration of one reconcile of a SyftMonitor.",
            [
                (
                    "histogram_quantile(0.5, sum by (le) (rate("
                    f"syft_operator_reconcile_duration_seconds_bucket{{{s}}}[$__rate_interval])))",
                    "p50",
                ),
                (
                    "histogram_quantile(0.95, sum by (le) (rate("
                    f"syft_operator_reconcile_duration_seconds_bucket{{{s}}}[$__rate_interval])))",
                    "p95",
                ),
            ],
            unit="s",
        ),
        timeseries(
            "SyftMonitors by condition",
            "How many SyftMonitors have each condition in each status.",
            [
                (
                    f"sum by (condition, status) (syft_operator_monitors{{{s}}})",
                    "{{condition}}={{status}}",
                )
            ],
        ),
        timeseries(
            "Pools: shards, pooled monitors, moves and reconciles",
            "Shards of all SyftMonitorPools, the SyftMonitors they serve, monitors moved to "
            "another shard per minute (only when a pool's replica count changes) and pool "
            "reconciles per minute by outcome.",
            [
                (f"sum(syft_operator_pool_shards{{{s}}})", "shards"),
                (f"sum(syft_operator_pool_monitors{{{s}}})", "pooled monitors"),
                (
                    f"sum(rate(syft_operator_pool_moves_total{{{s}}}[$__rate_interval])) * 60",
                    "moves/min",
                ),
                (
                    "sum by (outcome) "
                    f"(rate(syft_operator_pool_reconciles_total{{{s}}}[$__rate_interval])) * 60",
                    "reconciles/min {{outcome}}",
                ),
            ],
        ),
    ]
    variables = [
        _query_variable(
            "namespace",
            "Namespace",
            'label_values(syft_operator_reconciles_total{job="syft-operator"}, namespace)',
        ),
    ]
    return _dashboard(
        "syft-operator",
        "SyftMonitor operator",
        "Reconciles, their errors and durations, and SyftMonitors by condition.",
        variables,
        panels,
    )


def all_dashboards() -> dict[str, dict[str, Any]]:
    """File stem -> dashboard."""
    return {"syft-monitor-overview": overview(), "syft-operator": operator()}
