"""The alert rules with the real promtool: valid, unit-tested (each alert fires and resolves), and
the tests are sharp enough to notice a rule that ignores its `for:`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prom_tools import ROOT, PrometheusTools

from tests.kubeapi.tools import K8sTools, tool_env

RULES = ROOT / "deploy" / "prometheus" / "syft-monitor-rules.yaml"
UNIT_TESTS = Path(__file__).with_name("alerts.test.yaml")
CHART = ROOT / "charts" / "syft-monitor"
METRICS_DOC = ROOT / "docs" / "metrics.md"


def promtool(tools: PrometheusTools, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools.promtool), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def alert_names() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


def test_plain_rules_file_is_valid(prometheus_tools: PrometheusTools) -> None:
    result = promtool(prometheus_tools, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in result.stdout


def test_chart_prometheus_rule_with_custom_values_is_valid(
    prometheus_tools: PrometheusTools, k8s_tools: K8sTools, tmp_path: Path
) -> None:
    rendered = subprocess.run(
        [
            str(k8s_tools.helm),
            "template",
            "syft",
            str(CHART),
            "--values",
            str(CHART / "ci" / "observability-values.yaml"),
            "--set",
            "prometheusRule.noSuccessfulPollIntervals=3",
            "--show-only",
            "templates/prometheusrule.yaml",
        ],
        capture_output=True,
        text=True,
        env=tool_env(None, tmp_path / "helm"),
        timeout=60,
        check=True,
    ).stdout
    rule = yaml.safe_load(rendered)
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = promtool(prometheus_tools, "check", "rules", rules_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names()) - 1} rules found" in result.stdout


def test_every_alert_fires_and_resolves_in_promtool_unit_tests(
    prometheus_tools: PrometheusTools,
) -> None:
    result = promtool(prometheus_tools, "test", "rules", UNIT_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_tests_cover_quiet_firing_and_resolved_for_every_alert() -> None:
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    assert suite["rule_files"] == ["../../../deploy/prometheus/syft-monitor-rules.yaml"]
    covered = set()
    for case in suite["tests"]:
        by_alert: dict[str, list[tuple[int, bool]]] = {}
        for check in case["alert_rule_test"]:
            minutes = int(re.fullmatch(r"(\d+)m", check["eval_time"])[1])  # type: ignore[index]
            by_alert.setdefault(check["alertname"], []).append((minutes, bool(check["exp_alerts"])))
        for alert, checks in by_alert.items():
            checks.sort()
            states = [firing for _, firing in checks]
            if True in states:
                first = states.index(True)
                # Quiet while pending, firing, then resolved.
                if first > 0 and False in states[first:]:
                    covered.add(alert)
    assert covered == set(alert_names())


def test_unit_tests_fail_when_a_rule_ignores_its_for(
    prometheus_tools: PrometheusTools, tmp_path: Path
) -> None:
    """The suite must be able to fail: the same rules without `for:` do not pass it."""
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            rule["for"] = "0m"
    rules_dir = tmp_path / "deploy" / "prometheus"
    rules_dir.mkdir(parents=True)
    (rules_dir / RULES.name).write_text(yaml.safe_dump({"groups": groups}))
    tests_dir = tmp_path / "tests" / "integration" / "observability"
    tests_dir.mkdir(parents=True)
    (tests_dir / UNIT_TESTS.name).write_text(UNIT_TESTS.read_text())
    result = promtool(prometheus_tools, "test", "rules", tests_dir / UNIT_TESTS.name)
    assert result.returncode != 0
    failed = set(re.findall(r"alertname: (\w+)", result.stdout + result.stderr))
    assert failed == set(alert_names())


def test_documented_scrape_config_is_valid(
    prometheus_tools: PrometheusTools, tmp_path: Path
) -> None:
    """docs/metrics.md's scrape config for Prometheus without the Prometheus Operator.

    Debian's Prometheus is built without Kubernetes service discovery, so the discovery block is
    swapped for a static target: the relabelling, which is what could be wrong, is checked.
    """
    (block,) = re.findall(r"```yaml\n(.*?)```", METRICS_DOC.read_text(), re.DOTALL)
    config = yaml.safe_load(block)
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert jobs == ["syft-monitor", "syft-operator"]
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
        job["static_configs"] = [{"targets": ["127.0.0.1:9101"]}]
        targets = {r.get("target_label") for r in job["relabel_configs"]}
        assert {"namespace", "pod"} <= targets
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = promtool(prometheus_tools, "check", "config", path)
    assert result.returncode == 0, result.stdout + result.stderr
