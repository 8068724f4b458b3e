"""The Grafana dashboards follow the conventions Grafana's provisioning and the sidecar rely on,
and the generated chart files are the output of charts/syft-monitor/hack/generate.py.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from observability_docs import ROOT, dashboards

BOARDS = dashboards()
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RANGE = re.compile(r"\[([^\]]+)\]")


def load_generator() -> ModuleType:
    path = ROOT / "charts" / "syft-monitor" / "hack" / "generate.py"
    spec = importlib.util.spec_from_file_location("syft_chart_generate_unit", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_dashboards_with_stable_uids() -> None:
    assert {b["uid"] for b in BOARDS.values()} == {"syft-monitor-overview", "syft-operator"}
    titles = {b["title"] for b in BOARDS.values()}
    assert titles == {"SyftMonitor overview", "SyftMonitor operator"}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_model(name: str) -> None:
    board = BOARDS[name]
    assert board["id"] is None
    assert board["uid"] == name
    assert len(board["uid"]) <= 40
    assert board["schemaVersion"] >= 39
    assert "syft-monitor" in board["tags"]
    variables = board["templating"]["list"]
    assert variables[0]["name"] == "datasource"
    assert variables[0]["type"] == "datasource"
    assert variables[0]["query"] == "prometheus"
    names = [v["name"] for v in variables]
    assert "namespace" in names
    for variable in variables[1:]:
        assert variable["datasource"] == DATASOURCE
        assert variable["definition"].startswith("label_values(")
    ids = [panel["id"] for panel in board["panels"]]
    assert ids == list(range(1, len(ids) + 1))


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_panel_and_query_uses_the_datasource_variable(name: str) -> None:
    for panel in BOARDS[name]["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_queries_use_the_variables_and_rate_interval(name: str) -> None:
    board = BOARDS[name]
    variables = {v["name"] for v in board["templating"]["list"]} - {"datasource"}
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable in variables:
                assert f"${variable}" in expr, f"{panel['title']}: no ${variable}"
            ranges = RANGE.findall(expr)
            if panel["type"] == "timeseries":
                # A graph's windows follow the zoom; a stat states its window in its title.
                assert all(r == "$__rate_interval" for r in ranges), panel["title"]
            else:
                assert all(r == "$__rate_interval" or r in panel["title"] for r in ranges)


def test_overview_has_the_panels_the_issue_asks_for() -> None:
    overview = BOARDS["syft-monitor-overview"]
    exprs = " ".join(t["expr"] for p in overview["panels"] for t in p["targets"])
    assert "histogram_quantile(0.5" in exprs
    assert "histogram_quantile(0.95" in exprs
    for needle in (
        "syft_monitor_poll_duration_seconds_bucket",
        "syft_monitor_events_detected_total",
        'outcome="sent"',
        'outcome="failed"',
        'api="drive"',
        "syft_monitor_last_successful_poll_timestamp_seconds",
        "syft_monitor_state_size_bytes",
    ):
        assert needle in exprs, needle
    variables = [v["name"] for v in overview["templating"]["list"]]
    assert variables == ["datasource", "namespace", "monitor"]


def test_operator_dashboard_has_the_panels_the_issue_asks_for() -> None:
    operator = BOARDS["syft-operator"]
    exprs = " ".join(t["expr"] for p in operator["panels"] for t in p["targets"])
    for needle in (
        "syft_operator_reconciles_total",
        'outcome=~"error|retry"',
        "syft_operator_reconcile_duration_seconds_bucket",
        "sum by (condition, status) (syft_operator_monitors",
    ):
        assert needle in exprs, needle


def test_panels_do_not_overlap() -> None:
    for board in BOARDS.values():
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in cells, panel["title"]
                    cells.add((x, y))


def test_generated_chart_files_are_current() -> None:
    """The CRD template, RBAC rules, values schema and dashboards (the rules file needs helm and
    is checked in tests/integration/helm)."""
    stale: list[Any] = []
    for path, text in load_generator().render_all(None).items():
        current = Path(path).read_text() if Path(path).exists() else None
        if current != text:
            stale.append(Path(path).relative_to(ROOT))
    assert not stale, f"run .venv/bin/python charts/syft-monitor/hack/generate.py; stale: {stale}"
