"""SyftMonitorPools with the real operator on the test API server: pooled SyftMonitors are served
by the pool's shards instead of pods of their own, scaling moves only the monitors that must
move, each shard's Role names exactly its monitors' objects, and status stays per SyftMonitor."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from operator_testkit import (
    NAMESPACE,
    TOKEN,
    OperatorCluster,
    available_status,
    eventually,
    monitor,
    running_operator,
    token_secret,
)

from syft_operator import names
from syft_operator.rendezvous import shard_of
from tests.kubeapi import KubeApiServer
from tests.support import free_port

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
    # A shard's Role follows its assignment ConfigMap within the same pass: wait for the pass
    # to end too (the members' Secrets are `<name>-token` here).
    for shard in range(shards):
        tokens = sorted(f"{name}-token" for name, at in expected.items() if at == shard)
        role = names.shard_name(pool_name, shard)
        eventually(
            lambda r=role, t=tokens: sorted(secret_names(cluster.stored(RBAC_V1, "roles", r))) == t,
            what=f"Role {role} naming {tokens}",
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
        assert container["args"][:5] == [
            "pool",
            "--assignment",
            "/etc/syft-pool/assignment.json",
            "--namespace",
            NAMESPACE,
        ]
        assert pod["volumes"][0]["configMap"]["name"] == shard_name
        # No hash of the assignment in the template: a new assignment must not restart the pod.
        annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
        assert not [key for key in annotations if "hash" in key]
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


def shard_children(cluster: OperatorCluster, pool_name: str, shard: int) -> list[Any]:
    name = names.shard_name(pool_name, shard)
    return [
        cluster.stored(group_version, resource, name)
        for group_version, resource in (
            ("v1", "configmaps"),
            ("v1", "serviceaccounts"),
            (RBAC_V1, "roles"),
            (RBAC_V1, "rolebindings"),
            ("apps/v1", "deployments"),
        )
    ]


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("syft_operator_pool_")
    }


def test_scaling_a_pool_moves_only_the_monitors_that_must_move(
    kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> None:
    port = free_port()
    env = {"SYFT_OPERATOR_METRICS_PORT": str(port), "SYFT_OPERATOR_METRICS_HOST": "127.0.0.1"}
    with running_operator(kube_api, kubeconfig, kube_client, tmp_path, env=env) as cluster:
        _scale_pool(cluster, port)


def _scale_pool(cluster: OperatorCluster, port: int) -> None:
    members = [f"owner-{i:02d}" for i in range(24)]
    create_pool(cluster, pool("p", replicas=3))
    add_monitors(cluster, *members)
    three = {name: shard_of(name, 3) for name in members}
    four = {name: shard_of(name, 4) for name in members}
    moving = {name for name in members if three[name] != four[name]}
    assert moving, "the scenario must move some monitors"
    assert all(four[name] == 3 for name in moving)
    wait_assigned(cluster, three, 3)
    before = {shard: assignment(cluster, shard) for shard in range(3)}
    deployments = {
        shard: cluster.stored("apps/v1", "deployments", names.shard_name("p", shard))
        for shard in range(3)
    }

    patch_pool(cluster, "p", {"replicas": 4})
    wait_assigned(cluster, four, 4)
    for shard in range(3):
        kept = [m for m in before[shard]["monitors"] if m["name"] not in moving]  # type: ignore[index]
        now = assignment(cluster, shard)
        assert now is not None
        assert now["monitors"] == kept
        # The pods of shards 0-2 are not restarted: same Deployment, same template.
        deployment = cluster.stored("apps/v1", "deployments", names.shard_name("p", shard))
        assert deployment is not None
        old = deployments[shard]
        assert old is not None
        assert deployment["metadata"]["uid"] == old["metadata"]["uid"]
        assert deployment["spec"]["template"] == old["spec"]["template"]
    role = cluster.stored(RBAC_V1, "roles", names.shard_name("p", 3))
    assert sorted(secret_names(role)) == sorted(f"{name}-token" for name in moving)
    eventually(
        lambda: scrape(port).get("syft_operator_pool_moves_total") == len(moving),
        what=f"{len(moving)} moves counted",
    )
    assert scrape(port)["syft_operator_pool_shards"] == 4
    assert scrape(port)["syft_operator_pool_monitors"] == len(members)
    for name in moving:
        cluster.wait_condition(name, "Assigned", "True")
        eventually(
            lambda n=name: cluster.condition(n, "Assigned")["message"] == "pool p shard 3",  # type: ignore[index]
            what=f"{name} reported on shard 3",
        )

    patch_pool(cluster, "p", {"replicas": 3})
    wait_assigned(cluster, three, 3)
    eventually(
        lambda: all(child is None for child in shard_children(cluster, "p", 3)),
        what="shard 3's children deleted",
    )
    for shard in range(3):
        assert assignment(cluster, shard) == before[shard]
    eventually(
        lambda: scrape(port).get("syft_operator_pool_moves_total") == 2 * len(moving),
        what="the moves back counted",
    )
    eventually(
        lambda: [s["shard"] for s in get_pool(cluster)["status"].get("shards", [])] == [0, 1, 2],
        what="the pool's status lists 3 shards",
    )


def test_shard_role_follows_its_monitors(operator_cluster: OperatorCluster) -> None:
    cluster = operator_cluster
    create_pool(cluster, pool("p", replicas=1))
    add_monitors(cluster, "alice", "bob")
    shard = names.shard_name("p", 0)

    def role_secrets() -> list[str]:
        return sorted(secret_names(cluster.stored(RBAC_V1, "roles", shard)))

    eventually(lambda: role_secrets() == ["alice-token", "bob-token"], what="both Secrets")
    role = cluster.stored(RBAC_V1, "roles", shard)
    assert role is not None
    names_by_verbs = {tuple(r["verbs"]): r["resourceNames"] for r in role["rules"]}
    assert names_by_verbs[("get", "update", "patch")] == [
        "alice-heartbeat",
        "alice-state",
        "bob-heartbeat",
        "bob-state",
    ]
    assert all("list" not in r["verbs"] and "watch" not in r["verbs"] for r in role["rules"])
    # bob leaves for a pod of his own: the shard may no longer read his token.
    cluster.patch_spec("bob", {"mode": "Deployment", "pool": None})
    eventually(lambda: role_secrets() == ["alice-token"], what="only alice's Secret")
    # alice is deleted: no Secret at all (a rule with no names would grant every Secret).
    cluster.clients.custom.delete_namespaced_custom_object(
        names.GROUP, names.VERSION, NAMESPACE, names.PLURAL, "alice"
    )
    eventually(lambda: role_secrets() == [], what="no Secret")
    role = cluster.stored(RBAC_V1, "roles", shard)
    assert role is not None
    assert [r["resources"] for r in role["rules"]] == [["configmaps"]]
    assert role["rules"][0]["resourceNames"] == [shard]
    assert assignment(cluster, 0) == {
        "version": 1,
        "pool": "p",
        "shard": 0,
        "shards": 1,
        "monitors": [],
    }


def test_status_is_mirrored_per_syftmonitor(operator_cluster: OperatorCluster) -> None:
    cluster = operator_cluster
    create_pool(cluster, pool("p", replicas=1))
    add_monitors(cluster, "alice", "bob")
    wait_assigned(cluster, {"alice": 0, "bob": 0}, 1)
    # What the pool process writes for one owner after a poll: that owner's heartbeat only.
    cluster.clients.core.patch_namespaced_config_map(
        "alice-heartbeat",
        NAMESPACE,
        {"data": {"lastPollTime": "2026-03-01T12:00:00Z", "notificationsSent": "7"}},
    )
    eventually(
        lambda: cluster.get_monitor("alice").get("status", {}).get("notificationsSent") == 7,
        what="alice's notificationsSent",
    )
    assert cluster.get_monitor("alice")["status"]["lastPollTime"] == "2026-03-01T12:00:00Z"
    bob = cluster.get_monitor("bob")["status"]
    assert "notificationsSent" not in bob
    assert "lastPollTime" not in bob


def test_switching_to_pooled_and_back(operator_cluster: OperatorCluster) -> None:
    cluster = operator_cluster
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    cluster.create_monitor(monitor("alice"))
    cluster.ready("alice")
    state = cluster.stored("v1", "configmaps", "alice-state")
    assert state is not None
    create_pool(cluster, pool("p", replicas=2))
    shard = shard_of("alice", 2)

    cluster.patch_spec("alice", {"mode": "Pooled", "pool": "p"})
    own = names.workload_name("alice")
    eventually(
        lambda: (
            cluster.deployment("alice") is None
            and cluster.stored("v1", "serviceaccounts", own) is None
            and cluster.stored(RBAC_V1, "roles", own) is None
            and cluster.stored(RBAC_V1, "rolebindings", own) is None
        ),
        what="alice's own workload removed",
    )
    wait_assigned(cluster, {"alice": shard}, 2)
    kept = cluster.stored("v1", "configmaps", "alice-state")
    assert kept is not None
    assert kept["metadata"]["uid"] == state["metadata"]["uid"]  # the state stays
    mark_shard_available(cluster, "p", shard)
    cluster.wait_condition("alice", "Ready", "True")

    cluster.patch_spec("alice", {"mode": "Deployment", "pool": None})
    wait_assigned(cluster, {}, 2)
    eventually(lambda: cluster.deployment("alice") is not None, what="alice's Deployment back")
    assert cluster.stored("v1", "serviceaccounts", own) is not None
    cluster.ready("alice")
    assigned_cond = cluster.condition("alice", "Assigned")
    # The condition of a mode it left is not left behind as a stale True.
    assert assigned_cond is None or assigned_cond["status"] != "True"


def test_missing_pool_is_reported_and_recovers(operator_cluster: OperatorCluster) -> None:
    cluster = operator_cluster
    add_monitors(cluster, "alice", pool_name="later")
    cluster.wait_condition("alice", "Assigned", "False", "PoolNotFound")
    ready = cluster.wait_condition("alice", "Ready", "False", "PoolNotFound")
    assert "SyftMonitorPool later does not exist" in ready["message"]
    assert cluster.stored("v1", "configmaps", "alice-config") is not None
    assert cluster.deployment("alice") is None
    assert cluster.stored("v1", "serviceaccounts", names.workload_name("alice")) is None
    assert cluster.api.list_objects("apps/v1", "deployments", NAMESPACE) == []

    create_pool(cluster, pool("later"))
    cluster.wait_condition("alice", "Assigned", "True", "Assigned")
    mark_shard_available(cluster, "later", 0)
    cluster.wait_condition("alice", "Ready", "True")

    cluster.clients.custom.delete_namespaced_custom_object(
        names.GROUP, names.VERSION, NAMESPACE, names.POOL_PLURAL, "later"
    )
    cluster.wait_condition("alice", "Ready", "False", "PoolNotFound")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"mode": "Pooled"}, "spec.pool"),
        ({"pool": "p"}, "spec.pool"),
        ({"mode": "Pooled", "pool": "p", "schedule": "*/10 * * * *"}, "spec.schedule"),
        ({"mode": "Pooled", "pool": "p", "image": "syft-monitor:other"}, "image and resources"),
        ({"mode": "Pooled", "pool": "p", "services": ["notify", "approve"]}, "spec.services"),
        ({"mode": "Pooled", "pool": "p", "syftboxVolume": "alice-box"}, "spec.services"),
        ({"mode": "Pooled", "pool": "Not_A_Name"}, "spec.pool"),
    ],
)
def test_api_server_refuses_pooled_specs_the_pool_cannot_serve(
    schema_cluster: OperatorCluster, spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as caught:
        schema_cluster.create_monitor(monitor("bad", **spec))
    assert caught.value.status == 422
    assert field in str(caught.value.body)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"replicas": 0}, "spec.replicas"),
        ({"replicas": 33}, "spec.replicas"),
        ({"pollWorkers": 0}, "spec.pollWorkers"),
        ({"image": "Not An Image"}, "spec.image"),
        ({"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}, "requests"),
    ],
)
def test_api_server_validates_pools(
    schema_cluster: OperatorCluster, spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as caught:
        create_pool(schema_cluster, pool("p", **spec))
    assert caught.value.status == 422
    assert field in str(caught.value.body)


def test_pool_defaults_and_a_valid_pooled_monitor(schema_cluster: OperatorCluster) -> None:
    created = create_pool(schema_cluster, pool("p"))
    assert created["spec"] == {"replicas": 1, "pollWorkers": 4}
    stored = schema_cluster.create_monitor(pooled("alice"))
    assert stored["spec"]["mode"] == "Pooled"
    assert stored["spec"]["pool"] == "p"


def test_a_tampered_shard_role_is_restored(operator_cluster: OperatorCluster) -> None:
    cluster = operator_cluster
    create_pool(cluster, pool("p"))
    add_monitors(cluster, "alice")
    shard = names.shard_name("p", 0)
    eventually(
        lambda: secret_names(cluster.stored(RBAC_V1, "roles", shard)) == ["alice-token"],
        what="alice's Secret in the Role",
    )
    # Someone widens the shard's Role to another tenant's Secret (the pool pod could read it).
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("mallory-token"))
    role = cluster.clients.rbac.read_namespaced_role(shard, NAMESPACE)
    for rule in role.rules:
        if rule.resources == ["secrets"]:
            rule.resource_names = ["alice-token", "mallory-token"]
    cluster.clients.rbac.replace_namespaced_role(shard, NAMESPACE, role)
    eventually(
        lambda: secret_names(cluster.stored(RBAC_V1, "roles", shard)) == ["alice-token"],
        what="the Role restored",
    )


def test_tenant_policy_applies_to_pools_and_their_members(
    operator_cluster: OperatorCluster,
) -> None:
    cluster = operator_cluster
    # A pool image the operator's allow-list does not name: nothing is created.
    create_pool(cluster, pool("p", image="attacker.example/pool:1"))
    eventually(
        lambda: any(
            c["type"] == "Ready" and c["reason"] == "ImageNotAllowed"
            for c in get_pool(cluster).get("status", {}).get("conditions", [])
        ),
        what="the pool refused",
    )
    assert cluster.stored("apps/v1", "deployments", names.shard_name("p", 0)) is None
    patch_pool(cluster, "p", {"image": None})
    add_monitors(cluster, "alice")
    # A member sending its tokens to an API root nobody allowed stays out of the pool.
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("mallory-token"))
    cluster.create_monitor(pooled("mallory", googleApiRoot="https://evil.example.org/"))
    cluster.wait_condition("mallory", "Ready", "False", "ApiRootNotAllowed")
    wait_assigned(cluster, {"alice": 0}, 1)
    role = cluster.stored(RBAC_V1, "roles", names.shard_name("p", 0))
    assert secret_names(role) == ["alice-token"]


def test_a_suspended_pooled_monitor_leaves_its_shard_until_resumed(
    operator_cluster: OperatorCluster,
) -> None:
    cluster = operator_cluster
    create_pool(cluster, pool("p"))
    add_monitors(cluster, "alice", "bob")
    wait_assigned(cluster, {"alice": 0, "bob": 0}, 1)
    cluster.patch_spec("alice", {"suspend": True})
    wait_assigned(cluster, {"bob": 0}, 1)
    cluster.wait_condition("alice", "Ready", "False", "Suspended")
    cluster.wait_condition("alice", "Assigned", "False", "Suspended")
    assert secret_names(cluster.stored(RBAC_V1, "roles", names.shard_name("p", 0))) == ["bob-token"]
    cluster.patch_spec("alice", {"suspend": False})
    wait_assigned(cluster, {"alice": 0, "bob": 0}, 1)
    cluster.wait_condition("alice", "Assigned", "True", "Assigned")


def test_a_shard_beyond_the_replica_count_is_removed(operator_cluster: OperatorCluster) -> None:
    """Left by a crash between a scale-up and its status write: its monitors must not be served
    twice, whatever the pool's status says."""
    cluster = operator_cluster
    created = create_pool(cluster, pool("p"))
    add_monitors(cluster, "alice")
    wait_assigned(cluster, {"alice": 0}, 1)
    stale = names.shard_name("p", 3)
    owner = {
        "apiVersion": names.API_VERSION,
        "kind": names.POOL_KIND,
        "name": "p",
        "uid": created["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    metadata = {
        "name": stale,
        "namespace": NAMESPACE,
        "labels": names.shard_labels("p", 3),
        "ownerReferences": [owner],
    }
    document = {"version": 1, "pool": "p", "shard": 3, "shards": 4, "monitors": []}
    cluster.api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata,
            "data": {names.POOL_ASSIGNMENT_KEY: json.dumps(document)},
        }
    )
    cluster.api.put_object(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(metadata)}
    )
    eventually(
        lambda: all(child is None for child in shard_children(cluster, "p", 3)),
        what="the stale shard removed",
    )
    assert assignment(cluster, 0) is not None


def _version(cluster: OperatorCluster, resource: str, name: str) -> str:
    found = cluster.stored("v1", resource, name)
    assert found is not None, name
    return str(found["metadata"]["resourceVersion"])


def _entries(cluster: OperatorCluster) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in (assignment(cluster, 0) or {}).get("monitors", [])}


def _versions_match(cluster: OperatorCluster, *members: str) -> bool:
    entries = _entries(cluster)
    return all(
        (entries.get(who) or {}).get("versions")
        == {
            "configMap": _version(cluster, "configmaps", f"{who}-config"),
            "drive": _version(cluster, "secrets", f"{who}-token"),
            "gmail": _version(cluster, "secrets", f"{who}-token"),
        }
        for who in members
    )


def test_the_assignment_carries_its_parts_versions_and_follows_a_rotation(
    operator_cluster: OperatorCluster,
) -> None:
    # The pool re-reads an owner's Secret or config only when its version in the assignment
    # changes: a rotated Secret and an edited spec must change the shard ConfigMap, never the
    # shard's pod template.
    cluster = operator_cluster
    create_pool(cluster, pool("p", replicas=1))
    add_monitors(cluster, "alice", "bob")
    wait_assigned(cluster, {"alice": 0, "bob": 0}, 1)
    eventually(lambda: _versions_match(cluster, "alice", "bob"), what="versions of the parts")
    deployment = cluster.stored("apps/v1", "deployments", names.shard_name("p", 0))
    assert deployment is not None
    bob_before = _entries(cluster)["bob"]
    cluster.clients.core.replace_namespaced_secret(
        "alice-token",
        NAMESPACE,
        token_secret("alice-token", value={**TOKEN, "refresh_token": "1//rotated"}),
    )
    eventually(lambda: _versions_match(cluster, "alice", "bob"), what="the rotated version")
    config_before = _version(cluster, "configmaps", "alice-config")
    cluster.patch_spec("alice", {"intervals": {"notify": 45}})
    eventually(
        lambda: _version(cluster, "configmaps", "alice-config") != config_before,
        what="alice's config rewritten",
    )
    eventually(lambda: _versions_match(cluster, "alice", "bob"), what="the new config version")
    assert _entries(cluster)["bob"] == bob_before
    after = cluster.stored("apps/v1", "deployments", names.shard_name("p", 0))
    assert after is not None
    assert after["metadata"]["generation"] == deployment["metadata"]["generation"]
