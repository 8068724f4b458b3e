"""An idle fleet costs the API server nothing (issue 16), checked in the test API server's log.

- An idle sweep reconciles every SyftMonitor from the watch cache: no GET, no LIST, no write.
- A deleted child is recreated from its watch event alone (no sweep runs in that test), and a
  rotated Secret rolls the pod template from the Secret watch.
- A new default image after an operator upgrade rolls at most the configured share at once.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from operator_testkit import (
    NAMESPACE,
    TOKEN,
    OperatorCluster,
    available_status,
    clients_for,
    eventually,
    monitor,
    running_operator,
    start_operator,
    stop_operator,
    token_secret,
)

from syft_operator import names
from tests.kubeapi import KubeApiServer
from tests.support import free_port

SECONDS = 15.0


def _cluster(
    kube_api: KubeApiServer,
    kubeconfig: Path,
    kube_client: Any,
    tmp_path: Path,
    interval: str,
) -> Iterator[tuple[OperatorCluster, int]]:
    port = free_port()
    env = {"SYFT_OPERATOR_STATUS_INTERVAL": interval}
    args = ("--metrics-port", str(port))
    with running_operator(kube_api, kubeconfig, kube_client, tmp_path, *args, env=env) as cluster:
        yield cluster, port


@pytest.fixture
def sweeping(
    kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> Iterator[tuple[OperatorCluster, int]]:
    """A sweep every 0.3 s: plenty of idle sweeps in a second."""
    yield from _cluster(kube_api, kubeconfig, kube_client, tmp_path, "0.3")


@pytest.fixture
def watch_only(
    kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> Iterator[tuple[OperatorCluster, int]]:
    """No sweep at all: only a watch event can make the operator act."""
    yield from _cluster(kube_api, kubeconfig, kube_client, tmp_path, "0")


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} in the metrics")


def start(cluster: OperatorCluster, name: str) -> None:
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret(f"{name}-token"))
    cluster.create_monitor(monitor(name))
    cluster.ready(name)


def test_an_idle_sweep_issues_no_get_and_no_write(sweeping: tuple[OperatorCluster, int]) -> None:
    cluster, port = sweeping
    for name in ("alice", "bob"):
        start(cluster, name)
    # Settled: the status the last pass wrote has come back on the watch.
    done = metric(port, "syft_operator_sweeps_total")
    eventually(lambda: metric(port, "syft_operator_sweeps_total") >= done + 3, what="sweeps")
    reconciles = metric(port, 'syft_operator_reconciles_total{outcome="success"}')
    cluster.api.clear_requests()
    swept = metric(port, "syft_operator_sweeps_total")
    eventually(
        lambda: metric(port, "syft_operator_sweeps_total") >= swept + 3,
        what="three more sweeps",
        timeout=SECONDS,
    )
    # The sweeps did reconcile both monitors (from the cache), or this proves nothing.
    assert metric(port, 'syft_operator_reconciles_total{outcome="success"}') >= reconciles + 4
    requests = [(r.verb, r.resource, r.name) for r in cluster.api.requests if r.verb != "watch"]
    assert requests == []
    assert metric(port, "syft_operator_cache_objects") >= 2 * 6  # children and Secrets


def test_a_deleted_child_is_recreated_from_its_watch_event(
    watch_only: tuple[OperatorCluster, int],
) -> None:
    cluster, _port = watch_only
    start(cluster, "alice")
    first = cluster.deployment()
    assert first is not None
    cluster.clients.apps.delete_namespaced_deployment("alice-monitor", NAMESPACE)
    again = eventually(
        lambda: (d := cluster.deployment()) and d["metadata"]["uid"] != first["metadata"]["uid"],
        what="the Deployment recreated",
        timeout=SECONDS,
    )
    assert again
    cluster.api.clear_requests()
    cluster.clients.rbac.delete_namespaced_role("alice-monitor", NAMESPACE)
    eventually(
        lambda: cluster.stored("rbac.authorization.k8s.io/v1", "roles", "alice-monitor"),
        what="the Role recreated",
        timeout=SECONDS,
    )
    # Recreated from the event: the cache knew it gone, so no GET came before the POST.
    gets = [r for r in cluster.api.requests if r.verb == "get" and r.resource == "roles"]
    assert gets == []


def test_a_rotated_secret_rolls_the_pod_from_the_secret_watch(
    watch_only: tuple[OperatorCluster, int],
) -> None:
    cluster, _port = watch_only
    start(cluster, "alice")
    first = cluster.deployment()
    assert first is not None

    def template_hash() -> Any:
        deployment = cluster.deployment()
        assert deployment is not None
        return deployment["spec"]["template"]["metadata"].get("annotations")

    before = template_hash()
    rotated = json.dumps({**TOKEN, "refresh_token": "rotated"}).encode()
    cluster.clients.core.patch_namespaced_secret(
        "alice-token",
        NAMESPACE,
        {"data": {"token.json": base64.b64encode(rotated).decode()}},
    )
    eventually(lambda: template_hash() != before, what="a new pod template", timeout=SECONDS)


def test_a_new_default_image_rolls_at_most_the_configured_share_at_once(
    kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> None:
    """Five monitors on the old default image; the operator restarts with a new default and
    `40%`: never more than two Deployments have the new template without an available pod, and
    the others follow as those become available (this test plays the Deployment controller)."""
    monitors = [f"do-{n}" for n in range(5)]
    gen = _cluster(kube_api, kubeconfig, kube_client, tmp_path, "0.5")
    cluster, _port = next(gen)
    for name in monitors:
        start(cluster, name)
    gen.close()  # the operator stops; its monitors keep running
    env = {
        "SYFT_OPERATOR_STATUS_INTERVAL": "0.5",
        "SYFT_OPERATOR_MONITOR_IMAGE": "syft-monitor:next",
        "SYFT_OPERATOR_ROLLOUT_MAX_UNAVAILABLE": "40%",
    }
    log_path = tmp_path / "operator-upgraded.log"
    process = start_operator(kube_api, kubeconfig, log_path, env=env)
    upgraded = OperatorCluster(kube_api, clients_for(kube_client), process, log_path)
    try:
        most = _follow_paced_rollout(upgraded, [names.workload_name(m) for m in monitors], share=2)
    finally:
        stop_operator(process)
        sys.stderr.write("--- upgraded operator log ---\n" + upgraded.log()[-6000:])
    assert most == 2  # it did use its share: a pace, not one at a time


def _follow_paced_rollout(cluster: OperatorCluster, deployments: list[str], *, share: int) -> int:
    """Play the Deployment controller through an upgrade to the `:next` image: never more than
    `share` Deployments on the new template without an available pod; returns the most seen."""
    most = 0
    deadline = time.monotonic() + 60
    marked_at = time.monotonic()
    new: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        new = {}
        for name in deployments:
            deployment = cluster.stored("apps/v1", "deployments", name)
            assert deployment is not None
            if deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":next"):
                new[name] = deployment
        rolling = [n for n, d in new.items() if not _available(d)]
        most = max(most, len(rolling))
        assert len(rolling) <= share, rolling
        if len(new) == len(deployments) and not rolling:
            return most
        # A loaded operator admits its share one reconcile at a time: leave it up to 10 s to
        # fill the share before the pods come up, so "a pace" is seen, not sampled away.
        waited = time.monotonic() - marked_at
        if len(rolling) < share and len(new) < len(deployments) and waited < 10:
            time.sleep(0.2)
            continue
        time.sleep(0.7)  # time for the operator to over-admit, if it would
        for name in rolling:
            _mark_available(cluster, new[name])
        marked_at = time.monotonic()
    raise AssertionError(f"rollout incomplete: {sorted(new)} on the new image")


def _available(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    return bool(
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and (status.get("availableReplicas") or 0) >= 1
    )


def test_a_deployment_status_change_moves_the_conditions_from_the_cache(
    watch_only: tuple[OperatorCluster, int],
) -> None:
    cluster, _port = watch_only
    cluster.clients.core.create_namespaced_secret(NAMESPACE, token_secret("alice-token"))
    cluster.create_monitor(monitor("alice"))
    cluster.wait_condition("alice", "SecretsResolved", "True")
    eventually(cluster.deployment, what="the Deployment")
    cluster.api.clear_requests()
    cluster.mark_available("alice")
    cluster.wait_condition("alice", "Ready", "True")
    # The test's own reads are of the SyftMonitor; the operator read nothing and wrote only the
    # status (plus the mark_available patch this test made).
    operator_reads = [
        (r.verb, r.resource, r.name)
        for r in cluster.api.requests
        if r.verb in ("get", "list") and r.resource != "syftmonitors"
    ]
    assert operator_reads == []
    writes = {
        (r.verb, r.resource, r.subresource) for r in cluster.api.requests if r.verb == "patch"
    }
    assert writes <= {("patch", "deployments", "status"), ("patch", "syftmonitors", "status")}


def test_a_new_default_image_rolls_pool_shards_at_most_the_configured_share_at_once(
    kube_api: KubeApiServer, kubeconfig: Path, kube_client: Any, tmp_path: Path
) -> None:
    """A pool of five shards on the old default image; the operator restarts with a new default
    and `40%`: shards pass through the same rollout pacer as single-owner monitors (each shard
    pod restarts every owner it serves), so never more than two shard Deployments have the new
    template without an available pod (this test plays the Deployment controller)."""
    shards = [names.shard_name("p", i) for i in range(5)]
    gen = _cluster(kube_api, kubeconfig, kube_client, tmp_path, "0.5")
    cluster, _port = next(gen)
    cluster.clients.custom.create_namespaced_custom_object(
        names.GROUP,
        names.VERSION,
        NAMESPACE,
        names.POOL_PLURAL,
        {
            "apiVersion": names.API_VERSION,
            "kind": names.POOL_KIND,
            "metadata": {"name": "p", "namespace": NAMESPACE},
            "spec": {"replicas": len(shards)},
        },
    )
    for shard in shards:
        deployment = eventually(
            lambda s=shard: cluster.stored("apps/v1", "deployments", s), what=shard
        )
        _mark_available(cluster, deployment)
    eventually(
        lambda: (
            cluster.clients.custom.get_namespaced_custom_object(
                names.GROUP, names.VERSION, NAMESPACE, names.POOL_PLURAL, "p"
            )
            .get("status", {})
            .get("shards", [])
            == [{"shard": i, "monitors": 0, "available": True} for i in range(len(shards))]
        ),
        what="every shard available",
    )
    gen.close()  # the operator stops; the shards keep running
    env = {
        "SYFT_OPERATOR_STATUS_INTERVAL": "0.5",
        "SYFT_OPERATOR_MONITOR_IMAGE": "syft-monitor:next",
        "SYFT_OPERATOR_ROLLOUT_MAX_UNAVAILABLE": "40%",
    }
    log_path = tmp_path / "operator-upgraded.log"
    process = start_operator(kube_api, kubeconfig, log_path, env=env)
    upgraded = OperatorCluster(kube_api, clients_for(kube_client), process, log_path)
    try:
        most = _follow_paced_rollout(upgraded, shards, share=2)
    finally:
        stop_operator(process)
        sys.stderr.write("--- upgraded operator log ---\n" + upgraded.log()[-6000:])
    assert most == 2  # it did use its share: a pace, not one shard at a time


def _mark_available(cluster: OperatorCluster, deployment: dict[str, Any]) -> None:
    cluster.clients.apps.patch_namespaced_deployment_status(
        deployment["metadata"]["name"],
        NAMESPACE,
        {"status": available_status(deployment["metadata"]["generation"])},
    )
