"""`helm lint --strict` with the real helm: every scenario passes, bad values fail on the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_support import SCENARIOS, ChartRenderer


def test_there_are_several_scenarios() -> None:
    assert len(SCENARIOS) >= 5, [p.name for p in SCENARIOS]


@pytest.mark.parametrize("values", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_lints_clean(chart: ChartRenderer, values: Path) -> None:
    result = chart.lint(values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ERROR]" not in result.stdout
    assert "[WARNING]" not in result.stdout


BAD_SETS = [
    ("operator.scope=everywhere", "/operator/scope", "value must be one of"),
    ("operator.image.pullPolicy=Sometimes", "/operator/image/pullPolicy", "value must be one of"),
    ("operatorr.enabled=true", "additional properties 'operatorr' not allowed", ""),
    ("serviceMonitor.labels.team=a", "/serviceMonitor", "additional properties 'labels'"),
    ("operator.statusInterval=soon", "/operator/statusInterval", "got string, want number"),
    ("operator.healthPort=70000", "/operator/healthPort", "maximum"),
    ("prometheusRule.stateSizeWarningBytes=5000000", "/prometheusRule/stateSizeWarningBytes", ""),
    ("prometheusRule.disabledAlerts={NoSuchAlert}", "/prometheusRule/disabledAlerts/0", ""),
    ("prometheusRule.runbookUrl=docs/runbook.md", "/prometheusRule/runbookUrl", "pattern"),
    ("operator.namespaces={Team_A}", "/operator/namespaces/0", "pattern"),
    ("dashboards.enabled=maybe", "/dashboards/enabled", "want boolean"),
]


@pytest.mark.parametrize(("assignment", "where", "why"), BAD_SETS, ids=[b[0] for b in BAD_SETS])
def test_bad_value_fails_with_a_schema_error(
    chart: ChartRenderer, assignment: str, where: str, why: str
) -> None:
    result = chart.lint(sets=[assignment])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "values don't meet the specifications of the schema" in output
    assert where in output
    assert why in output


BAD_MONITORS = [
    ("doEmail: not-an-email", "/monitors/0/spec/doEmail", "does not match pattern"),
    ("mode: Daemonset", "/monitors/0/spec/mode", "value must be one of"),
    ("doEmial: alice@hospital.example.org", "/monitors/0/spec", "'doEmial' not allowed"),
    ("intervals: {notify: 1}", "/monitors/0/spec/intervals/notify", "minimum"),
    ("services: [notify, mail]", "/monitors/0/spec/services/1", "value must be one of"),
    ("sender: {type: smtp, smtp: {host: relay, tls: maybe}}", "/tls", "value must be one of"),
]


@pytest.mark.parametrize(("extra", "where", "why"), BAD_MONITORS, ids=[b[0] for b in BAD_MONITORS])
def test_bad_monitor_spec_fails_with_the_crd_schema(
    chart: ChartRenderer, tmp_path: Path, extra: str, where: str, why: str
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "monitors:\n"
        "  - name: alice\n"
        "    spec:\n"
        "      driveTokenSecretRef: {name: alice-token, key: token.json}\n"
        "      gmailTokenSecretRef: {name: alice-token, key: token.json}\n"
        + ("      doEmail: alice@hospital.example.org\n" if "doEm" not in extra else "")
        + f"      {extra}\n"
    )
    result = chart.lint(values)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert where in output
    assert why in output


def test_monitor_without_required_spec_fields_fails(chart: ChartRenderer, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("monitors:\n  - name: alice\n    spec: {mode: CronJob}\n")
    result = chart.lint(values)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "missing properties" in output
    assert "doEmail" in output
    assert "driveTokenSecretRef" in output


def test_monitor_name_must_fit_the_operator_limit(chart: ChartRenderer) -> None:
    result = chart.lint(sets=["monitors[0].name=" + "a" * 45, "monitors[0].spec.mode=CronJob"])
    assert result.returncode != 0
    assert "/monitors/0/name" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("spec", "where"),
    [("{replica: 3}", "replica"), ("{replicas: 0}", "/pools/0/spec/replicas")],
)
def test_bad_pool_spec_fails_with_the_crd_schema(
    chart: ChartRenderer, tmp_path: Path, spec: str, where: str
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(f"pools:\n  - name: shared\n    spec: {spec}\n")
    result = chart.lint(values)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert where in output


def test_pool_name_must_fit_the_operator_limit(chart: ChartRenderer) -> None:
    result = chart.lint(sets=["pools[0].name=" + "a" * 53])
    assert result.returncode != 0
    assert "/pools/0/name" in result.stdout + result.stderr
