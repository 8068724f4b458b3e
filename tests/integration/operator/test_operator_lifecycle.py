"""The real operator reconciling SyftMonitors on the test API server, driven like a user would."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from operator_testkit import (
    NAMESPACE,
    OperatorCluster,
    eventually,
    monitor,
    token_secret,
)

from syft_monitors.config import parse_config
from syft_operator import names


def owner_uids(obj: dict[str, Any]) -> list[str]:
    return [
        ref["uid"]
        for ref in obj["metadata"].get("ownerReferences", [])
        if ref.get("controller") and ref["kind"] == names.KIND
    ]


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "Deployment":
        return workload["spec"]["template"]  # type: ignore[no-any-return]
    return workload["spec"]["jobTemplate"]["spec"]["template"]  # type: ignore[no-any-return]


def config_hash(workload: dict[str, Any]) -> str:
    return pod_template(workload)["metadata"]["annotations"][names.CONFIG_HASH_ANNOTATION]  # type: ignore[no-any-return]


def ready_monitor(cluster: OperatorCluster, name: str = "alice", **spec: Any) -> dict[str, Any]:
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret(f"{name}-token"))
    created = cluster.create_monitor(monitor(name, **spec))
    if spec.get("mode") == "CronJob":
        cluster.wait_condition(name, "Ready", "True")
    else:
        cluster.ready(name)
    return created


def test_create_makes_every_child_owned_and_hardened(operator_cluster: OperatorCluster) -> None:
    created = ready_monitor(operator_cluster, services=["notify", "approve"])
    uid = created["metadata"]["uid"]
    api = operator_cluster.api
    children = {
        "config": api.get_object("v1", "configmaps", NAMESPACE, "alice-config"),
        "state": api.get_object("v1", "configmaps", NAMESPACE, "alice-state"),
        "sa": api.get_object("v1", "serviceaccounts", NAMESPACE, "alice-monitor"),
        "role": api.get_object("rbac.authorization.k8s.io/v1", "roles", NAMESPACE, "alice-monitor"),
        "binding": api.get_object(
            "rbac.authorization.k8s.io/v1", "rolebindings", NAMESPACE, "alice-monitor"
        ),
        "deployment": operator_cluster.deployment(),
    }
    for kind, child in children.items():
        assert child is not None, kind
        assert owner_uids(child) == [uid], kind
    deployment = children["deployment"]
    assert deployment is not None
    pod = pod_template(deployment)["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in pod["containers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["image"] == "syft-monitor:test"
    assert [c["name"] for c in pod["containers"]] == ["notify", "approve"]
    config = children["config"]
    assert config is not None
    for key in ("notify.yaml", "approve.yaml"):
        parsed = parse_config(yaml.safe_load(config["data"][key]), source=key)
        assert parsed.state_configmap is not None
        assert parsed.state_configmap.name == "alice-state"
    role = children["role"]
    assert role is not None
    assert all(rule.get("resourceNames") for rule in role["rules"])
    status = operator_cluster.get_monitor()["status"]
    assert status["observedGeneration"] == 1
    assert status["workload"] == "Deployment/alice-monitor"
    secrets_resolved = operator_cluster.condition("alice", "SecretsResolved")
    assert secrets_resolved is not None
    assert secrets_resolved["status"] == "True"


def test_spec_update_rolls_the_deployment(operator_cluster: OperatorCluster) -> None:
    ready_monitor(operator_cluster)
    first = operator_cluster.deployment()
    assert first is not None
    operator_cluster.patch_spec("alice", {"emailFormat": "text", "intervals": {"notify": 60}})

    def rolled() -> dict[str, Any] | None:
        deployment = operator_cluster.deployment()
        return deployment if deployment and config_hash(deployment) != config_hash(first) else None

    second = eventually(rolled, what="a new config hash on the pod template")
    config = operator_cluster.stored("v1", "configmaps", "alice-config")
    assert config is not None
    parsed = parse_config(yaml.safe_load(config["data"]["notify.yaml"]))
    assert parsed.email_format == "text"
    assert parsed.interval == 60
    assert second["metadata"]["uid"] == first["metadata"]["uid"]  # updated in place
    eventually(
        lambda: operator_cluster.get_monitor()["status"].get("observedGeneration") == 2,
        what="observedGeneration 2",
    )


def test_unchanged_spec_writes_nothing(operator_cluster: OperatorCluster) -> None:
    ready_monitor(operator_cluster)
    deployment = operator_cluster.deployment()
    assert deployment is not None
    version = deployment["metadata"]["resourceVersion"]
    # The status refresh reconciles every second, from the watch cache: over two and a half
    # sweeps nothing is read or written (test_operator_fleet counts the sweeps themselves).
    operator_cluster.api.clear_requests()
    time.sleep(2.5)
    writes = [
        (r.verb, r.resource, r.subresource)
        for r in operator_cluster.api.requests
        if r.verb != "watch"
    ]
    assert writes == []
    again = operator_cluster.deployment()
    assert again is not None
    assert again["metadata"]["resourceVersion"] == version


def test_mode_switch_replaces_the_workload(operator_cluster: OperatorCluster) -> None:
    ready_monitor(operator_cluster)
    operator_cluster.patch_spec("alice", {"mode": "CronJob", "schedule": "*/15 * * * *"})
    cronjob = eventually(operator_cluster.cronjob, what="the CronJob")
    eventually(lambda: operator_cluster.deployment() is None, what="the Deployment to go")
    assert cronjob["spec"]["schedule"] == "*/15 * * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    containers = pod_template(cronjob)["spec"]["containers"]
    assert containers[0]["args"][-1] == "--once"
    eventually(
        lambda: operator_cluster.get_monitor()["status"].get("workload") == "CronJob/alice-monitor",
        what="status.workload CronJob",
    )
    operator_cluster.patch_spec("alice", {"mode": "Deployment"})
    eventually(operator_cluster.deployment, what="the Deployment back")
    eventually(lambda: operator_cluster.cronjob() is None, what="the CronJob to go")


def test_suspend_scales_to_zero_and_suspends_the_cronjob(
    operator_cluster: OperatorCluster,
) -> None:
    ready_monitor(operator_cluster)
    operator_cluster.patch_spec("alice", {"suspend": True})
    eventually(
        lambda: (operator_cluster.deployment() or {}).get("spec", {}).get("replicas") == 0,
        what="replicas 0",
    )
    operator_cluster.wait_condition("alice", "Ready", "False", "Suspended")
    state = operator_cluster.stored("v1", "configmaps", "alice-state")
    assert state is not None  # state is kept while suspended
    operator_cluster.patch_spec("alice", {"mode": "CronJob"})
    eventually(
        lambda: (operator_cluster.cronjob() or {}).get("spec", {}).get("suspend") is True,
        what="a suspended CronJob",
    )
    operator_cluster.patch_spec("alice", {"suspend": False})
    eventually(
        lambda: (operator_cluster.cronjob() or {}).get("spec", {}).get("suspend") is False,
        what="the CronJob resumed",
    )
    operator_cluster.wait_condition("alice", "Ready", "True")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"doEmail": "not an email"}, "spec.doEmail"),
        ({"mode": "Pod"}, "spec.mode"),
        ({"intervals": {"notify": 1}}, "spec.intervals.notify"),
    ],
)
def test_invalid_spec_is_rejected_by_the_schema(
    schema_cluster: OperatorCluster, spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as caught:
        schema_cluster.create_monitor(monitor("bad", **spec))
    assert caught.value.status == 422
    assert field in str(caught.value.body)


def test_missing_secret_reports_then_recovers(operator_cluster: OperatorCluster) -> None:
    operator_cluster.create_monitor(monitor("alice"))
    condition = operator_cluster.wait_condition(
        "alice", "SecretsResolved", "False", "SecretNotFound"
    )
    assert "alice-token" in condition["message"]
    ready = operator_cluster.wait_condition("alice", "Ready", "False", "SecretNotFound")
    assert ready["observedGeneration"] == 1
    events = eventually(
        lambda: [e for e in operator_cluster.events_for("alice") if e.reason == "SecretNotFound"],
        what="a SecretNotFound Event",
    )
    assert events[0].type == "Warning"
    assert events[0].involved_object.kind == names.KIND
    assert operator_cluster.deployment() is None  # no pod that could only fail to start
    assert operator_cluster.process is not None
    assert operator_cluster.process.poll() is None  # retried, not crashed

    operator_cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    operator_cluster.ready()
    operator_cluster.wait_condition("alice", "SecretsResolved", "True")
    eventually(operator_cluster.deployment, what="the Deployment")


def test_malformed_secret_is_reported_without_its_content(
    operator_cluster: OperatorCluster,
) -> None:
    leaky = {"token": "ya29.LEAK-ME", "refresh_token": "1//LEAK-ME"}  # no client id/secret
    operator_cluster.clients.core.create_namespaced_secret(
        NAMESPACE, token_secret("alice-token", value=leaky)
    )
    operator_cluster.create_monitor(monitor("alice"))
    condition = operator_cluster.wait_condition(
        "alice", "SecretsResolved", "False", "SecretMalformed"
    )
    assert "alice-token" in condition["message"]
    eventually(
        lambda: [e for e in operator_cluster.events_for("alice") if e.reason == "SecretMalformed"],
        what="a SecretMalformed Event",
    )
    everything = yaml.safe_dump(operator_cluster.get_monitor()) + operator_cluster.log()
    everything += "".join(str(e.message) for e in operator_cluster.events_for("alice"))
    assert "LEAK-ME" not in everything


def test_delete_removes_every_child(operator_cluster: OperatorCluster) -> None:
    ready_monitor(operator_cluster)
    operator_cluster.clients.custom.delete_namespaced_custom_object(
        names.GROUP, names.VERSION, NAMESPACE, names.PLURAL, "alice"
    )

    def gone() -> bool:
        api = operator_cluster.api
        leftovers = [
            api.get_object("v1", "configmaps", NAMESPACE, "alice-config"),
            api.get_object("v1", "configmaps", NAMESPACE, "alice-state"),
            api.get_object("v1", "serviceaccounts", NAMESPACE, "alice-monitor"),
            api.get_object("rbac.authorization.k8s.io/v1", "roles", NAMESPACE, "alice-monitor"),
            operator_cluster.deployment(),
            api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice"),
        ]
        return all(item is None for item in leftovers)

    eventually(gone, what="the SyftMonitor and its children to be gone")
    # The Secret is the user's, not a child: it stays.
    assert operator_cluster.stored("v1", "secrets", "alice-token") is not None


def test_status_mirrors_the_state_configmap(operator_cluster: OperatorCluster) -> None:
    ready_monitor(operator_cluster)
    operator_cluster.clients.core.patch_namespaced_config_map(
        "alice-state",
        NAMESPACE,
        {
            "data": {
                "lastPollTime": "2026-03-01T12:00:05+00:00",
                "notificationsSent": "7",
                "lastError": "drive: HTTP 503 after 5 retries",
            }
        },
    )

    def mirrored() -> dict[str, Any] | None:
        status = operator_cluster.get_monitor().get("status") or {}
        return status if status.get("notificationsSent") == 7 else None

    status = eventually(mirrored, what="notificationsSent 7 in the status")
    assert status["lastPollTime"] == "2026-03-01T12:00:05Z"
    assert status["lastError"] == "drive: HTTP 503 after 5 retries"
    operator_cluster.clients.core.patch_namespaced_config_map(
        "alice-state", NAMESPACE, {"data": {"lastError": "", "notificationsSent": "8"}}
    )
    cleared = eventually(
        lambda: (s := operator_cluster.get_monitor()["status"]).get("notificationsSent") == 8 and s,
        what="notificationsSent 8",
    )
    assert "lastError" not in cleared


def test_deleted_child_is_recreated(operator_cluster: OperatorCluster) -> None:
    ready_monitor(operator_cluster)
    first = operator_cluster.deployment()
    assert first is not None
    operator_cluster.clients.apps.delete_namespaced_deployment("alice-monitor", NAMESPACE)
    again = eventually(
        lambda: (
            (d := operator_cluster.deployment())
            and d["metadata"]["uid"] != first["metadata"]["uid"]
            and d
        ),
        what="a new Deployment",
    )
    assert config_hash(again) == config_hash(first)


def test_foreign_object_with_a_child_name_is_a_conflict(
    operator_cluster: OperatorCluster,
) -> None:
    # Owned by something that exists: the garbage collector would remove an orphan.
    other = operator_cluster.api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "someone-else", "namespace": NAMESPACE},
        }
    )
    operator_cluster.api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "alice-monitor",
                "namespace": NAMESPACE,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "someone-else",
                        "uid": other["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
        }
    )
    operator_cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    operator_cluster.create_monitor(monitor("alice"))
    condition = operator_cluster.wait_condition("alice", "Ready", "False", "NameConflict")
    assert "alice-monitor" in condition["message"]
    account = operator_cluster.stored("v1", "serviceaccounts", "alice-monitor")
    assert account is not None
    assert account["metadata"]["ownerReferences"][0]["name"] == "someone-else"


def test_labelled_orphan_state_is_adopted_not_overwritten(
    operator_cluster: OperatorCluster,
) -> None:
    # A migration (or a SyftMonitor deleted with --cascade=orphan): the state map carries the
    # operator's labels for this instance and no owner, so it is the operator's to take back.
    labels = {names.LABEL_MANAGED_BY: names.MANAGER, names.LABEL_INSTANCE: "alice"}
    operator_cluster.clients.core.create_namespaced_config_map(
        NAMESPACE,
        {
            "metadata": {"name": "alice-state", "labels": labels},
            "data": {"state.json": '{"version": 1}'},
        },
    )
    created = ready_monitor(operator_cluster)
    state = operator_cluster.stored("v1", "configmaps", "alice-state")
    assert state is not None
    assert state["data"] == {"state.json": '{"version": 1}'}
    assert owner_uids(state) == [created["metadata"]["uid"]]
