"""RBAC as data: rule matching, the monitor's Role, and the committed install manifests."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from syft_operator import names
from syft_operator.manifests import render_operator_yaml
from syft_operator.rbac import Rule, monitor_rules, operator_rules, permitted

ROOT = Path(__file__).resolve().parents[3]


def test_rule_matching() -> None:
    rule = Rule(("",), ("configmaps",), ("get", "patch"), "why", resource_names=("a-state",))
    assert rule.permits("get", "", "configmaps", "a-state")
    assert not rule.permits("get", "", "configmaps", "b-state")
    assert not rule.permits("get", "", "configmaps")  # a list has no name to match
    assert not rule.permits("delete", "", "configmaps", "a-state")
    assert not rule.permits("get", "apps", "configmaps", "a-state")
    wildcard = Rule(("*",), ("*",), ("*",), "why")
    assert wildcard.permits("delete", "apps", "deployments", "x")


def test_subresources_are_separate() -> None:
    rules = operator_rules()
    assert permitted(rules, "patch", names.GROUP, "syftmonitors/status", "a")
    assert not permitted(rules, "patch", names.GROUP, "syftmonitors/scale", "a")
    assert not permitted(rules, "delete", names.GROUP, "syftmonitors", "a")


def test_operator_cannot_touch_secrets_beyond_reading() -> None:
    rules = operator_rules()
    # Watched (the idle resync reads them from memory), never written.
    for verb in ("get", "list", "watch"):
        assert permitted(rules, verb, "", "secrets", "x"), verb
    for verb in ("create", "update", "patch", "delete"):
        assert not permitted(rules, verb, "", "secrets", "x"), verb


def test_operator_holds_what_it_grants() -> None:
    # Kubernetes refuses a Role that grants more than its creator holds (no escalate verb).
    granted = monitor_rules("a-state", "a-heartbeat")
    for rule in granted:
        for verb in rule.verbs:
            for resource in rule.resources:
                assert permitted(operator_rules(), verb, rule.api_groups[0], resource, "a-state")


def test_committed_operator_manifests_are_generated_and_valid() -> None:
    committed = (ROOT / "deploy" / "operator.yaml").read_text()
    assert committed == render_operator_yaml(), (
        "regenerate: python -m syft_operator.manifests > deploy/operator.yaml"
    )
    docs = [d for d in yaml.safe_load_all(committed) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.34", strict=True)
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert role["rules"] == [rule.as_manifest() for rule in operator_rules()]
    for rule in operator_rules():
        assert f"# {rule.why}" in committed
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--standalone" in args
    assert "--all-namespaces" in args


def test_image_override() -> None:
    text = render_operator_yaml("syft-monitor:e2e", "Never")
    deployment = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "syft-monitor:e2e"
    assert container["imagePullPolicy"] == "Never"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SYFT_OPERATOR_MONITOR_IMAGE"] == "syft-monitor:e2e"
