"""The real operator (`syft-operator` subprocess) against the test API server, when things break.

- SIGKILLed mid-reconcile (the request log says when: ConfigMaps, ServiceAccount and RBAC exist,
  the Deployment does not yet) and mid-update, then restarted;
- the API server answering 500 to creates, updates and patches for a while;
- watch streams ended, plainly and with 410 Gone, while SyftMonitors change in the gap;
- SyftMonitors created, edited and deleted while the operator is down.

Every scenario ends with the same check (`world_problems`): the cluster holds exactly the children
the live SyftMonitors' specs render, each with one owner reference (to its live SyftMonitor), with
the config and config hash of the current spec, and Ready for the current generation. No sleeps
decide anything: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import copy
import dataclasses
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syft_operator import names
from syft_operator.crd import SyftMonitorSpec
from syft_operator.render import RenderOptions, config_hash, render
from tests.integration.operator.operator_testkit import (
    CRD_FILE,
    NAMESPACE,
    eventually,
    monitor,
    ready_in_store,
    start_operator,
    stop_operator,
    token_secret,
)
from tests.kubeapi import ApiRequest, KubeApiServer

#: The image the operator is started with (operator_testkit sets it).
OPTIONS = RenderOptions(default_image="syft-monitor:test")
RBAC_V1 = "rbac.authorization.k8s.io/v1"
#: Where children live, by kind.
CHILD_RESOURCES = {
    "ConfigMap": ("v1", "configmaps"),
    "ServiceAccount": ("v1", "serviceaccounts"),
    "Role": (RBAC_V1, "roles"),
    "RoleBinding": (RBAC_V1, "rolebindings"),
    "Deployment": ("apps/v1", "deployments"),
    "CronJob": ("batch/v1", "cronjobs"),
}
#: Long enough for kopf's own API retries (1 s, 1 s, 2 s ...) plus our retry backoff.
CONVERGE = 30.0


@dataclasses.dataclass
class Operator:
    """The operator process, restartable; each run logs to its own file."""

    api: KubeApiServer
    kubeconfig: Path
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        mark = len(self.api.requests)
        self.runs += 1
        self.process = start_operator(self.api, self.kubeconfig, self.log_path(self.runs))
        # start_operator also accepts a watch of an earlier run: wait for this run's own.
        self.api.wait_for_request(
            lambda r: r.id >= mark and r.verb == "watch" and r.resource == names.PLURAL, 30
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers, no last patches, like an OOM kill or a node loss."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            stop_operator(self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_path(self, run: int) -> Path:
        return self.folder / f"operator-{run}.log"

    def logs(self) -> str:
        return "".join(
            f"--- operator run {run} ---\n" + self.log_path(run).read_text(errors="replace")[-4000:]
            for run in range(1, self.runs + 1)
            if self.log_path(run).exists()
        )


@pytest.fixture
def operator(kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path) -> Iterator[Operator]:
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    handle = Operator(kube_api, kubeconfig, tmp_path)
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()
        # Captured: pytest shows it only when the test failed.
        sys.stderr.write(handle.logs())


# --- the world as it should be -------------------------------------------------------------------


def live_monitors(api: KubeApiServer) -> dict[str, dict[str, Any]]:
    return {
        m["metadata"]["name"]: m
        for m in api.list_objects(names.API_VERSION, names.PLURAL, NAMESPACE)
    }


def expected_children(name: str, spec: SyftMonitorSpec) -> dict[str, set[str]]:
    workload = names.workload_name(name)
    return {
        "ConfigMap": {
            names.config_map_name(name),
            names.state_map_name(name),
            names.heartbeat_map_name(name),
        },
        "ServiceAccount": {workload},
        "Role": {workload},
        "RoleBinding": {workload},
        spec.mode: {workload},
    }


def world_problems(api: KubeApiServer, wanted: set[str]) -> list[str]:
    """Everything that differs from: the SyftMonitors `wanted`, each reconciled for its current
    spec, and not one object more (empty when the world is right)."""
    problems: list[str] = []
    monitors = live_monitors(api)
    if set(monitors) != wanted:
        problems.append(f"SyftMonitors {sorted(monitors)}, wanted {sorted(wanted)}")
    expected: dict[str, set[str]] = {kind: set() for kind in CHILD_RESOURCES}
    owner_of: dict[tuple[str, str], str] = {}
    for name, body in monitors.items():
        meta = body["metadata"]
        if meta.get("deletionTimestamp"):
            problems.append(f"{name} is still Terminating")
            continue
        spec = SyftMonitorSpec.model_validate(body["spec"])
        for kind, object_names in expected_children(name, spec).items():
            expected[kind] |= object_names
            for object_name in object_names:
                owner_of[(kind, object_name)] = meta["uid"]
        problems += _reconciled_problems(api, name, body, spec)
    for kind, (group_version, resource) in CHILD_RESOURCES.items():
        found = api.list_objects(group_version, resource, NAMESPACE)
        present = {obj["metadata"]["name"] for obj in found}
        if present != expected[kind]:
            problems.append(f"{kind}: {sorted(present)}, wanted {sorted(expected[kind])}")
        for obj in found:
            uid = owner_of.get((kind, obj["metadata"]["name"]))
            refs = obj["metadata"].get("ownerReferences") or []
            owners = [(ref.get("kind"), ref.get("uid"), ref.get("controller")) for ref in refs]
            if uid is not None and owners != [(names.KIND, uid, True)]:
                problems.append(f"{kind}/{obj['metadata']['name']} owners {owners}")
    return problems


def _reconciled_problems(
    api: KubeApiServer, name: str, body: dict[str, Any], spec: SyftMonitorSpec
) -> list[str]:
    rendered = render(name, NAMESPACE, spec, OPTIONS)
    problems = []
    config = api.get_object("v1", "configmaps", NAMESPACE, names.config_map_name(name))
    if config is None or config.get("data") != rendered.config_map["data"]:
        problems.append(f"{name}: config is not the current spec's")
    group_version, resource = CHILD_RESOURCES[spec.mode]
    workload = api.get_object(group_version, resource, NAMESPACE, names.workload_name(name))
    if workload is not None:
        template = (
            workload["spec"]["template"]
            if spec.mode == "Deployment"
            else workload["spec"]["jobTemplate"]["spec"]["template"]
        )
        annotations = template["metadata"].get("annotations") or {}
        if annotations.get(names.CONFIG_HASH_ANNOTATION) != config_hash(rendered.config_map):
            problems.append(f"{name}: the {spec.mode} still has an old config hash")
    if spec.mode == "Deployment" and not spec.suspend and workload is not None:
        # Play the Deployment controller: the current template has an available pod (Ready
        # needs one). The body's status is then re-read on the next probe.
        ready_in_store(api, name)
    status = body.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
    if not ready or ready[0]["status"] != "True":
        problems.append(f"{name}: not Ready ({ready})")
    if status.get("observedGeneration") != body["metadata"].get("generation"):
        problems.append(f"{name}: status is for generation {status.get('observedGeneration')}")
    return problems


def converge(api: KubeApiServer, wanted: set[str], operator: Operator) -> None:
    last: list[str] = []

    def probe() -> bool:
        nonlocal last
        last = world_problems(api, wanted)
        return not last

    try:
        eventually(probe, timeout=CONVERGE, what="the world to match the specs")
    except AssertionError as error:
        raise AssertionError(f"did not converge: {last}") from error
    assert operator.alive(), "the operator exited"


# --- small helpers -------------------------------------------------------------------------------


def add_monitor(api: KubeApiServer, name: str, *, with_secret: bool = True, **spec: Any) -> None:
    if with_secret:
        api.put_object(token_secret(f"{name}-token"))
    api.put_object(monitor(name, **spec))


def edit_spec(api: KubeApiServer, name: str, **changes: Any) -> None:
    """Change the spec of the stored SyftMonitor, keeping its metadata (kopf's annotations,
    labels) as a `kubectl edit` would."""
    body = api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, name)
    assert body is not None
    body = copy.deepcopy(body)
    body["spec"].update(changes)
    api.put_object(body)


def stored(api: KubeApiServer, kind: str, name: str) -> dict[str, Any] | None:
    group_version, resource = CHILD_RESOURCES[kind]
    return api.get_object(group_version, resource, NAMESPACE, name)


def wait_request(api: KubeApiServer, after: int, **fields: Any) -> ApiRequest:
    def matches(r: ApiRequest) -> bool:
        return r.id >= after and all(getattr(r, key) == value for key, value in fields.items())

    return api.wait_for_request(matches, timeout=CONVERGE)


# --- the scenarios -------------------------------------------------------------------------------


#: Where the first reconcile is held (its request answered 500 until cleared) and the operator
#: SIGKILLed, and which children exist by then. Reconcile order: state and heartbeat
#: ConfigMaps, config ConfigMap, ServiceAccount, Role, RoleBinding, workload; kopf then writes
#: the status.
KILL_POINTS = {
    "after-configmaps": (
        {"verb": "create", "resource": "serviceaccounts"},
        {
            ("ConfigMap", "alice-state"),
            ("ConfigMap", "alice-heartbeat"),
            ("ConfigMap", "alice-config"),
        },
    ),
    "before-deployment": (
        {"verb": "create", "resource": "deployments"},
        {
            ("ConfigMap", "alice-state"),
            ("ConfigMap", "alice-heartbeat"),
            ("ConfigMap", "alice-config"),
            ("ServiceAccount", "alice-monitor"),
            ("Role", "alice-monitor"),
            ("RoleBinding", "alice-monitor"),
        },
    ),
    "before-status": (
        {"verb": "patch", "resource": names.PLURAL, "subresource": "status"},
        {
            ("ConfigMap", "alice-state"),
            ("ConfigMap", "alice-heartbeat"),
            ("ConfigMap", "alice-config"),
            ("ServiceAccount", "alice-monitor"),
            ("Role", "alice-monitor"),
            ("RoleBinding", "alice-monitor"),
            ("Deployment", "alice-monitor"),
        },
    ),
}


def existing_children(api: KubeApiServer) -> set[tuple[str, str]]:
    return {
        (kind, obj["metadata"]["name"])
        for kind, (group_version, resource) in CHILD_RESOURCES.items()
        for obj in api.list_objects(group_version, resource, NAMESPACE)
    }


@pytest.mark.parametrize("point", KILL_POINTS, ids=list(KILL_POINTS))
def test_killed_mid_reconcile_then_restarted_converges_without_duplicates(
    operator: Operator, kube_api: KubeApiServer, point: str
) -> None:
    api = kube_api
    hold, existing = KILL_POINTS[point]
    held = api.fail_next(500, count=10_000, **hold)
    mark = len(api.requests)
    add_monitor(api, "alice")
    wait_request(api, mark, status=500, **hold)
    operator.kill()
    assert held.hits >= 1
    assert existing_children(api) == existing, "not killed where the test meant to"
    # What the monitor pod wrote meanwhile must survive the restart's reconcile.
    state = stored(api, "ConfigMap", "alice-state")
    if state is not None:
        state["data"] = {"state.json": '{"version": 1}'}
        api.put_object(state)

    api.clear_faults()
    operator.start()
    converge(api, {"alice"}, operator)
    state = stored(api, "ConfigMap", "alice-state")
    assert state is not None
    assert state["data"] == (
        {"state.json": '{"version": 1}'} if ("ConfigMap", "alice-state") in existing else {}
    )


def test_killed_mid_update_then_restarted_rolls_the_workload(
    operator: Operator, kube_api: KubeApiServer
) -> None:
    api = kube_api
    add_monitor(api, "alice")
    converge(api, {"alice"}, operator)
    before = stored(api, "Deployment", "alice-monitor")
    assert before is not None
    # The new config is written, then the Deployment's update fails until the kill.
    api.fail_next(500, verb="update", resource="deployments", count=10_000)
    mark = len(api.requests)
    edit_spec(api, "alice", emailFormat="text", intervals={"notify": 45})
    wait_request(api, mark, verb="update", resource="deployments", status=500)
    operator.kill()
    assert world_problems(api, {"alice"}), "the kill came too late to test anything"
    assert stored(api, "Deployment", "alice-monitor") == before
    api.clear_faults()
    operator.start()
    converge(api, {"alice"}, operator)
    after = stored(api, "Deployment", "alice-monitor")
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"], "replaced, not updated"


def test_api_server_500s_for_a_while_then_converges(
    operator: Operator, kube_api: KubeApiServer
) -> None:
    api = kube_api
    add_monitor(api, "alice")
    converge(api, {"alice"}, operator)
    # Our own writes (children) and kopf's (annotations, status) all fail for a while, and so
    # does reading a Secret the watch cache does not know: bob's comes after bob.
    secret_read = api.fail_next(503, verb="get", resource="secrets", count=1)
    faults = [
        api.fail_next(500, verb="create", count=6),
        api.fail_next(500, verb="update", count=4),
        api.fail_next(500, verb="patch", count=3),
        secret_read,
    ]
    add_monitor(api, "bob", with_secret=False, services=["notify", "approve"])
    edit_spec(api, "alice", mode="CronJob", schedule="*/20 * * * *")
    eventually(lambda: secret_read.remaining == 0, timeout=CONVERGE, what="bob's Secret read")
    api.put_object(token_secret("bob-token"))
    eventually(
        lambda: all(fault.remaining == 0 for fault in faults),
        timeout=CONVERGE,
        what="every injected fault to be hit",
    )
    converge(api, {"alice", "bob"}, operator)


def test_dropped_watches_are_resumed_and_relisted(
    operator: Operator, kube_api: KubeApiServer
) -> None:
    api = kube_api
    add_monitor(api, "alice")
    add_monitor(api, "carol")
    converge(api, {"alice", "carol"}, operator)

    # A plain end of stream: the operator watches again from where it was.
    mark = len(api.requests)
    assert api.drop_watches(names.PLURAL) >= 1
    wait_request(api, mark, verb="watch", resource=names.PLURAL)
    add_monitor(api, "bob")
    converge(api, {"alice", "bob", "carol"}, operator)

    # 410 Gone: the operator must list again. The first relists fail, so the changes below
    # happen while it sees nothing; the successful list afterwards is what must catch them.
    relist = api.fail_next(500, verb="list", resource=names.PLURAL, count=2)
    mark = len(api.requests)
    assert api.drop_watches(names.PLURAL, gone=True) >= 1
    wait_request(api, mark, verb="list", resource=names.PLURAL, status=500)
    edit_spec(api, "alice", emailFormat="text")
    assert api.delete_object(names.API_VERSION, names.PLURAL, NAMESPACE, "carol")
    add_monitor(api, "dave", mode="CronJob")
    changed_at = len(api.requests)
    wait_request(api, changed_at, verb="list", resource=names.PLURAL, status=200)
    assert relist.remaining == 0
    converge(api, {"alice", "bob", "dave"}, operator)


def test_changes_while_the_operator_is_down_are_applied_after_restart(
    operator: Operator, kube_api: KubeApiServer
) -> None:
    api = kube_api
    for name in ("alice", "bob", "carol"):
        add_monitor(api, name)
    converge(api, {"alice", "bob", "carol"}, operator)
    bob_hash = (stored(api, "Deployment", "bob-monitor") or {})["spec"]["template"]["metadata"][
        "annotations"
    ][names.CONFIG_HASH_ANNOTATION]
    operator.kill()

    # While it is down: one deleted, one edited, one created, one switched to CronJob.
    assert api.delete_object(names.API_VERSION, names.PLURAL, NAMESPACE, "carol")
    edit_spec(api, "bob", emailFormat="text", notifications={"newPeer": False})
    add_monitor(api, "dave", services=["notify", "approve"])
    edit_spec(api, "alice", mode="CronJob")
    # No finalizer: carol and, by garbage collection, her children are gone at once.
    assert api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "carol") is None
    assert stored(api, "Deployment", "carol-monitor") is None

    operator.start()
    converge(api, {"alice", "bob", "dave"}, operator)
    assert api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "carol") is None
    bob = stored(api, "Deployment", "bob-monitor")
    assert bob is not None
    assert bob["spec"]["template"]["metadata"]["annotations"][names.CONFIG_HASH_ANNOTATION] != (
        bob_hash
    )
