"""The operator ↔ monitor contract: what a SyftMonitor spec asks for is what the monitor runs.

Both directions are checked. For many generated specs, each service's rendered `<service>.yaml`
loads through the monitor's own loader (`load_config`), every key it holds is read back as written
(nothing ignored, nothing left to normalise), and each spec field arrives where `DESTINATIONS`
says, in the config or in a child object. And `DESTINATIONS` names every field of the CRD's spec:
a field added to `syft_operator.crd` without a destination fails here.
"""

from __future__ import annotations

import json
import re
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel

from syft_monitors.config import MonitorConfig, load_config
from syft_operator import names
from syft_operator.crd import SyftMonitorSpec
from syft_operator.errors import InvalidSpecError
from syft_operator.pool_crd import SyftMonitorPoolSpec
from syft_operator.pool_render import Member, render_shard
from syft_operator.render import (
    _CONFIG_KEY_ORDER,
    _OMITTED_WHEN_NONE,
    DEFAULT_RESOURCES,
    DEFAULT_SCHEDULE,
    Children,
    RenderOptions,
    config_hash,
    render,
    render_config_map,
    render_monitor_config,
)
from tests.unit.operator.spec_strategies import specs

ROOT = Path(__file__).resolve().parents[3]
NAME = "alice"
OPTIONS = RenderOptions(default_image="syft-monitor:test")

# --- where each spec field goes ------------------------------------------------------------------

#: (asked, got) for one spec field, given the spec, one service's loaded config and the children.
Check = Callable[[SyftMonitorSpec, MonitorConfig, Children], tuple[object, object]]


def _pod(children: Children) -> dict[str, Any]:
    workload = children.workload
    if workload["kind"] == "Deployment":
        return dict(workload["spec"]["template"]["spec"])
    return dict(workload["spec"]["jobTemplate"]["spec"]["template"]["spec"])


def _volume(children: Children, name: str) -> dict[str, Any] | None:
    return next((v for v in _pod(children)["volumes"] if v["name"] == name), None)


def _mount(children: Children, name: str) -> str | None:
    mounts = _pod(children)["containers"][0]["volumeMounts"]
    return next((m["mountPath"] for m in mounts if m["name"] == name), None)


def _secret(purpose: str, part: str) -> Check:
    """A Secret key reaches the pod as a volume, and the config reads the file it mounts."""

    def check(spec: SyftMonitorSpec, config: MonitorConfig, children: Children) -> Any:
        ref = spec.secret_refs().get(purpose)
        volume = _volume(children, f"{purpose}-secret")
        if part == "name":
            return (
                None if ref is None else ref.name,
                None if volume is None else volume["secret"]["secretName"],
            )
        mounted = {
            "drive": config.drive_token_path,
            "gmail": config.gmail_token_path,
            "smtp": config.smtp.password_file if config.smtp else None,
        }[purpose]
        if ref is None or volume is None:
            # Not used (the gmail token with the SMTP sender): not mounted, nothing reads it.
            return (None, volume)
        (item,) = volume["secret"]["items"]
        return (
            (ref.key, f"{_mount(children, f'{purpose}-secret')}/{item['path']}"),
            (item["key"], str(mounted)),
        )

    return check


def _toggle(crd: str, monitor: str) -> Check:
    return lambda spec, config, _: (
        getattr(spec.notifications, crd),
        getattr(config, monitor),
    )


def _flood(field: str) -> Check:
    return lambda spec, config, _: (getattr(spec.flood, field), getattr(config.flood, field))


def _smtp(crd: str, monitor: str) -> Check:
    return lambda spec, config, _: (
        getattr(spec.sender.smtp, crd, None),
        getattr(config.smtp, monitor, None),
    )


def _tls(spec: SyftMonitorSpec, config: MonitorConfig, _: Children) -> Any:
    asked = spec.sender.smtp.tls if spec.sender.smtp else None
    if config.smtp is None:
        return asked, None
    got = {(True, False): "starttls", (False, True): "ssl", (False, False): "none"}
    return asked, got.get((config.smtp.starttls, config.smtp.ssl), "both")


def _sha(value: str) -> str:
    return value.lower().removeprefix("sha256:")


def _rules(asked: Callable[[Any], object], got: Callable[[Any], object]) -> Check:
    """One field of every auto-approval rule, in order."""
    return lambda spec, config, _: (
        [asked(rule) for rule in spec.approve.auto_approvals],
        [got(rule) for rule in config.approve.auto_approvals],
    )


def _rule_field(field: str) -> Check:
    return _rules(lambda r: getattr(r, field), lambda r: getattr(r, field))


def _job(field: str) -> Check:
    return _rules(
        lambda r: None if r.job is None else getattr(r.job, field),
        lambda r: None if r.job is None else getattr(r.job, field),
    )


def _resource(kind: str, name: str) -> Check:
    field = name.replace("-", "_")

    def check(spec: SyftMonitorSpec, _: MonitorConfig, children: Children) -> Any:
        if spec.resources is None:
            asked = DEFAULT_RESOURCES.get(kind, {}).get(name)
        else:
            quantities = getattr(spec.resources, kind)
            asked = None if quantities is None else getattr(quantities, field)
        got = _pod(children)["containers"][0]["resources"].get(kind, {}).get(name)
        return asked, got

    return check


def _schedule(spec: SyftMonitorSpec, _: MonitorConfig, children: Children) -> Any:
    got = children.workload["spec"].get("schedule")
    if spec.mode == "Deployment":
        return None, got  # polls every interval instead
    if spec.schedule == DEFAULT_SCHEDULE and re.fullmatch(r"[0-4]-59/5 \* \* \* \*", got):
        return spec.schedule, DEFAULT_SCHEDULE  # the default, spread by a minute offset
    return spec.schedule, got


def _suspend(spec: SyftMonitorSpec, _: MonitorConfig, children: Children) -> Any:
    workload = children.workload["spec"]
    if spec.mode == "Deployment":
        return spec.suspend, workload["replicas"] == 0
    return spec.suspend, workload["suspend"]


def _syftbox(spec: SyftMonitorSpec, config: MonitorConfig, children: Children) -> Any:
    volume = _volume(children, "syftbox")
    claim = None if volume is None else volume["persistentVolumeClaim"]["claimName"]
    mounted = _mount(children, "syftbox")
    return (
        (spec.syftbox_volume, mounted if spec.syftbox_volume else None),
        (claim, None if config.syftbox_root is None else str(config.syftbox_root)),
    )


def _api_root(spec: SyftMonitorSpec, config: MonitorConfig, _: Children) -> Any:
    root = spec.google_api_root
    # The monitor's spelling: one final slash.
    return (None if root is None else root.rstrip("/") + "/"), config.google_api_root


def _low_share(spec: SyftMonitorSpec, config: MonitorConfig, _: Children) -> Any:
    # A percent of the daily budget, as sends: what the monitor actually allows.
    flood = spec.flood
    return flood.daily_budget * flood.low_priority_percent // 100, config.flood.low_budget


def _pool(spec: SyftMonitorSpec, _: MonitorConfig, children: Children) -> Any:
    """A pooled monitor's destination is its pool's shard assignment, which names its config."""
    if spec.mode != "Pooled":
        return None, spec.pool
    shard = render_shard(
        str(spec.pool), "syft", SyftMonitorPoolSpec(), 0, [Member(NAME, spec)], OPTIONS
    )
    document = json.loads(shard.config_map["data"][names.POOL_ASSIGNMENT_KEY])
    (entry,) = document["monitors"]
    return (
        (spec.pool, children.config_map["metadata"]["name"], "notify.yaml"),
        (document["pool"], entry["configMap"], entry["configKey"]),
    )


def _mode(spec: SyftMonitorSpec, _: MonitorConfig, children: Children) -> Any:
    """Deployment or CronJob: the monitor's own workload; Pooled: its pool's shard Deployment,
    running the pool process (the monitor has no workload of its own, `pool_member.py`)."""
    if spec.mode != "Pooled":
        return spec.mode, children.workload["kind"]
    shard = render_shard(
        str(spec.pool), "syft", SyftMonitorPoolSpec(), 0, [Member(NAME, spec)], OPTIONS
    )
    (container,) = shard.deployment["spec"]["template"]["spec"]["containers"]
    return ("Deployment", "pool"), (shard.deployment["kind"], container["args"][0])


DESTINATIONS: dict[str, Check] = {
    "doEmail": lambda spec, config, _: (spec.do_email, config.do_email),
    "services": lambda spec, _, children: (
        [*spec.services],
        [c["name"] for c in _pod(children)["containers"]],
    ),
    "mode": _mode,
    "schedule": _schedule,
    "intervals.notify": lambda spec, config, _: (spec.intervals.notify, config.interval),
    "intervals.approve": lambda spec, config, _: (spec.intervals.approve, config.approve.interval),
    "notifications.newJob": _toggle("new_job", "notify_on_new_job"),
    "notifications.jobApproved": _toggle("job_approved", "notify_on_approved"),
    "notifications.jobExecuted": _toggle("job_executed", "notify_on_executed"),
    "notifications.jobFailed": _toggle("job_failed", "notify_on_failed"),
    "notifications.failedToSubmitter": _toggle("failed_to_submitter", "notify_ds_on_failed"),
    "notifications.shareStderrWithSubmitter": _toggle(
        "share_stderr_with_submitter", "share_stderr_with_ds"
    ),
    "notifications.jobRejected": _toggle("job_rejected", "notify_on_rejected"),
    "notifications.newPeer": _toggle("new_peer", "notify_on_new_peer"),
    "notifications.peerGranted": _toggle("peer_granted", "notify_on_peer_granted"),
    "notifications.peerAcceptedByRule": _toggle(
        "peer_accepted_by_rule", "notify_on_peer_accepted_by_rule"
    ),
    "emailFormat": lambda spec, config, _: (spec.email_format, config.email_format),
    "flood.enabled": _flood("enabled"),
    "flood.dailyBudget": _flood("daily_budget"),
    "flood.lowPriorityPercent": _low_share,
    "flood.perSenderPerHour": _flood("per_sender_per_hour"),
    "flood.burstThreshold": _flood("burst_threshold"),
    "flood.quotaPauseSeconds": _flood("quota_pause_seconds"),
    "sender.type": lambda spec, config, _: (spec.sender.type, config.sender),
    "sender.smtp.host": _smtp("host", "host"),
    "sender.smtp.port": _smtp("port", "port"),
    "sender.smtp.tls": _tls,
    "sender.smtp.username": _smtp("username", "username"),
    "sender.smtp.credentialsSecretRef.name": _secret("smtp", "name"),
    "sender.smtp.credentialsSecretRef.key": _secret("smtp", "key"),
    "sender.smtp.fromAddress": _smtp("from_address", "from_address"),
    "driveTokenSecretRef.name": _secret("drive", "name"),
    "driveTokenSecretRef.key": _secret("drive", "key"),
    "gmailTokenSecretRef.name": _secret("gmail", "name"),
    "gmailTokenSecretRef.key": _secret("gmail", "key"),
    "approve.approvedDomains": lambda spec, config, _: (
        tuple(d.lower() for d in spec.approve.approved_domains),
        config.approve.approved_domains,
    ),
    "approve.emailReplies": lambda spec, config, _: (
        spec.approve.email_replies,
        config.approve.email_replies,
    ),
    "approve.approvedPeers": lambda spec, config, _: (
        spec.approve.approved_peers,
        config.approve.approved_peers,
    ),
    "approve.autoApprovals[].name": _rule_field("name"),
    "approve.autoApprovals[].peers": _rule_field("peers"),
    "approve.autoApprovals[].fileContents[].relativePath": _rules(
        lambda r: [f.relative_path for f in r.file_contents],
        lambda r: [f.relative_path for f in r.file_contents],
    ),
    "approve.autoApprovals[].fileContents[].sha256": _rules(
        lambda r: [_sha(f.sha256) for f in r.file_contents],
        lambda r: [f.sha256 for f in r.file_contents],
    ),
    "approve.autoApprovals[].runShSha256": _rules(
        lambda r: tuple(dict.fromkeys(_sha(h) for h in r.run_sh_sha256)),
        lambda r: r.run_sh_sha256,
    ),
    "approve.autoApprovals[].canonicalRunSh": _rule_field("canonical_run_sh"),
    "approve.autoApprovals[].job.type": _job("type"),
    "approve.autoApprovals[].job.entrypoint": _job("entrypoint"),
    "approve.autoApprovals[].job.dependencies": _job("dependencies"),
    "approve.autoApprovals[].allowUnreviewedRunSh": _rule_field("allow_unreviewed_run_sh"),
    "approve.autoApprovals[].filePaths": _rule_field("file_paths"),
    "suspend": _suspend,
    "image": lambda spec, _, children: (
        {spec.image or OPTIONS.default_image},
        {c["image"] for c in _pod(children)["containers"]},
    ),
    "resources.requests.cpu": _resource("requests", "cpu"),
    "resources.requests.memory": _resource("requests", "memory"),
    "resources.requests.ephemeral-storage": _resource("requests", "ephemeral-storage"),
    "resources.limits.cpu": _resource("limits", "cpu"),
    "resources.limits.memory": _resource("limits", "memory"),
    "resources.limits.ephemeral-storage": _resource("limits", "ephemeral-storage"),
    "googleApiRoot": _api_root,
    "syftboxVolume": _syftbox,
    "pool": _pool,
}


def spec_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every leaf field of a spec model as its wire path (`a.b`, `list[].field`)."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        inner, suffix = field.annotation, ""
        while typing.get_origin(inner) is not None:
            args = [a for a in typing.get_args(inner) if a is not type(None) and a is not Ellipsis]
            if typing.get_origin(inner) is tuple:
                suffix = "[]"
            if len(args) != 1:
                break
            inner = args[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found |= spec_fields(inner, f"{path}{suffix}.")
        else:
            found.add(path)
    return found


def test_every_crd_field_has_a_destination() -> None:
    fields = spec_fields(SyftMonitorSpec)
    assert "approve.autoApprovals[].job.entrypoint" in fields  # the walk reaches nested lists
    assert sorted(fields - DESTINATIONS.keys()) == [], "CRD fields without a destination"
    assert sorted(DESTINATIONS.keys() - fields) == [], "destinations of fields the CRD lacks"


# --- the rendered configs, loaded as the monitor loads them --------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire=specs())
def test_the_monitor_loads_what_each_spec_asked_for(wire: dict[str, Any]) -> None:
    spec = SyftMonitorSpec.model_validate(wire)
    children = render(NAME, "syft", spec, OPTIONS)
    assert sorted(children.config_map["data"]) == sorted(f"{s}.yaml" for s in spec.services)
    with tempfile.TemporaryDirectory() as folder:
        for service in spec.services:
            text = children.config_map["data"][f"{service}.yaml"]
            path = Path(folder, f"{service}.yaml")
            path.write_text(text)
            config = load_config(path)
            # Every key is the monitor's and reads back as written: nothing ignored, nothing
            # rewritten on load (the ConfigMap bytes are the monitor's own spelling).
            assert config.model_dump(mode="json", exclude_unset=True) == yaml.safe_load(text)
            # The CRD refuses rules the approve service would keep inactive.
            assert not any(rule.inert for rule in config.approve.auto_approvals)
            for field, check in DESTINATIONS.items():
                asked, got = check(spec, config, children)
                assert got == asked, f"{service}.yaml: spec.{field}"


# --- the bytes of the config ConfigMap -----------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "name", "digest"),
    [
        ("syftmonitor.yaml", "alice", "09fc3d69d16525a1"),
        ("syftmonitor-full.yaml", "bob", "6eca0fa0cbb669b7"),
    ],
)
def test_the_config_bytes_of_the_examples_do_not_change(
    example: str, name: str, digest: str
) -> None:
    """A changed config ConfigMap restarts every monitor of a fleet (the config hash is in the
    pod template): change these digests only on purpose, and say so in the release notes."""
    document = yaml.safe_load((ROOT / "deploy" / "examples" / example).read_text())
    spec = SyftMonitorSpec.model_validate(document["spec"])
    assert config_hash(render_config_map(name, spec)) == digest


def test_key_order_and_omitted_sections_name_monitor_fields() -> None:
    fields = set(MonitorConfig.model_fields)
    assert set(_CONFIG_KEY_ORDER) <= fields
    assert set(_OMITTED_WHEN_NONE) <= fields
    assert len(set(_CONFIG_KEY_ORDER)) == len(_CONFIG_KEY_ORDER)
    rendered = render_monitor_config(NAME, SyftMonitorSpec.model_validate(_minimal()), "notify")
    # Written in the order of the ConfigMaps before the typed model, the unset sections left out.
    assert list(rendered) == [k for k in _CONFIG_KEY_ORDER if k not in _OMITTED_WHEN_NONE]


def test_a_spec_the_monitor_would_refuse_is_an_invalid_spec() -> None:
    """The spec models check what the monitor checks; should they ever drift apart, the operator
    reports InvalidSpec (no retries) instead of starting a monitor that exits at once."""
    rule = {
        "name": "count-rows",
        "fileContents": [{"relativePath": "main.py", "sha256": "a" * 64}],
        "canonicalRunSh": True,
        "job": {"type": "python", "entrypoint": "main.py"},
    }
    spec = SyftMonitorSpec.model_validate(
        {**_minimal(), "syftboxVolume": "box", "approve": {"autoApprovals": [rule]}}
    )
    (valid,) = spec.approve.auto_approvals
    # model_copy does not validate: a second rule of the same name slips past the spec model.
    drifted = spec.model_copy(
        update={"approve": spec.approve.model_copy(update={"auto_approvals": (valid, valid)})}
    )
    with pytest.raises(
        InvalidSpecError,
        match=r"monitor would refuse its config \(ApproveSettings\): .*share a name",
    ):
        render_monitor_config(NAME, drifted, "approve")


def _minimal() -> dict[str, Any]:
    return {
        "doEmail": "alice@hospital.example.org",
        "driveTokenSecretRef": {"name": "tokens", "key": "drive.json"},
        "gmailTokenSecretRef": {"name": "tokens", "key": "gmail.json"},
    }


def test_the_syftbox_folder_is_where_the_pod_mounts_it() -> None:
    config = render_monitor_config(
        NAME, SyftMonitorSpec.model_validate({**_minimal(), "syftboxVolume": "box"}), "notify"
    )
    assert config["syftbox_root"] == names.SYFTBOX_DIR
    # Without the volume the key is written as null ("no SyftBox folder"), never left out: the
    # monitor would otherwise fall back to a home-folder default that does not exist in the pod.
    config = render_monitor_config(NAME, SyftMonitorSpec.model_validate(_minimal()), "notify")
    assert config["syftbox_root"] is None


def test_a_pooled_spec_reaches_its_pool_and_its_config_loads() -> None:
    spec = SyftMonitorSpec.model_validate({**_minimal(), "mode": "Pooled", "pool": "shared"})
    config_map = render_config_map(NAME, spec)
    assert sorted(config_map["data"]) == ["notify.yaml"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "notify.yaml")
        path.write_text(config_map["data"]["notify.yaml"])
        config = load_config(path)
    children = render(NAME, "syft", spec, OPTIONS)
    asked, got = _pool(spec, config, children)
    assert got == asked
    assert asked == ("shared", "alice-config", "notify.yaml")
