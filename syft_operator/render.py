"""Pure functions from a SyftMonitor spec to the manifests of its children.

Nothing here talks to the API or reads the clock: the same spec always renders the same objects,
which is what makes reconciling idempotent and these functions testable without a server. Owner
references are added later (`apply.py`, with `kopf.adopt`), since they need the live object's uid.

Per SyftMonitor `<name>`:
- ConfigMap `<name>-config`: one monitor config per service (`notify.yaml`, `approve.yaml`), built
  through the monitor's own `MonitorConfig` (a key renamed on either side fails mypy), reading its
  state from ConfigMap `<name>-state`;
- ConfigMap `<name>-state`: created empty, then owned by the monitor (never overwritten);
- ServiceAccount, Role, RoleBinding `<name>-monitor`: the pod may get/update its own state
  ConfigMap, by name, nothing else (its tokens are mounted files);
- Deployment or CronJob `<name>-monitor`: one container per service, hardened.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule, FileHash, JobSpec
from syft_monitors.config import (
    ConfigMapStateSettings,
    MonitorConfig,
    SmtpSettings,
    describe_validation_error,
)
from syft_monitors.notify.flood import FloodConfig
from syft_operator import names
from syft_operator.crd import AutoApprovalSpec, ResourcesSpec, SmtpSpec, SyftMonitorSpec
from syft_operator.errors import InvalidSpecError
from syft_operator.rbac import monitor_role_rules

Manifest = dict[str, Any]
#: The CRD's default schedule (`spec.schedule`): spread over five minutes by name.
DEFAULT_SCHEDULE: str = SyftMonitorSpec.model_fields["schedule"].default
Service = Literal["notify", "approve"]

#: Container port of each service's `/metrics` and `/healthz`.
METRICS_PORTS: dict[str, int] = {"notify": 9101, "approve": 9102}
#: The token files inside the pod, whatever the Secret's key is called.
TOKEN_FILE = "token.json"  # noqa: S105 - a file name
PASSWORD_FILE = "password"  # noqa: S105 - a file name
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"memory": "512Mi"},
}


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    """Operator-wide choices that are not part of a SyftMonitor's spec."""

    #: Image used when the spec does not name one.
    default_image: str
    image_pull_policy: str = "IfNotPresent"


@dataclasses.dataclass(frozen=True)
class Children:
    """Everything one SyftMonitor owns, in the order they are applied."""

    config_map: Manifest
    state_map: Manifest
    heartbeat_map: Manifest
    service_account: Manifest
    role: Manifest
    role_binding: Manifest
    workload: Manifest

    def owned(self) -> list[Manifest]:
        """Objects the operator keeps equal to the spec (the state ConfigMap is not one)."""
        return [
            self.config_map,
            self.service_account,
            self.role,
            self.role_binding,
            self.workload,
        ]

    @property
    def stale_workload_kind(self) -> str:
        """The workload kind the other mode would have made: removed on a mode switch."""
        return "CronJob" if self.workload["kind"] == "Deployment" else "Deployment"


def render(
    name: str,
    namespace: str,
    spec: SyftMonitorSpec,
    options: RenderOptions,
    *,
    secrets_hash: str | None = None,
) -> Children:
    """All children of SyftMonitor `namespace/name`; `secrets_hash` (of the referenced Secret
    keys, see `secret_refs.resolve_secrets`) goes into the pod template to roll it on rotation."""
    config_map = render_config_map(name, spec)
    children = Children(
        config_map=config_map,
        state_map=render_state_map(name),
        heartbeat_map=render_heartbeat_map(name),
        service_account=render_service_account(name),
        role=render_role(name),
        role_binding=render_role_binding(name, namespace),
        workload=render_workload(
            name, spec, options, config_hash(config_map), secrets_hash=secrets_hash
        ),
    )
    for field in dataclasses.fields(children):
        getattr(children, field.name)["metadata"]["namespace"] = namespace
    return children


# --- configuration -------------------------------------------------------------------------------


def secret_mount_dir(purpose: str) -> str:
    return f"{names.SECRETS_DIR}/{purpose}"


#: Top-level keys in the order the ConfigMaps have always listed them: the YAML is compared as
#: bytes (a changed config ConfigMap restarts the monitor), so the order outlives the model's.
_CONFIG_KEY_ORDER: tuple[str, ...] = (
    "do_email",
    "syftbox_root",
    "drive_token_path",
    "gmail_token_path",
    "state_file",
    "daemon_dir",
    "state_backend",
    "state_configmap",
    "email_format",
    "notify_on_new_job",
    "notify_on_approved",
    "notify_on_executed",
    "notify_on_failed",
    "notify_on_rejected",
    "notify_on_new_peer",
    "notify_on_peer_granted",
    "notify_ds_on_failed",
    "share_stderr_with_ds",
    "notify_on_peer_accepted_by_rule",
    "interval",
    "flood",
    "sender",
    "metrics_port",
    "metrics_host",
    "approve",
    "google_api_root",
    "smtp",
)
#: Sections left out rather than written as null when the spec has none (as they always were).
_OMITTED_WHEN_NONE: tuple[str, ...] = ("google_api_root", "smtp")


def monitor_config(name: str, spec: SyftMonitorSpec, service: Service) -> MonitorConfig:
    """The `syft-bg` config of one service, built through the monitor's own model: a key renamed
    on either side fails type checking, a value the monitor would refuse fails here."""
    cronjob = spec.mode == "CronJob"
    toggles = spec.notifications
    smtp = spec.sender.smtp
    try:
        return MonitorConfig(
            do_email=spec.do_email,
            # Without the SyftBox volume jobs are read from Drive only, and none can be approved.
            syftbox_root=Path(names.SYFTBOX_DIR) if spec.syftbox_volume is not None else None,
            drive_token_path=Path(secret_mount_dir("drive"), TOKEN_FILE),
            gmail_token_path=Path(secret_mount_dir("gmail"), TOKEN_FILE),
            state_file=Path(names.TMP_DIR, "syft-monitor", "state.json"),
            daemon_dir=Path(names.TMP_DIR, "syft-monitor"),
            state_backend="configmap",
            state_configmap=ConfigMapStateSettings(
                name=names.state_map_name(name), heartbeat=names.heartbeat_map_name(name)
            ),
            email_format=spec.email_format,
            notify_on_new_job=toggles.new_job,
            notify_on_approved=toggles.job_approved,
            notify_on_executed=toggles.job_executed,
            notify_on_failed=toggles.job_failed,
            notify_on_rejected=toggles.job_rejected,
            notify_on_new_peer=toggles.new_peer,
            notify_on_peer_granted=toggles.peer_granted,
            notify_ds_on_failed=toggles.failed_to_submitter,
            share_stderr_with_ds=toggles.share_stderr_with_submitter,
            notify_on_peer_accepted_by_rule=toggles.peer_accepted_by_rule,
            interval=spec.intervals.notify,
            flood=FloodConfig(
                enabled=spec.flood.enabled,
                daily_budget=spec.flood.daily_budget,
                low_priority_share=spec.flood.low_priority_percent / 100,
                per_sender_per_hour=spec.flood.per_sender_per_hour,
                burst_threshold=spec.flood.burst_threshold,
                quota_pause_seconds=spec.flood.quota_pause_seconds,
            ),
            sender=spec.sender.type,
            # A CronJob pod lives for one poll: nothing would scrape it.
            metrics_port=None if cronjob else METRICS_PORTS[service],
            metrics_host="0.0.0.0",  # noqa: S104 - inside the pod, for the kubelet and Prometheus
            approve=ApproveSettings(
                interval=spec.intervals.approve,
                approved_domains=spec.approve.approved_domains,
                approved_peers=spec.approve.approved_peers,
                auto_approvals=tuple(_rule(rule) for rule in spec.approve.auto_approvals),
            ).model_copy(
                # Set only when on: a key written for every monitor would change every config
                # ConfigMap, and a changed config restarts the monitor.
                update={"email_replies": True} if spec.approve.email_replies else None
            ),
            google_api_root=spec.google_api_root,
            smtp=None if smtp is None else _smtp(smtp),
        )
    except ValidationError as error:
        # The spec models check what the monitor checks, so this is a gap between the two: the
        # spec is refused for good rather than handed to a monitor that would not start.
        raise InvalidSpecError(
            # Nested models are built first: the title names the one that refused.
            f"the monitor would refuse its config ({error.title}): "
            f"{describe_validation_error(error)}"
        ) from error


def _rule(rule: AutoApprovalSpec) -> AutoApprovalRule:
    job = rule.job
    return AutoApprovalRule(
        name=rule.name,
        peers=rule.peers,
        file_contents=tuple(
            FileHash(relative_path=f.relative_path, sha256=f.sha256) for f in rule.file_contents
        ),
        file_paths=rule.file_paths,
        run_sh_sha256=rule.run_sh_sha256,
        canonical_run_sh=rule.canonical_run_sh,
        job=(
            None
            if job is None
            else JobSpec(type=job.type, entrypoint=job.entrypoint, dependencies=job.dependencies)
        ),
        allow_unreviewed_run_sh=rule.allow_unreviewed_run_sh,
    )


def _smtp(smtp: SmtpSpec) -> SmtpSettings:
    return SmtpSettings(
        host=smtp.host,
        port=smtp.port,
        starttls=smtp.tls == "starttls",
        ssl=smtp.tls == "ssl",
        username=smtp.username,
        password_file=(
            Path(secret_mount_dir("smtp"), PASSWORD_FILE)
            if smtp.credentials_secret_ref is not None
            else None
        ),
        from_address=smtp.from_address,
    )


def render_monitor_config(name: str, spec: SyftMonitorSpec, service: Service) -> dict[str, Any]:
    """The `syft-bg` config of one service as the mapping its YAML file holds.

    Exactly the keys the operator sets (`exclude_unset`: the monitor's own defaults stay the
    monitor's), as the monitor's model serialises them (paths as strings, tuples as lists).
    """
    config = monitor_config(name, spec, service)
    data = config.model_dump(
        mode="json",
        exclude_unset=True,
        exclude={key for key in _OMITTED_WHEN_NONE if getattr(config, key) is None},
    )
    ordered = {key: data.pop(key) for key in _CONFIG_KEY_ORDER if key in data}
    return {**ordered, **data}


def render_config_map(name: str, spec: SyftMonitorSpec) -> Manifest:
    data = {
        f"{service}.yaml": _yaml(render_monitor_config(name, spec, service))
        for service in spec.services
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(names.config_map_name(name), name, "config"),
        "data": data,
    }


def config_hash(config_map: Manifest) -> str:
    """Changes whenever the rendered config does: the pod template carries it to roll pods."""
    return _digest(config_map["data"])[:16]


def render_state_map(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(names.state_map_name(name), name, "state"),
        # The monitor writes `state.json` and its heartbeat keys; the operator only creates it.
        "data": {},
    }


def spread_schedule(schedule: str, name: str) -> str:
    """The default `*/5` schedule moved by a minute offset derived from the name, so that a
    thousand CronJobs left at the default do not all start in the same minute."""
    if schedule != DEFAULT_SCHEDULE:
        return schedule
    offset = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 5
    return f"{offset}-59/5 * * * *"


def render_heartbeat_map(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(names.heartbeat_map_name(name), name, "heartbeat"),
        # The monitor merge-patches its liveness here (each service its own key) when a poll
        # brings news and otherwise once per HEARTBEAT_PERIOD; the operator only creates it.
        "data": {},
    }


# --- identity and permissions --------------------------------------------------------------------


def render_service_account(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(names.workload_name(name), name, "monitor"),
        # Only pods that ask for the token get it (the monitor pod does, for its state).
        "automountServiceAccountToken": False,
    }


def render_role(name: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(names.workload_name(name), name, "monitor"),
        "rules": monitor_role_rules(names.state_map_name(name), names.heartbeat_map_name(name)),
    }


def render_role_binding(name: str, namespace: str) -> Manifest:
    account = names.workload_name(name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(account, name, "monitor"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


# --- workload ------------------------------------------------------------------------------------


def render_workload(
    name: str,
    spec: SyftMonitorSpec,
    options: RenderOptions,
    hash_: str,
    *,
    secrets_hash: str | None = None,
) -> Manifest:
    template = render_pod_template(name, spec, options, hash_, secrets_hash=secrets_hash)
    metadata = _metadata(names.workload_name(name), name, "monitor")
    if spec.mode == "Deployment":
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": 0 if spec.suspend else 1,
                # Two monitors of one data owner would race on the state and double-send.
                "strategy": {"type": "Recreate"},
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": names.selector_labels(name)},
                "template": template,
            },
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": spread_schedule(spec.schedule, name),
            "suspend": spec.suspend,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": names.common_labels(name, "monitor")},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 900,
                    "ttlSecondsAfterFinished": 3600,
                    "template": template,
                },
            },
        },
    }


def render_pod_template(
    name: str,
    spec: SyftMonitorSpec,
    options: RenderOptions,
    hash_: str,
    *,
    secrets_hash: str | None = None,
) -> Manifest:
    cronjob = spec.mode == "CronJob"
    annotations = {names.CONFIG_HASH_ANNOTATION: hash_}
    if secrets_hash is not None:
        annotations[names.SECRETS_HASH_ANNOTATION] = secrets_hash
    if not cronjob:
        annotations.update(
            {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(METRICS_PORTS[spec.services[0]]),
                "prometheus.io/path": "/metrics",
            }
        )
    refs = spec.secret_refs()
    volumes: list[Manifest] = [
        {"name": "config", "configMap": {"name": names.config_map_name(name)}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    mounts: list[Manifest] = [
        {"name": "config", "mountPath": names.CONFIG_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": names.TMP_DIR},
    ]
    for purpose, ref in refs.items():
        file = PASSWORD_FILE if purpose == "smtp" else TOKEN_FILE
        volumes.append(
            {
                "name": f"{purpose}-secret",
                "secret": {
                    "secretName": ref.name,
                    "items": [{"key": ref.key, "path": file}],
                    # Readable by the pod's group (fsGroup) only.
                    "defaultMode": 0o440,
                },
            }
        )
        mounts.append(
            {"name": f"{purpose}-secret", "mountPath": secret_mount_dir(purpose), "readOnly": True}
        )
    if spec.syftbox_volume is not None:
        volumes.append(
            {"name": "syftbox", "persistentVolumeClaim": {"claimName": spec.syftbox_volume}}
        )
    containers = [
        _container(service, spec, options, _with_syftbox(mounts, spec, service), cronjob=cronjob)
        for service in spec.services
    ]
    return {
        "metadata": {"labels": names.common_labels(name, "monitor"), "annotations": annotations},
        "spec": {
            "serviceAccountName": names.workload_name(name),
            # The monitor reads and writes its state ConfigMap through the API.
            "automountServiceAccountToken": True,
            "enableServiceLinks": False,
            "restartPolicy": "OnFailure" if cronjob else "Always",
            "terminationGracePeriodSeconds": 30,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": names.RUN_AS_USER,
                "runAsGroup": names.RUN_AS_USER,
                "fsGroup": names.RUN_AS_USER,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": containers,
            "volumes": volumes,
        },
    }


def _container(
    service: Service,
    spec: SyftMonitorSpec,
    options: RenderOptions,
    mounts: list[Manifest],
    *,
    cronjob: bool,
) -> Manifest:
    args = ["--config", f"{names.CONFIG_DIR}/{service}.yaml", "run", service]
    if cronjob:
        args.append("--once")
    container: Manifest = {
        "name": service,
        "image": spec.image or options.default_image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["syft-bg"],
        "args": args,
        "env": [
            {"name": "SYFT_LOG_FORMAT", "value": "json"},
            {"name": "HOME", "value": names.TMP_DIR},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "resources": container_resources(spec.resources, DEFAULT_RESOURCES),
        "securityContext": hardened_container_security(),
        "volumeMounts": mounts,
    }
    if not cronjob:
        port_name = f"{service}-metrics"
        container["ports"] = [
            {"name": port_name, "containerPort": METRICS_PORTS[service], "protocol": "TCP"}
        ]
        container["livenessProbe"] = {
            "httpGet": {"path": "/healthz", "port": port_name},
            "initialDelaySeconds": 10,
            "periodSeconds": 30,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
    return container


def _with_syftbox(
    mounts: list[Manifest], spec: SyftMonitorSpec, service: Service
) -> list[Manifest]:
    """The SyftBox folder: approve writes job approvals there, notify only reads."""
    if spec.syftbox_volume is None:
        return mounts
    syftbox = {"name": "syftbox", "mountPath": names.SYFTBOX_DIR, "readOnly": service != "approve"}
    return [*mounts, syftbox]


def hardened_container_security() -> dict[str, Any]:
    """The container securityContext of every pod we render (monitors and the operator)."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_resources(
    resources: ResourcesSpec | None, defaults: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, Any]]:
    """A container's `resources` from the spec's, or the defaults when it names none."""
    if resources is None:
        return {kind: dict(values) for kind, values in defaults.items()}
    out: dict[str, dict[str, Any]] = {}
    for kind, quantities in (("requests", resources.requests), ("limits", resources.limits)):
        if quantities is not None:
            values = quantities.model_dump(by_alias=True, exclude_none=True)
            if values:
                out[kind] = values
    return out


# --- helpers -------------------------------------------------------------------------------------


def _metadata(object_name: str, monitor: str, component: str) -> Manifest:
    return {"name": object_name, "labels": names.common_labels(monitor, component)}


def _digest(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def manifest_hash(manifest: Manifest) -> str:
    """Hash of what the operator writes, without the hash annotation itself."""
    body = json.loads(json.dumps(manifest))
    annotations = body.get("metadata", {}).get("annotations", {})
    annotations.pop(names.APPLIED_HASH_ANNOTATION, None)
    return _digest(body)[:16]


def _yaml(value: object) -> str:
    return yaml.safe_dump(value, sort_keys=False, width=100)
