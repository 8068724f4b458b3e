"""Least privilege on Kubernetes, proven against the test API server's request log.

- The RBAC objects the real operator creates for two SyftMonitors in one namespace give each
  monitor's ServiceAccount exactly `get/update` on its own state ConfigMap (what its state backend
  does; its tokens are mounted files, so no Secret is readable through the API), and nothing of
  the other's.
- The monitor pod's real process (`syft-bg run notify --once`, the CronJob's command, with the
  operator-rendered config and the ConfigMap state backend) makes only requests its own Role
  permits, and none the other monitor's Role would.
- The operator's ClusterRole (and, serving named namespaces, its Role) holds nothing the operator
  never uses: a full lifecycle must exercise every granted (verb, resource), unless `rbac.py`
  says why only a real cluster can (`Rule.unobservable`).
- The chart's rendered RBAC (when helm and the chart are there) grants no more than that, with no
  wildcards and no way to list Secrets.

Permissions are evaluated with `tests.unit.reliability.rbac_model`, written from the Kubernetes
authorizer's rules, not with the operator's own `rbac.permitted`. The test API server does no
authorization itself, so every verdict here comes from the request log.
"""

from __future__ import annotations

import base64
import copy
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from syft_operator import names, rbac
from syft_operator.crd import SyftMonitorSpec
from syft_operator.render import RenderOptions, config_hash, render
from syft_sandbox import Sandbox
from tests.e2e.kind_driver import JOB_NAME, submit_job
from tests.integration.operator.operator_testkit import (
    BIN,
    CRD_FILE,
    NAMESPACE,
    POOL_CRD_FILE,
    eventually,
    monitor,
    ready_in_store,
    start_operator,
    stop_operator,
    token_secret,
)
from tests.kubeapi import ApiRequest, KubeApiServer
from tests.kubeapi.tools import Helm
from tests.unit.reliability.pod_security import hardening_problems, pod_template_of
from tests.unit.reliability.rbac_model import (
    RBAC_GROUP,
    Manifest,
    Request,
    ServiceAccount,
    allowed,
    can,
    grants,
    pairs,
    secret_changes,
    secret_reads_beyond_get,
    universe,
    wildcard_problems,
)

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "syft-monitor"
OPERATOR_YAML = ROOT / "deploy" / "operator.yaml"
OPTIONS = RenderOptions(default_image="syft-monitor:test")
RBAC_V1 = f"{RBAC_GROUP}/v1"
#: Discovery is granted to every authenticated user (system:discovery), not by our roles.
DISCOVERY_PATHS = ("/api", "/apis", "/version")
DO = "owner@hospital.example"
DS = "scientist@uni.example"


# --- shared helpers ------------------------------------------------------------------------------


def request_of(r: ApiRequest) -> Request:
    resource = f"{r.resource}/{r.subresource}" if r.subresource else str(r.resource)
    return Request(r.verb, r.group or "", resource, r.namespace, r.name)


def resource_requests(requests: list[ApiRequest]) -> list[ApiRequest]:
    """The requests RBAC decides on; discovery (granted to everyone) must be all the rest."""
    others = [r for r in requests if not r.is_resource]
    for r in others:
        assert r.method == "GET", r.path
        assert r.path.startswith(DISCOVERY_PATHS), r.path
    return [r for r in requests if r.is_resource]


def stored_monitor(api: KubeApiServer, name: str) -> dict[str, Any] | None:
    return api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, name)


def ready(api: KubeApiServer, name: str, status: str = "True", reason: str | None = None) -> bool:
    conditions = ((stored_monitor(api, name) or {}).get("status") or {}).get("conditions") or []
    return any(
        c["type"] == "Ready" and c["status"] == status and reason in (None, c["reason"])
        for c in conditions
    )


def pool_object(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.POOL_KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def edit_spec(api: KubeApiServer, name: str, **changes: Any) -> None:
    """Change a stored SyftMonitor's spec, keeping its metadata as `kubectl edit` would."""
    body = copy.deepcopy(stored_monitor(api, name))
    assert body is not None
    body["spec"].update(changes)
    api.put_object(body)


def namespace_objects(api: KubeApiServer) -> list[dict[str, Any]]:
    found = []
    for group_version, resource in (
        ("v1", "configmaps"),
        ("v1", "secrets"),
        ("v1", "serviceaccounts"),
        (RBAC_V1, "roles"),
        (RBAC_V1, "rolebindings"),
        ("apps/v1", "deployments"),
        ("batch/v1", "cronjobs"),
    ):
        found += api.list_objects(group_version, resource, NAMESPACE)
    return found


def own_permissions(state_map: str, secrets: set[str]) -> set[Request]:
    del secrets  # mounted as files: none is readable through the API
    own = {Request(v, "", "configmaps", NAMESPACE, state_map) for v in ("get", "update")}
    # The small heartbeat object beside the state (merge-patched once per poll).
    heartbeat = state_map.removesuffix("-state") + "-heartbeat"
    return own | {Request(v, "", "configmaps", NAMESPACE, heartbeat) for v in ("get", "patch")}


@pytest.fixture
def cluster(kube_api: KubeApiServer) -> KubeApiServer:
    kube_api.create_namespace(NAMESPACE)
    kube_api.apply_crd(CRD_FILE)
    kube_api.apply_crd(POOL_CRD_FILE)
    return kube_api


# --- (a) + (b): the monitors' own RBAC, live, and the monitor process's requests ----------------


def mount_like_the_kubelet(api: KubeApiServer, name: str, pod_root: Path) -> list[str]:
    """The pod's files under `pod_root` (config, Secret keys) and the CronJob container's
    command line, pointed at them."""
    cronjob = api.get_object("batch/v1", "cronjobs", NAMESPACE, names.workload_name(name))
    config_map = api.get_object("v1", "configmaps", NAMESPACE, names.config_map_name(name))
    assert cronjob is not None
    assert config_map is not None
    config = yaml.safe_load(config_map["data"]["notify.yaml"])
    assert config["state_backend"] == "configmap"
    assert config["state_configmap"]["name"] == names.state_map_name(name)
    assert config["metrics_port"] is None  # a CronJob pod is never scraped
    moves = {names.SECRETS_DIR: pod_root / "secrets", names.TMP_DIR: pod_root / "tmp"}
    for key in ("drive_token_path", "gmail_token_path", "state_file", "daemon_dir"):
        for mount, local in moves.items():
            if config[key].startswith(mount + "/"):
                config[key] = str(local) + config[key][len(mount) :]
                break
    secret = api.get_object("v1", "secrets", NAMESPACE, f"{name}-token")
    assert secret is not None
    for purpose in ("drive", "gmail"):
        folder = pod_root / "secrets" / purpose
        folder.mkdir(parents=True)
        (folder / "token.json").write_bytes(base64.b64decode(secret["data"]["token.json"]))
    (pod_root / "tmp").mkdir()
    path = pod_root / "etc" / "notify.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(config))
    container = pod_template_of(cronjob)["spec"]["containers"][0]
    command = [*container["command"], *container["args"]]
    assert command[-1] == "--once"
    config_at = command.index("--config") + 1
    command[config_at] = str(path)
    command[0] = str(BIN / command[0])
    return command


def test_each_monitor_pod_reaches_only_its_own_objects(
    cluster: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    api = cluster
    sandbox = Sandbox()
    for user in (DO, DS):
        sandbox.add_user(user)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        api.put_object(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "alice-token", "namespace": NAMESPACE},
                "data": {"token.json": base64.b64encode(tokens[DO].read_bytes()).decode()},
            }
        )
        api.put_object(token_secret("bob-token"))
        api.put_object(token_secret("unrelated"))
        api.put_object(monitor("alice", doEmail=DO, googleApiRoot=server.url, mode="CronJob"))
        api.put_object(monitor("bob", services=["notify", "approve"]))
        # The cluster admin allows the sandbox as an API root (the tenant boundary refuses it
        # otherwise).
        env = {"SYFT_OPERATOR_ALLOWED_API_ROOTS": server.url}
        operator = start_operator(api, kubeconfig, tmp_path / "operator.log", env=env)
        try:
            eventually(
                lambda: ready(api, "alice") and ready_in_store(api, "bob"), what="both Ready"
            )
        finally:
            stop_operator(operator)
            sys.stderr.write((tmp_path / "operator.log").read_text(errors="replace")[-4000:])

        # (a) What the operator created, judged by the authorizer's rules.
        objects = namespace_objects(api)
        alice = ServiceAccount(NAMESPACE, "alice-monitor")
        bob = ServiceAccount(NAMESPACE, "bob-monitor")
        every = universe([o["metadata"]["name"] for o in objects], (NAMESPACE, "other", None))
        assert allowed(objects, alice, every) == own_permissions("alice-state", {"alice-token"})
        assert allowed(objects, bob, every) == own_permissions("bob-state", {"bob-token"})
        for role in [o for o in objects if o["kind"] == "Role"]:
            assert wildcard_problems(role["rules"]) == []
            assert secret_reads_beyond_get(role["rules"]) == []

        # (b) The monitor's real process, as the CronJob would start it; the operator is
        # stopped and the test reads the store directly, so every request logged is the pod's.
        command = mount_like_the_kubelet(api, "alice", tmp_path / "pod")
        env = {
            **os.environ,
            "KUBECONFIG": str(api.write_kubeconfig(tmp_path / "pod-kubeconfig", NAMESPACE)),
            "HOME": str(tmp_path / "pod" / "tmp"),
        }
        env.pop("SYFT_GOOGLE_API_ROOT", None)
        api.clear_requests()
        logs = []
        for run in ("baseline", "job"):
            if run == "job":
                submit_job(server.url, DO, tokens[DO], DS, tokens[DS])
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=60, check=False
            )
            logs.append(done.stderr + done.stdout)
            assert done.returncode == 0, f"{run} poll failed:\n{logs[-1][-4000:]}"
        sent = [m for m in sandbox.sent_mail(DO) if JOB_NAME in str(m.message["Subject"])]
        assert sent, "the monitor sent no job email: it did not really run\n" + logs[-1][-3000:]

    made = resource_requests(api.requests)
    seen = {(r.verb, r.resource, r.name) for r in made}
    # It read and wrote its state, or this test would prove nothing.
    assert {("get", "configmaps", "alice-state"), ("update", "configmaps", "alice-state")} <= seen
    denied = [request_of(r) for r in made if not can(objects, alice, request_of(r))]
    assert denied == []
    borrowed = [request_of(r) for r in made if can(objects, bob, request_of(r))]
    assert borrowed == [], "bob's Role would allow alice's requests"


# --- (c) + (d): every rule of the operator's ClusterRole is used, in both scopes -----------------


def operator_install(clusterwide: bool) -> list[dict[str, Any]]:
    """The operator's ServiceAccount and RBAC objects for a scope: the shipped deploy/operator.yaml
    cluster-wide; a namespaced install's ClusterRole and per-namespace Role otherwise."""
    if clusterwide:
        return [d for d in yaml.safe_load_all(OPERATOR_YAML.read_text()) if d]
    account = {"kind": "ServiceAccount", "name": "syft-operator", "namespace": "syft-operator"}

    def rules(chosen: tuple[rbac.Rule, ...]) -> list[dict[str, Any]]:
        return [rule.as_manifest() for rule in chosen]

    ref = {"apiGroup": RBAC_GROUP, "name": "syft-operator"}
    return [
        {
            "kind": "ClusterRole",
            "metadata": {"name": "syft-operator"},
            "rules": rules(rbac.cluster_role_rules(clusterwide=False)),
        },
        {
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "syft-operator"},
            "roleRef": {**ref, "kind": "ClusterRole"},
            "subjects": [account],
        },
        {
            "kind": "Role",
            "metadata": {"name": "syft-operator", "namespace": NAMESPACE},
            "rules": rules(rbac.OPERATOR_RULES),
        },
        {
            "kind": "RoleBinding",
            "metadata": {"name": "syft-operator", "namespace": NAMESPACE},
            "roleRef": {**ref, "kind": "Role"},
            "subjects": [account],
        },
    ]


def operator_account(install: list[dict[str, Any]]) -> ServiceAccount:
    binding = next(d for d in install if d["kind"] == "ClusterRoleBinding")
    subject = binding["subjects"][0]
    return ServiceAccount(subject["namespace"], subject["name"])


def wait(probe: Callable[[], object], what: str) -> None:
    eventually(lambda: bool(probe()), what=what)


def child(api: KubeApiServer, group_version: str, resource: str, name: str) -> Any:
    return api.get_object(group_version, resource, NAMESPACE, name)


def workload_hash(workload: dict[str, Any] | None) -> str | None:
    if workload is None:
        return None
    annotations = pod_template_of(workload)["metadata"].get("annotations") or {}
    return annotations.get(names.CONFIG_HASH_ANNOTATION)


def rendered_hash(api: KubeApiServer, name: str) -> str:
    body = stored_monitor(api, name)
    assert body is not None
    spec = SyftMonitorSpec.model_validate(body["spec"])
    return config_hash(render(name, NAMESPACE, spec, OPTIONS).config_map)


def run_lifecycle(api: KubeApiServer) -> None:
    """Everything a SyftMonitor goes through; objects are written straight into the store, so
    the request log holds only the operator's requests."""
    deployment = ("apps/v1", "deployments", "alice-monitor")
    cronjob = ("batch/v1", "cronjobs", "alice-monitor")
    # A state ConfigMap from before (a migration, labelled for this instance): adopted, its
    # data kept.
    api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "alice-state",
                "namespace": NAMESPACE,
                "labels": {names.LABEL_MANAGED_BY: names.MANAGER, names.LABEL_INSTANCE: "alice"},
            },
            "data": {"state.json": '{"version": 1}'},
        }
    )
    api.put_object(monitor("alice"))  # its Secret is missing: condition, Event, retries
    wait(lambda: ready(api, "alice", "False", "SecretNotFound"), "SecretNotFound")
    wait(lambda: api.list_objects("v1", "events", NAMESPACE), "a Warning Event")
    api.put_object(token_secret("alice-token"))
    wait(lambda: ready_in_store(api, "alice"), "Ready")
    wait(lambda: child(api, *deployment), "the Deployment")

    edit_spec(api, "alice", emailFormat="text", intervals={"notify": 60})
    wait(
        lambda: workload_hash(child(api, *deployment)) == rendered_hash(api, "alice"),
        "the Deployment rolled to the new config",
    )
    # Drift: someone edits the children; the operator puts back what it renders.
    for group_version, resource in (
        ("v1", "serviceaccounts"),
        (RBAC_V1, "roles"),
        (RBAC_V1, "rolebindings"),
    ):
        obj = child(api, group_version, resource, "alice-monitor")
        obj["metadata"]["annotations"].pop(names.APPLIED_HASH_ANNOTATION)
        obj["metadata"]["labels"]["tampered"] = "yes"
        api.put_object(obj)
    for group_version, resource in (
        ("v1", "serviceaccounts"),
        (RBAC_V1, "roles"),
        (RBAC_V1, "rolebindings"),
    ):
        wait(
            lambda gv=group_version, r=resource: (
                names.APPLIED_HASH_ANNOTATION
                in child(api, gv, r, "alice-monitor")["metadata"].get("annotations", {})
            ),
            f"{resource} repaired",
        )

    edit_spec(api, "alice", suspend=True)
    wait(
        lambda: (child(api, *deployment) or {}).get("spec", {}).get("replicas") == 0, "scaled to 0"
    )
    edit_spec(api, "alice", mode="CronJob")
    wait(lambda: child(api, *cronjob) and not child(api, *deployment), "switched to a CronJob")
    assert hardening_problems(pod_template_of(child(api, *cronjob))["spec"], "CronJob") == []
    edit_spec(api, "alice", suspend=False)
    wait(lambda: child(api, *cronjob)["spec"]["suspend"] is False, "the CronJob resumed")
    edit_spec(api, "alice", mode="Deployment")
    wait(lambda: child(api, *deployment) and not child(api, *cronjob), "back to a Deployment")
    assert hardening_problems(pod_template_of(child(api, *deployment))["spec"], "Deployment") == []
    state = child(api, "v1", "configmaps", "alice-state")
    assert state["data"] == {"state.json": '{"version": 1}'}

    # Pools: bob names one that does not exist yet (the pool is read with a GET), then it comes
    # with two shards and scales down to one (the removed shard's children are deleted), and
    # alice joins it (her own Deployment, ServiceAccount, Role and RoleBinding are deleted).
    api.put_object(token_secret("bob-token"))
    api.put_object(monitor("bob", mode="Pooled", pool="p"))
    wait(lambda: ready(api, "bob", "False", "PoolNotFound"), "PoolNotFound")
    api.put_object(pool_object("p", replicas=2))
    wait(lambda: child(api, "apps/v1", "deployments", "p-shard-1"), "shard 1")
    scaled = copy.deepcopy(api.get_object(names.API_VERSION, names.POOL_PLURAL, NAMESPACE, "p"))
    scaled["spec"]["replicas"] = 1
    api.put_object(scaled)
    for group_version, resource in (
        ("v1", "configmaps"),
        ("v1", "serviceaccounts"),
        (RBAC_V1, "roles"),
        (RBAC_V1, "rolebindings"),
        ("apps/v1", "deployments"),
    ):
        wait(
            lambda gv=group_version, r=resource: child(api, gv, r, "p-shard-1") is None,
            f"shard 1's {resource} deleted",
        )
    edit_spec(api, "alice", mode="Pooled", pool="p")
    wait(
        lambda: (
            not child(api, *deployment)
            and not child(api, "v1", "serviceaccounts", "alice-monitor")
            and not child(api, RBAC_V1, "roles", "alice-monitor")
            and not child(api, RBAC_V1, "rolebindings", "alice-monitor")
        ),
        "alice's own workload removed",
    )
    wait(
        lambda: any(
            c["type"] == "Assigned" and c["status"] == "True"
            for c in (stored_monitor(api, "alice") or {}).get("status", {}).get("conditions", [])
        ),
        "alice assigned to the pool",
    )

    assert api.delete_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
    wait(lambda: stored_monitor(api, "alice") is None, "the SyftMonitor deleted")
    wait(lambda: child(api, *deployment) is None, "its children collected")


@pytest.mark.parametrize("clusterwide", [True, False], ids=["all-namespaces", "namespaced"])
def test_every_granted_verb_is_used_or_explained(
    cluster: KubeApiServer, kubeconfig: Path, tmp_path: Path, clusterwide: bool
) -> None:
    api = cluster
    scope = ("--all-namespaces",) if clusterwide else ("--namespace", NAMESPACE)
    process = start_operator(api, kubeconfig, tmp_path / "operator.log", scope=scope)
    try:
        run_lifecycle(api)
    finally:
        stop_operator(process)
        sys.stderr.write((tmp_path / "operator.log").read_text(errors="replace")[-6000:])

    install = operator_install(clusterwide)
    account = operator_account(install)
    made = resource_requests(api.requests)
    denied = {request_of(r) for r in made if not can(install, account, request_of(r))}
    assert denied == set(), "requests the installed RBAC would refuse"

    used = {(r.verb, r.group or "", request_of(r).resource) for r in made}
    explained = {
        (verb, group, resource)
        for rule in rbac.operator_rules()
        if rule.unobservable
        for verb in rule.verbs
        for group in rule.api_groups
        for resource in rule.resources
    }
    for role in (d for d in install if d["kind"] in ("ClusterRole", "Role")):
        unused = pairs(role["rules"]) - used - explained
        assert unused == set(), f"{role['kind']} grants what the operator never used: {unused}"
    # An explanation is for what a request cannot show; a used rule needs none.
    assert explained.isdisjoint(used), explained & used


# --- (a) for the chart -------------------------------------------------------------------------


def chart_manifests(helm: Helm, values: Path | None) -> list[dict[str, Any]]:
    args = ["template", "syft", str(CHART), "--namespace", "syft-system"]
    if values is not None:
        args += ["--values", str(values)]
    return [doc for doc in yaml.safe_load_all(helm(*args).stdout) if doc]


@pytest.mark.skipif(not (CHART / "Chart.yaml").exists(), reason="no chart in this tree")
@pytest.mark.parametrize(
    ("values", "clusterwide"),
    [
        (CHART / "ci" / "cluster-scope-values.yaml", True),
        (CHART / "ci" / "namespaced-values.yaml", False),
        (None, False),
    ],
    ids=["cluster-scope", "namespaced-scope", "default-values"],
)
def test_chart_rbac_grants_no_more_than_the_operator_uses(
    helm: Helm, values: Path | None, clusterwide: bool
) -> None:
    manifests = chart_manifests(helm, values)
    binding = next(m for m in manifests if m["kind"] == "ClusterRoleBinding")
    subject = binding["subjects"][0]
    account = ServiceAccount(subject["namespace"], subject["name"])
    held: list[Manifest] = [rule for _scope, rule in grants(manifests, account)]
    assert held, "the chart binds the operator's account to nothing"
    assert wildcard_problems(held) == []
    # The operator caches the Secrets its SyftMonitors name from a watch: it reads, never writes.
    assert secret_changes(held) == []
    # Sound to compare by (verb, group, resource): the operator's rules name no objects.
    assert not any(rule.resource_names for rule in rbac.operator_rules())
    # The operator's ClusterRole: the one its binding names (the others aggregate SyftMonitor
    # permissions into the built-in admin/edit/view roles, for people, not for the operator).
    cluster_role = next(
        m
        for m in manifests
        if m["kind"] == "ClusterRole" and m["metadata"]["name"] == binding["roleRef"]["name"]
    )
    extra = pairs(cluster_role["rules"]) - pairs(
        [rule.as_manifest() for rule in rbac.cluster_role_rules(clusterwide=clusterwide)]
    )
    assert extra == set(), f"the chart's ClusterRole grants more than the operator uses: {extra}"
    for role in (m for m in manifests if m["kind"] == "Role"):
        extra = pairs(role["rules"]) - pairs([rule.as_manifest() for rule in rbac.OPERATOR_RULES])
        assert extra == set(), f"Role in {role['metadata']['namespace']} grants {extra}"
    workloads = [m for m in manifests if m["kind"] in ("Deployment", "CronJob")]
    assert workloads
    for workload in workloads:
        pod = pod_template_of(workload)["spec"]
        assert hardening_problems(pod, workload["metadata"]["name"]) == []
