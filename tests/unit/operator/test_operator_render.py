"""Rendering a spec into children: valid objects, hardened pods, a config the monitor accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule
from syft_monitors.config import parse_config
from syft_operator import names
from syft_operator.crd import ApproveSpec, AutoApprovalSpec, SyftMonitorSpec
from syft_operator.render import (
    METRICS_PORTS,
    RenderOptions,
    render,
    render_monitor_config,
)

ROOT = Path(__file__).resolve().parents[3]
OPTIONS = RenderOptions(default_image="syft-monitor:test")


def spec(**overrides: Any) -> SyftMonitorSpec:
    data: dict[str, Any] = {
        "doEmail": "alice@hospital.example.org",
        "driveTokenSecretRef": {"name": "alice-drive", "key": "token.json"},
        "gmailTokenSecretRef": {"name": "alice-gmail", "key": "gmail.json"},
    }
    data.update(overrides)
    return SyftMonitorSpec.model_validate(data)


def full_spec() -> SyftMonitorSpec:
    example = yaml.safe_load((ROOT / "deploy/examples/syftmonitor-full.yaml").read_text())
    return SyftMonitorSpec.model_validate(example["spec"])


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "Deployment":
        return workload["spec"]["template"]["spec"]
    return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def template(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "Deployment":
        return workload["spec"]["template"]
    return workload["spec"]["jobTemplate"]["spec"]["template"]


@pytest.mark.parametrize("mode", ["Deployment", "CronJob"])
def test_every_child_is_a_valid_kubernetes_object(mode: str) -> None:
    for candidate in (spec(mode=mode), full_spec()):
        children = render("alice", "syft", candidate, OPTIONS)
        for manifest in [children.state_map, *children.owned()]:
            kubernetes_validate.validate(manifest, "1.34", strict=True)
            assert manifest["metadata"]["namespace"] == "syft"
            assert manifest["metadata"]["labels"][names.LABEL_INSTANCE] == "alice"


def test_children_names() -> None:
    children = render("alice", "syft", spec(), OPTIONS)
    assert children.config_map["metadata"]["name"] == "alice-config"
    assert children.state_map["metadata"]["name"] == "alice-state"
    for manifest in (children.service_account, children.role, children.role_binding):
        assert manifest["metadata"]["name"] == "alice-monitor"
    assert children.workload["kind"] == "Deployment"
    assert children.stale_workload_kind == "CronJob"


@pytest.mark.parametrize("mode", ["Deployment", "CronJob"])
def test_pod_is_hardened(mode: str) -> None:
    workload = render("alice", "syft", spec(mode=mode), OPTIONS).workload
    pod = pod_spec(workload)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == names.RUN_AS_USER
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == "alice-monitor"
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["privileged"] is False
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        # Only /tmp is writable; every Secret and the config are read-only.
        writable = [path for path, m in mounts.items() if not m.get("readOnly")]
        assert writable == [names.TMP_DIR]
    secret_volumes = [v for v in pod["volumes"] if "secret" in v]
    assert {v["secret"]["secretName"] for v in secret_volumes} == {"alice-drive", "alice-gmail"}
    assert all(v["secret"]["defaultMode"] == 0o440 for v in secret_volumes)


def test_deployment_shape() -> None:
    workload = render("alice", "syft", spec(), OPTIONS).workload
    assert workload["spec"]["replicas"] == 1
    assert workload["spec"]["strategy"] == {"type": "Recreate"}
    assert workload["spec"]["selector"]["matchLabels"] == names.selector_labels("alice")
    meta = template(workload)["metadata"]
    assert meta["labels"].items() >= names.selector_labels("alice").items()
    assert meta["annotations"]["prometheus.io/scrape"] == "true"
    assert meta["annotations"]["prometheus.io/port"] == str(METRICS_PORTS["notify"])
    (container,) = pod_spec(workload)["containers"]
    assert container["command"] == ["syft-bg"]
    assert container["args"] == ["--config", "/etc/syft-monitor/notify.yaml", "run", "notify"]
    assert container["ports"] == [
        {"name": "notify-metrics", "containerPort": 9101, "protocol": "TCP"}
    ]
    probe = container["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "notify-metrics"}
    assert container["image"] == "syft-monitor:test"


def test_cronjob_shape() -> None:
    workload = render("alice", "syft", spec(mode="CronJob", schedule="@hourly"), OPTIONS).workload
    assert workload["kind"] == "CronJob"
    assert workload["spec"]["schedule"] == "@hourly"
    assert workload["spec"]["concurrencyPolicy"] == "Forbid"
    assert workload["spec"]["suspend"] is False
    (container,) = pod_spec(workload)["containers"]
    assert container["args"][-1] == "--once"
    assert "livenessProbe" not in container
    assert render("alice", "syft", spec(mode="CronJob"), OPTIONS).stale_workload_kind == (
        "Deployment"
    )


def test_suspend() -> None:
    assert render("a", "ns", spec(suspend=True), OPTIONS).workload["spec"]["replicas"] == 0
    cron = render("a", "ns", spec(suspend=True, mode="CronJob"), OPTIONS).workload
    assert cron["spec"]["suspend"] is True


def test_one_container_per_service() -> None:
    workload = render("a", "ns", spec(services=["notify", "approve"]), OPTIONS).workload
    containers = pod_spec(workload)["containers"]
    assert [c["name"] for c in containers] == ["notify", "approve"]
    ports = [c["ports"][0]["containerPort"] for c in containers]
    assert len(set(ports)) == 2


def test_config_hash_follows_the_config_only() -> None:
    def hash_of(candidate: SyftMonitorSpec) -> str:
        workload = render("alice", "syft", candidate, OPTIONS).workload
        return template(workload)["metadata"]["annotations"][names.CONFIG_HASH_ANNOTATION]

    base = hash_of(spec())
    assert hash_of(spec()) == base
    assert hash_of(spec(emailFormat="text")) != base
    assert hash_of(spec(intervals={"notify": 60})) != base
    assert hash_of(spec(notifications={"newPeer": False})) != base
    assert hash_of(spec(image="other:1")) == base  # an image change rolls the pod by itself


@pytest.mark.parametrize("service", ["notify", "approve"])
@pytest.mark.parametrize("mode", ["Deployment", "CronJob"])
def test_rendered_config_is_accepted_by_the_monitor(service: str, mode: str) -> None:
    for candidate in (spec(mode=mode, services=["notify", "approve"]), full_spec()):
        config_map = render("alice", "syft", candidate, OPTIONS).config_map
        key = f"{service}.yaml"
        if key not in config_map["data"]:
            continue
        config = parse_config(yaml.safe_load(config_map["data"][key]), source=key)
        assert config.state_backend == "configmap"
        assert config.state_configmap is not None
        assert config.state_configmap.name == "alice-state"
        assert str(config.drive_token_path).startswith(names.SECRETS_DIR)
        if candidate.mode == "Deployment":
            assert config.metrics_port == METRICS_PORTS[service]
            assert config.metrics_host == "0.0.0.0"
        else:
            assert config.metrics_port is None


def test_config_maps_every_setting() -> None:
    config = parse_config(render_monitor_config("bob", full_spec(), "approve"))
    assert config.do_email == "bob@university.example.edu"
    assert config.sender == "smtp"
    assert config.smtp is not None
    assert config.smtp.host == "smtp.university.example.edu"
    assert config.smtp.starttls is True
    assert config.smtp.ssl is False
    assert str(config.smtp.password_file) == f"{names.SECRETS_DIR}/smtp/password"
    assert config.email_format == "both"
    assert config.notify_on_rejected is False
    assert config.notify_on_new_job is True
    assert config.interval == 60
    assert config.approve.interval == 10
    assert config.approve.approved_domains == ("university.example.edu",)
    (rule,) = config.approve.auto_approvals
    assert rule.name == "count-rows"
    assert rule.file_set() == {"main.py", "params.json"}
    # What runs is pinned: the rule approves (it is not inert) and checks the declaration.
    assert not rule.inert
    assert rule.canonical_run_sh
    assert rule.job is not None
    assert rule.job.dependencies == ("syft-client==0.1.117",)


def test_crd_approve_rules_cover_the_config_file_schema() -> None:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    rule_fields = {camel(n) for n in AutoApprovalRule.model_fields}
    assert rule_fields == set(AutoApprovalSpec.model_json_schema(by_alias=True)["properties"])
    # `interval` lives in spec.intervals.approve.
    settings_fields = {camel(n) for n in ApproveSettings.model_fields} - {"interval"}
    assert settings_fields == set(ApproveSpec.model_json_schema(by_alias=True)["properties"])


def test_role_is_limited_to_own_objects() -> None:
    role = render("bob", "syft", full_spec(), OPTIONS).role
    rules = role["rules"]
    # Only what the monitor's ConfigMap state backend does (read, replace; a merge patch of
    # its heartbeat); its tokens are mounted files, so no access to Secrets through the API.
    assert rules == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "update"],
            "resourceNames": ["bob-state"],
        },
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "patch"],
            "resourceNames": ["bob-heartbeat"],
        },
    ]
    binding = render("bob", "syft", full_spec(), OPTIONS).role_binding
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "bob-monitor", "namespace": "syft"}
    ]


def test_resources_default_and_override() -> None:
    default = pod_spec(render("a", "ns", spec(), OPTIONS).workload)["containers"][0]
    assert default["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    custom = spec(resources={"limits": {"cpu": 1, "memory": "1Gi"}})
    container = pod_spec(render("a", "ns", custom, OPTIONS).workload)["containers"][0]
    assert container["resources"] == {"limits": {"cpu": 1, "memory": "1Gi"}}


def test_new_notification_toggles_reach_the_monitor_config() -> None:
    rendered = render_monitor_config(
        "bob",
        spec(
            notifications={
                "failedToSubmitter": False,
                "shareStderrWithSubmitter": True,
                "peerAcceptedByRule": False,
            }
        ),
        "notify",
    )
    config = parse_config(rendered)
    assert config.notify_ds_on_failed is False
    assert config.share_stderr_with_ds is True
    assert config.notify_on_peer_accepted_by_rule is False
    assert parse_config(render_monitor_config("bob", spec(), "notify")).notify_ds_on_failed
