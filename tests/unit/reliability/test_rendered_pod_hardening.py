"""Hardened pods: every workload the operator renders, in both modes, and the operator's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syft_operator.crd import SyftMonitorSpec
from syft_operator.render import RenderOptions, render
from tests.unit.reliability.pod_security import hardening_problems, pod_template_of

ROOT = Path(__file__).resolve().parents[3]
OPTIONS = RenderOptions(default_image="syft-monitor:test")

BASE: dict[str, Any] = {
    "doEmail": "alice@hospital.example.org",
    "driveTokenSecretRef": {"name": "alice-token", "key": "token.json"},
    "gmailTokenSecretRef": {"name": "alice-token", "key": "token.json"},
}
SMTP: dict[str, Any] = {
    "doEmail": "bob@clinic.example.org",
    "services": ["notify", "approve"],
    "sender": {
        "type": "smtp",
        "smtp": {
            "host": "smtp.clinic.example.org",
            "port": 465,
            "tls": "ssl",
            "username": "monitor",
            "credentialsSecretRef": {"name": "bob-smtp", "key": "password"},
        },
    },
    "driveTokenSecretRef": {"name": "bob-token", "key": "token.json"},
    "image": "registry.example.org/custom:1",
    "resources": {"limits": {"memory": "256Mi"}},
}
SPECS = {
    "deployment": BASE,
    "deployment-suspended": {**BASE, "suspend": True},
    "deployment-smtp-two-services": SMTP,
    "cronjob": {**BASE, "mode": "CronJob"},
    "cronjob-smtp-two-services": {**SMTP, "mode": "CronJob", "schedule": "*/5 * * * *"},
}


@pytest.mark.parametrize("body", SPECS.values(), ids=SPECS.keys())
def test_every_rendered_workload_is_hardened(body: dict[str, Any]) -> None:
    spec = SyftMonitorSpec.model_validate(body)
    workload = render("alice", "team", spec, OPTIONS).workload
    assert workload["kind"] == spec.mode
    pod = pod_template_of(workload)["spec"]
    assert hardening_problems(pod, workload["kind"]) == []
    # Secrets reach the pod as read-only files, never as environment variables.
    for container in pod["containers"]:
        for env in container.get("env") or []:
            assert "valueFrom" not in env, env
        assert "envFrom" not in container
    secret_volumes = [v for v in pod["volumes"] if "secret" in v]
    assert len(secret_volumes) == len(spec.secret_refs())
    for volume in secret_volumes:
        assert volume["secret"]["defaultMode"] & 0o007 == 0, "Secret files readable by others"


def test_the_checker_catches_each_weakening() -> None:
    spec = SyftMonitorSpec.model_validate(BASE)
    good = pod_template_of(render("alice", "team", spec, OPTIONS).workload)["spec"]
    weakenings = {
        "root": lambda c, p: c["securityContext"].update(runAsNonRoot=False),
        "escalation": lambda c, p: c["securityContext"].pop("allowPrivilegeEscalation"),
        "privileged": lambda c, p: c["securityContext"].update(privileged=True),
        "writable root": lambda c, p: c["securityContext"].update(readOnlyRootFilesystem=False),
        "caps": lambda c, p: c["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "seccomp": lambda c, p: c["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "hostPath": lambda c, p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "secret rw": lambda c, p: next(
            m for m in c["volumeMounts"] if m["name"].endswith("-secret")
        ).update(readOnly=False),
    }
    for what, weaken in weakenings.items():
        pod = yaml.safe_load(yaml.safe_dump(good))
        weaken(pod["containers"][0], pod)
        assert hardening_problems(pod, what), f"{what} went unnoticed"


def test_the_shipped_operator_deployment_is_hardened() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "operator.yaml").read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert hardening_problems(pod_template_of(deployment)["spec"], "operator") == []
