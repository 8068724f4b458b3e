"""The tenant boundary's matching rules, quantities, and the drift comparison, without a server."""

from __future__ import annotations

import copy
import decimal
from typing import Any

import pytest

from syft_operator.apply import drift
from syft_operator.config import OperatorConfig
from syft_operator.crd import SyftMonitorSpec
from syft_operator.errors import PolicyError
from syft_operator.policy import check_spec, image_allowed, repository_of
from syft_operator.quantity import parse_quantity, same_quantity
from syft_operator.render import RenderOptions, render

DIGEST = "sha256:" + "ab" * 32


def spec(**overrides: Any) -> SyftMonitorSpec:
    data: dict[str, Any] = {
        "doEmail": "alice@hospital.example.org",
        "driveTokenSecretRef": {"name": "t", "key": "token.json"},
        "gmailTokenSecretRef": {"name": "t", "key": "token.json"},
    }
    data.update(overrides)
    return SyftMonitorSpec.model_validate(data)


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("syft-monitor", "syft-monitor"),
        ("registry:5000/team/app:1", "registry:5000/team/app"),
        (f"registry.example.org/app@{DIGEST}", "registry.example.org/app"),
        (f"registry.example.org/app:2@{DIGEST}", "registry.example.org/app"),
    ],
)
def test_repository_of(image: str, repository: str) -> None:
    assert repository_of(image) == repository


@pytest.mark.parametrize(
    ("image", "allowed", "verdict"),
    [
        ("registry.example.org/team/app:1", ("registry.example.org/team/",), True),
        ("registry.example.org/team-evil/app:1", ("registry.example.org/team",), False),
        ("registry.example.org/team-evil/app:1", ("registry.example.org/team/",), False),
        ("registry.example.org/team:1", ("registry.example.org/team/",), False),
        ("registry.example.org/syft-monitor:9", ("registry.example.org/syft-monitor",), True),
        ("registry.example.org/syft-monitor-x:9", ("registry.example.org/syft-monitor",), False),
        (f"anywhere.example/x@{DIGEST}", (DIGEST,), True),
        ("anywhere.example/x:latest", (DIGEST,), False),
        ("registry.example.org/team/app:1", (), False),
    ],
)
def test_image_allow_list(image: str, allowed: tuple[str, ...], verdict: bool) -> None:
    assert image_allowed(image, allowed) is verdict


def test_default_config_allows_only_the_defaults() -> None:
    config = OperatorConfig()
    check_spec(spec(), config)
    # An SMTP relay without a password receives nothing secret.
    check_spec(spec(sender={"type": "smtp", "smtp": {"host": "smtp.example.org"}}), config)
    refused = {
        "ImageNotAllowed": spec(image="syft-monitor:other"),
        "ApiRootNotAllowed": spec(googleApiRoot="https://www.googleapis.com/"),
        "SmtpHostNotAllowed": spec(
            sender={
                "type": "smtp",
                "smtp": {
                    "host": "smtp.attacker.example",
                    "credentialsSecretRef": {"name": "db-password", "key": "password"},
                },
            }
        ),
    }
    for reason, refused_spec in refused.items():
        with pytest.raises(PolicyError) as caught:
            check_spec(refused_spec, config)
        assert caught.value.reason == reason


def test_allow_lists_from_the_environment() -> None:
    config = OperatorConfig.from_env(
        {
            "SYFT_OPERATOR_ALLOWED_IMAGES": " registry.example.org/syft/ ,, " + DIGEST,
            "SYFT_OPERATOR_ALLOWED_API_ROOTS": "https://proxy.example.org/google",
            "SYFT_OPERATOR_ALLOWED_SMTP_HOSTS": "SMTP.Example.org",
        }
    )
    assert config.allowed_images == ("registry.example.org/syft/", DIGEST)
    check_spec(spec(image="registry.example.org/syft/monitor:1"), config)
    check_spec(spec(googleApiRoot="https://proxy.example.org/google/"), config)
    with pytest.raises(PolicyError):
        check_spec(spec(googleApiRoot="https://proxy.example.org/google/evil/"), config)
    smtp = {"host": "smtp.EXAMPLE.org", "credentialsSecretRef": {"name": "p", "key": "k"}}
    check_spec(spec(sender={"type": "smtp", "smtp": smtp}), config)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", decimal.Decimal("0.5")),
        ("1.5Gi", decimal.Decimal(1536 * 1024 * 1024)),
        ("2e3", decimal.Decimal(2000)),
        ("128Mi", decimal.Decimal(128 * 1024 * 1024)),
        (".5", decimal.Decimal("0.5")),
        (3, decimal.Decimal(3)),
    ],
)
def test_quantities(text: int | str, value: decimal.Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["..", "5Miii", "1..2", "-1", "1 Mi", "", "Mi", True])
def test_malformed_quantities(text: Any) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)


def test_same_quantity_across_spellings() -> None:
    assert same_quantity("0.5", "500m")
    assert same_quantity(1, "1000m")
    assert not same_quantity("1Gi", "1G")


def deployment() -> dict[str, Any]:
    children = render("alice", "ns", spec(), RenderOptions(default_image="syft-monitor:test"))
    return children.workload


def server_defaulted(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a real API server returns for it: defaults added, quantities canonical."""
    live = copy.deepcopy(manifest)
    live["spec"]["progressDeadlineSeconds"] = 600
    pod = live["spec"]["template"]["spec"]
    pod.update({"dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"})
    pod["serviceAccount"] = pod["serviceAccountName"]
    live["spec"]["template"]["metadata"]["creationTimestamp"] = None
    for container in pod["containers"]:
        container["terminationMessagePath"] = "/dev/termination-log"
        container["terminationMessagePolicy"] = "File"
        container["livenessProbe"]["successThreshold"] = 1
        container["livenessProbe"]["httpGet"]["scheme"] = "HTTP"
        container["resources"]["requests"]["cpu"] = "50m"
    for volume in pod["volumes"]:
        if "configMap" in volume:
            volume["configMap"]["defaultMode"] = 420
    live["status"] = {"replicas": 1}
    return live


def test_server_defaults_are_not_drift() -> None:
    desired = deployment()
    assert drift(desired, server_defaulted(desired)) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["spec"].update(replicas=3), "spec.replicas"),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="x:1"), "image"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["securityContext"][
                "capabilities"
            ].update(add=["SYS_ADMIN"]),
            "capabilities.add",
        ),
        (lambda d: d["spec"]["template"]["spec"].update(hostNetwork=True), "hostNetwork"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(
                runAsUser=0
            ),
            "runAsUser",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["volumes"].append(
                {"name": "host", "hostPath": {"path": "/"}}
            ),
            "spec.template.spec.volumes",
        ),
        (lambda d: d["metadata"].update(ownerReferences=[]), "metadata.ownerReferences"),
    ],
    ids=["replicas", "image", "capability", "host-network", "root", "host-path", "owner"],
)
def test_changes_by_others_are_drift(change: Any, path: str) -> None:
    desired = deployment()
    desired["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "SyftMonitor", "name": "alice", "uid": "u", "controller": True}
    ]
    live = server_defaulted(desired)
    change(live)
    found = drift(desired, live)
    assert any(path in item for item in found), found


def test_a_rollout_restart_stamp_is_not_drift() -> None:
    desired = deployment()
    live = server_defaulted(desired)
    stamp = {"kubectl.kubernetes.io/restartedAt": "2026-12-07T05:00:00Z"}
    live["spec"]["template"]["metadata"]["annotations"].update(stamp)
    assert drift(desired, live) == []
