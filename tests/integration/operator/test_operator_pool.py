"""SyftMonitorPools with the real operator on the test API server: pooled SyftMonitors are served
by the pool's shards instead of pods of their own, scaling moves only the monitors that must
move, each shard's Role names exactly its monitors' objects, and status stays per SyftMonitor."""

from __future__ import annotations

import json
from typing import Any

from operator_testkit import (
    NAMESPACE,
    OperatorCluster,
    available_status,
    eventually,
    monitor,
    token_secret,
)

from syft_operator import names
from syft_operator.rendezvous import shard_of

RBAC_V1 = "rbac.authorization.k8s.io/v1"


def pool(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.POOL_KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def pooled(name: str, pool_name: str = "p", **spec: Any) -> dict[str, Any]:
    return monitor(name, mode="Pooled", pool=pool_name, **spec)


def create_pool(cluster: OperatorCluster, body: dict[str, Any]) -> dict[str, Any]:
    return cluster.clients.custom.create_namespaced_custom_object(  # type: ignore[no-any-return]
        names.GROUP, names.VERSION, NAMESPACE, names.POOL_PLURAL, body
    )


def patch_pool(cluster: OperatorCluster, name: str, spec: dict[str, Any]) -> None:
    cluster.clients.custom.patch_namespaced_custom_object(
        names.GROUP, names.VERSION, NAMESPACE, names.POOL_PLURAL, name, {"spec": spec}
    )


def get_pool(cluster: OperatorCluster, name: str = "p") -> dict[str, Any]:
    return cluster.clients.custom.get_namespaced_custom_object(  # type: ignore[no-any-return]
        names.GROUP, names.VERSION, NAMESPACE, names.POOL_PLURAL, name
    )


def add_monitors(cluster: OperatorCluster, *monitors: str, pool_name: str = "p") -> None:
    for name in monitors:
        cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret(f"{name}-token"))
        cluster.create_monitor(pooled(name, pool_name))


def assignment(cluster: OperatorCluster, shard: int, pool_name: str = "p") -> dict[str, Any] | None:
    found = cluster.stored("v1", "configmaps", names.shard_name(pool_name, shard))
    if found is None:
        return None
    return json.loads(found["data"][names.POOL_ASSIGNMENT_KEY])  # type: ignore[no-any-return]


def assigned(cluster: OperatorCluster, shards: int, pool_name: str = "p") -> dict[str, int]:
    """Monitor name -> the shard whose assignment lists it."""
    out: dict[str, int] = {}
    for shard in range(shards):
        for entry in (assignment(cluster, shard, pool_name) or {}).get("monitors", []):
            assert entry["name"] not in out, f"{entry['name']} is assigned twice"
            out[entry["name"]] = shard
    return out


def wait_assigned(
    cluster: OperatorCluster, expected: dict[str, int], shards: int, pool_name: str = "p"
) -> None:
    eventually(
        lambda: assigned(cluster, shards, pool_name) == expected,
        what=f"assignment {expected}",
    )


def mark_shard_available(cluster: OperatorCluster, pool_name: str, shard: int) -> None:
    name = names.shard_name(pool_name, shard)
    deployment = eventually(
        lambda: cluster.stored("apps/v1", "deployments", name), what=f"Deployment {name}"
    )
    cluster.clients.apps.patch_namespaced_deployment_status(
        name, NAMESPACE, {"status": available_status(deployment["metadata"]["generation"])}
    )


def secret_names(role: dict[str, Any] | None) -> list[str]:
    for rule in (role or {}).get("rules", []):
        if rule["resources"] == ["secrets"]:
            return list(rule["resourceNames"])
    return []


def test_pooled_monitors_get_pool_workloads_not_their_own(
    operator_cluster: OperatorCluster,
) -> None:
    cluster = operator_cluster
    create_pool(cluster, pool("p", replicas=2))
    members = ["alice", "bob", "carol", "dave", "erin"]
    add_monitors(cluster, *members)
    expected = {name: shard_of(name, 2) for name in members}
    wait_assigned(cluster, expected, 2)
    for shard in range(2):
        shard_name = names.shard_name("p", shard)
        deployment = cluster.stored("apps/v1", "deployments", shard_name)
        assert deployment is not None
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == shard_name
        container = pod["containers"][0]
        assert container["args"] == [
            "pool",
            "--assignment",
            "/etc/syft-pool/assignment.json",
            "--namespace",
            NAMESPACE,
        ]
        assert pod["volumes"][0]["configMap"]["name"] == shard_name
        # No hash of the assignment in the template: a new assignment must not restart the pod.
        assert deployment["spec"]["template"]["metadata"].get("annotations") in (None, {})
        owners = [ref["kind"] for ref in deployment["metadata"]["ownerReferences"]]
        assert owners == [names.POOL_KIND]
        document = assignment(cluster, shard)
        assert document is not None
        assert document["version"] == 1
        assert (document["pool"], document["shard"], document["shards"]) == ("p", shard, 2)
        listed = [entry["name"] for entry in document["monitors"]]
        assert listed == sorted(listed)
        for entry in document["monitors"]:
            who = entry["name"]
            assert entry["configMap"] == f"{who}-config"
            assert entry["tokens"]["drive"] == {"secret": f"{who}-token", "key": "token.json"}
            assert entry["tokens"]["gmail"] == {"secret": f"{who}-token", "key": "token.json"}
    for name in members:
        # Its ConfigMaps, and no pod, ServiceAccount or Role of its own.
        for suffix in ("config", "state", "heartbeat"):
            assert cluster.stored("v1", "configmaps", f"{name}-{suffix}") is not None
        assert cluster.deployment(name) is None
        assert cluster.cronjob(name) is None
        assert cluster.stored("v1", "serviceaccounts", names.workload_name(name)) is None
        assert cluster.stored(RBAC_V1, "roles", names.workload_name(name)) is None
    # Ready follows the availability of the member's shard only.
    alice_shard = expected["alice"]
    assigned_cond = cluster.wait_condition("alice", "Assigned", "True", "Assigned")
    assert assigned_cond["message"] == f"pool p shard {alice_shard}"
    cluster.wait_condition("alice", "Ready", "False")
    mark_shard_available(cluster, "p", alice_shard)
    cluster.wait_condition("alice", "Ready", "True")
    assert cluster.get_monitor("alice")["status"]["workload"] == (
        f"Deployment/{names.shard_name('p', alice_shard)}"
    )
    others = [name for name in members if expected[name] != alice_shard]
    for name in others:
        ready = cluster.condition(name, "Ready")
        assert ready is not None, name
        assert ready["status"] == "False", name
    mark_shard_available(cluster, "p", 1 - alice_shard)
    eventually(
        lambda: (
            get_pool(cluster).get("status", {}).get("monitors") == len(members)
            and all(s["available"] for s in get_pool(cluster)["status"]["shards"])
        ),
        what="the pool's status",
    )
    status = get_pool(cluster)["status"]
    assert [s["monitors"] for s in status["shards"]] == [
        sum(1 for shard in expected.values() if shard == i) for i in range(2)
    ]
    ready = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
