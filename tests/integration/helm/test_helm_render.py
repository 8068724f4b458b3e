"""`helm template` over every scenario in charts/syft-monitor/ci, checked against the real things:
Kubernetes' own schemas (kubernetes-validate, strict, every declared version), the Prometheus
Operator's CRDs (its generated models, unknown fields included), the CRD and RBAC rules of
syft_operator, the operator's real command line, and the pods the operator renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pydantic
import pytest
import yaml
from chart_support import (
    CHART,
    CRD_FILE,
    NAMESPACE,
    PLAIN_RULES,
    POOL_CRD_FILE,
    RELEASE,
    SCENARIOS,
    ChartRenderer,
    Manifest,
    by_kind,
    generator,
    one,
    pod_specs,
)
from cloudcoil.models.prometheus_operator import v1 as prometheus_operator
from kubernetes_validate.utils import all_versions

from syft_operator import names, rbac
from syft_operator.cli import command
from syft_operator.config import OperatorConfig
from syft_operator.crd import SyftMonitorSpec, build_crd
from syft_operator.pool_crd import SyftMonitorPoolSpec, build_pool_crd
from syft_operator.pool_render import render_shard_deployment
from syft_operator.render import RenderOptions, render

SCENARIO_IDS = [p.stem for p in SCENARIOS]
CI = CHART / "ci"


def declared_versions() -> list[str]:
    """The oldest and the newest Kubernetes minor that Chart.yaml's kubeVersion admits and
    kubernetes-validate knows (the versions between add time, not findings: an API that exists
    in both ends exists in between)."""
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    match = re.fullmatch(r">=\s*(\d+)\.(\d+)\.0-0", constraint)
    assert match, f"update this test for kubeVersion {constraint!r}"
    floor = (int(match[1]), int(match[2]))
    versions = sorted({v for v in all_versions() if tuple(map(int, v.split(".")[:2])) >= floor})
    assert len(versions) >= 2
    return [versions[0], versions[-1]]


KUBE_VERSIONS = declared_versions()
CUSTOM_KINDS = {"SyftMonitor", "SyftMonitorPool", "ServiceMonitor", "PodMonitor", "PrometheusRule"}


# --- every scenario --------------------------------------------------------------------------


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_builtin_kinds_are_valid_for_the_declared_kubernetes_versions(
    chart: ChartRenderer, values: Path
) -> None:
    manifests = chart.template(values)
    assert manifests
    problems = []
    for manifest in manifests:
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(
                    f"{version} {manifest['kind']}/{manifest['metadata']['name']}: {error}"
                )
    assert not problems, "\n".join(problems)


PROMETHEUS_OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def unknown_fields(sent: Any, kept: Any, path: str = "") -> list[str]:
    """Paths in `sent` that a model dropped: the generated models ignore unknown fields."""
    if isinstance(sent, dict):
        if not isinstance(kept, dict):
            return [path or "/"]
        return [
            problem
            for key, value in sent.items()
            for problem in (
                [f"{path}/{key}"]
                if key not in kept
                else unknown_fields(value, kept[key], f"{path}/{key}")
            )
        ]
    if isinstance(sent, list) and isinstance(kept, list):
        return [
            problem
            for index, (a, b) in enumerate(zip(sent, kept, strict=True))
            for problem in unknown_fields(a, b, f"{path}/{index}")
        ]
    return []


def prometheus_operator_problems(manifest: Manifest) -> list[str]:
    """What the Prometheus Operator's CRD schema would refuse in `manifest` (types, enums,
    required fields) or silently prune (unknown fields)."""
    model = getattr(prometheus_operator, manifest["kind"])
    name = f"{manifest['kind']}/{manifest['metadata']['name']}"
    try:
        parsed = model.model_validate(manifest)
    except pydantic.ValidationError as error:
        return [f"{name}: {error}"]
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [f"{name}: unknown field {path}" for path in unknown_fields(manifest, kept)]


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_prometheus_operator_kinds_are_valid_for_their_crds(
    chart: ChartRenderer, values: Path
) -> None:
    manifests = [m for m in chart.template(values) if m["kind"] in PROMETHEUS_OPERATOR_KINDS]
    problems = [problem for m in manifests for problem in prometheus_operator_problems(m)]
    assert not problems, "\n".join(problems)


def test_prometheus_operator_check_catches_typos_and_bad_values(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "observability-values.yaml")
    assert {m["kind"] for m in manifests} >= PROMETHEUS_OPERATOR_KINDS
    pod_monitor = pod_monitor_named(manifests, "monitors")
    endpoint = pod_monitor["spec"]["podMetricsEndpoints"][0]
    endpoint["relabellings"] = endpoint.pop("relabelings", [])
    (problem,) = prometheus_operator_problems(pod_monitor)
    assert problem.endswith("unknown field /spec/podMetricsEndpoints/0/relabellings")
    endpoint["scheme"] = "htp"
    assert "Input should be 'http' or 'https'" in prometheus_operator_problems(pod_monitor)[0]
    rule = one(manifests, "PrometheusRule")
    del rule["spec"]["groups"][0]["name"]
    assert "Field required" in prometheus_operator_problems(rule)[0]


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_every_rendered_pod_is_hardened(chart: ChartRenderer, values: Path) -> None:
    for where, pod in pod_specs(chart.template(values)):
        assert_hardened(where, pod)


def assert_hardened(where: str, pod: Manifest) -> None:
    pod_context = pod.get("securityContext") or {}
    assert pod_context.get("runAsNonRoot") is True, where
    assert pod_context.get("seccompProfile") == {"type": "RuntimeDefault"}, where
    for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(host_namespace), where
    for container in pod.get("initContainers", []) + pod["containers"]:
        context = container.get("securityContext") or {}
        name = f"{where} container {container['name']}"
        assert context.get("allowPrivilegeEscalation") is False, name
        assert context.get("readOnlyRootFilesystem") is True, name
        assert context.get("privileged", False) is False, name
        assert context.get("capabilities", {}).get("drop") == ["ALL"], name
        assert not context.get("capabilities", {}).get("add"), name
        assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True, name
        assert context.get("runAsUser", pod_context.get("runAsUser")) != 0, name


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_labels_and_selectors(chart: ChartRenderer, values: Path) -> None:
    for manifest in chart.template(values):
        labels = manifest["metadata"].get("labels") or {}
        where = f"{manifest['kind']}/{manifest['metadata']['name']}"
        for key in ("name", "instance", "version", "part-of", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels, where
        assert labels["app.kubernetes.io/managed-by"] == "Helm", where
        assert labels["helm.sh/chart"] == "syft-monitor-0.1.0", where
        selector = (manifest.get("spec") or {}).get("selector") or {}
        selector = selector.get("matchLabels", selector)
        # Selectors are immutable: nothing that changes with a release may be in them.
        assert "helm.sh/chart" not in selector, where
        assert "app.kubernetes.io/version" not in selector, where


# --- the CRD ---------------------------------------------------------------------------------


def _crd(manifests: list[Manifest], name: str) -> Manifest:
    crds = by_kind(manifests, "CustomResourceDefinition")
    found = [m for m in crds if m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one CRD {name}, rendered {len(found)}"
    return found[0]


@pytest.mark.parametrize(
    ("build", "shipped_file"),
    [(build_crd, CRD_FILE), (build_pool_crd, POOL_CRD_FILE)],
    ids=["syftmonitors", "syftmonitorpools"],
)
def test_crd_is_the_operators_crd(
    chart: ChartRenderer, build: Callable[[], Manifest], shipped_file: Path
) -> None:
    expected = build()
    rendered = _crd(chart.template(), expected["metadata"]["name"])
    assert rendered["spec"] == expected["spec"]
    for key, value in expected["metadata"]["labels"].items():
        assert rendered["metadata"]["labels"][key] == value
    # ... and the same as the committed manifest for users without Helm.
    shipped = next(doc for doc in yaml.safe_load_all(shipped_file.read_text()) if doc)
    assert rendered["spec"] == shipped["spec"]


def test_crds_are_kept_on_uninstall_by_default_and_can_be_left_out(chart: ChartRenderer) -> None:
    crds = by_kind(chart.template(), "CustomResourceDefinition")
    assert sorted(c["metadata"]["name"] for c in crds) == [names.POOL_CRD_NAME, names.CRD_NAME]
    for crd in crds:
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    for loose in by_kind(chart.template(CI / "namespaced-values.yaml"), "CustomResourceDefinition"):
        assert "annotations" not in loose["metadata"]
    assert by_kind(chart.template(CI / "monitors-values.yaml"), "CustomResourceDefinition") == []


def test_generated_files_are_current(chart: ChartRenderer) -> None:
    stale = [
        str(path.relative_to(CHART.parent.parent))
        for path, text in generator().render_all(chart.helm).items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"run charts/syft-monitor/hack/generate.py; stale: {stale}"


# --- RBAC ------------------------------------------------------------------------------------


def _rules(rules: tuple[rbac.Rule, ...]) -> list[dict[str, Any]]:
    return [rule.as_manifest() for rule in rules]


def operator_cluster_role(manifests: list[Manifest]) -> Manifest:
    """The ClusterRole bound to the operator (the others aggregate into admin/edit/view)."""
    bound = one(manifests, "ClusterRoleBinding")["roleRef"]["name"]
    (role,) = [r for r in by_kind(manifests, "ClusterRole") if r["metadata"]["name"] == bound]
    return role


def test_cluster_scope_rbac_is_exactly_the_operators_rules(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "cluster-scope-values.yaml")
    role = operator_cluster_role(manifests)
    assert role["rules"] == _rules(rbac.operator_rules())
    assert by_kind(manifests, "Role") == []
    binding = one(manifests, "ClusterRoleBinding")
    account = one(manifests, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]


def test_namespaced_scope_binds_the_operator_rules_per_namespace(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "namespaced-values.yaml")
    assert operator_cluster_role(manifests)["rules"] == _rules(rbac.FRAMEWORK_CLUSTER_RULES)
    roles = {r["metadata"]["namespace"]: r for r in by_kind(manifests, "Role")}
    assert set(roles) == {"team-a", "team-b"}
    for role in roles.values():
        assert role["rules"] == _rules(rbac.OPERATOR_RULES)
    bindings = {b["metadata"]["namespace"]: b for b in by_kind(manifests, "RoleBinding")}
    assert set(bindings) == {"team-a", "team-b"}
    for namespace, binding in bindings.items():
        assert binding["roleRef"]["name"] == roles[namespace]["metadata"]["name"]
        assert binding["subjects"][0]["namespace"] == NAMESPACE


def test_every_rbac_rule_is_commented_with_its_reason(chart: ChartRenderer) -> None:
    text = chart.template_text()
    for rule in rbac.operator_rules():
        assert f"# {rule.why}\n" in text, rule.why


def test_namespaced_scope_is_the_default_and_serves_the_release_namespace(
    chart: ChartRenderer,
) -> None:
    manifests = chart.template()
    assert [r["metadata"]["namespace"] for r in by_kind(manifests, "Role")] == [NAMESPACE]
    args = _operator_container(manifests)["args"]
    assert f"--namespace={NAMESPACE}" in args


# --- the operator Deployment -----------------------------------------------------------------


def _operator_container(manifests: list[Manifest]) -> Manifest:
    deployment = one(manifests, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_operator_command_line_is_accepted_by_the_real_cli(
    chart: ChartRenderer, values: Path
) -> None:
    manifests = chart.template(values)
    if not by_kind(manifests, "Deployment"):
        return  # operator.enabled=false
    container = _operator_container(manifests)
    assert container["command"] == ["syft-operator"]
    params = command.make_context("syft-operator", list(container["args"])).params
    assert params["standalone"] is True
    assert params["all_namespaces"] != bool(params["namespaces"])
    env = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    config = OperatorConfig.from_env(env)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert params["metrics_port"] == ports["metrics"]
    assert params["liveness"] == f"http://0.0.0.0:{ports['health']}/healthz"
    probe = container["livenessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/healthz", "health")
    assert config.monitor_image


def test_operator_deployment_defaults(chart: ChartRenderer) -> None:
    manifests = chart.template()
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = _operator_container(manifests)
    assert container["image"] == "syft-monitor:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["resources"] == {}
    # Namespaced by default (cluster scope is an opt-in), nothing allowed beyond the defaults.
    assert "--all-namespaces" not in container["args"]
    assert f"--namespace={NAMESPACE}" in container["args"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["SYFT_OPERATOR_MONITOR_IMAGE"] == "syft-monitor:0.1.0"
    config = OperatorConfig.from_env(env)
    assert (config.allowed_images, config.allowed_api_roots, config.allowed_smtp_hosts) == (
        (),
        (),
        (),
    )
    assert "readinessProbe" not in container


def test_tenancy_allow_lists_reach_the_operator(chart: ChartRenderer) -> None:
    sets = [
        "tenancy.allowedImages={registry.example.org/syft/,sha256:" + "a" * 64 + "}",
        "tenancy.allowedApiRoots={https://proxy.example.org/}",
    ]
    env = {
        item["name"]: item["value"]
        for item in _operator_container(chart.template(sets=sets))["env"]
    }
    config = OperatorConfig.from_env(env)
    assert config.allowed_images == ("registry.example.org/syft/", "sha256:" + "a" * 64)
    assert config.allowed_api_roots == ("https://proxy.example.org/",)


def test_syftmonitors_aggregate_into_the_builtin_roles(chart: ChartRenderer) -> None:
    roles = {r["metadata"]["name"]: r for r in by_kind(chart.template(), "ClusterRole")}
    edit = next(r for name, r in roles.items() if name.endswith("-edit"))
    view = next(r for name, r in roles.items() if name.endswith("-view"))
    labels = edit["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert labels["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert "create" in edit["rules"][0]["verbs"]
    assert set(view["rules"][0]["verbs"]) == {"get", "list", "watch"}
    # Neither reaches anything but SyftMonitors (no Secrets through the back door).
    for role in (edit, view):
        assert {g for rule in role["rules"] for g in rule["apiGroups"]} == {names.GROUP}
    off = chart.template(sets=["rbac.aggregateToDefaultRoles=false"])
    assert len(by_kind(off, "ClusterRole")) == 1


def test_overrides_reach_the_objects(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "overrides-values.yaml")
    deployment = one(manifests, "Deployment")
    assert deployment["metadata"]["name"] == "syft-operator"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "syft-operator-prebuilt"
    assert by_kind(manifests, "ServiceAccount") == []
    assert "runAsUser" not in pod["securityContext"]
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["tolerations"][0]["key"] == "dedicated"
    container = pod["containers"][0]
    assert container["image"] == "registry.example.org/syft/syft-monitor:0.1.0-rc1"
    env = {item["name"]: item["value"] for item in container["env"]}
    assert (
        env["SYFT_OPERATOR_MONITOR_IMAGE"]
        == "registry.example.org/syft/syft-monitor-slim:0.1.0-rc1"
    )
    assert env["SYFT_OPERATOR_STATUS_INTERVAL"] == "0"
    assert container["args"][-1] == "--verbose"
    assert container["resources"]["limits"] == {"memory": "256Mi"}
    service = one(manifests, "Service")
    assert service["spec"]["ports"][0]["port"] == 8443


def test_metrics_service_selects_the_operator_and_never_a_monitor_pod(chart: ChartRenderer) -> None:
    manifests = chart.template()
    service = one(manifests, "Service")
    selector = service["spec"]["selector"]
    operator_labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= operator_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    # A SyftMonitor named like the release gets pods labelled instance=<release>.
    monitor_pod = _monitor_pod_template(RELEASE, ("notify",))
    assert not selector.items() <= monitor_pod["metadata"]["labels"].items()
    deployment_selector = one(manifests, "Deployment")["spec"]["selector"]["matchLabels"]
    assert not deployment_selector.items() <= monitor_pod["metadata"]["labels"].items()


# --- monitors from values --------------------------------------------------------------------


def test_syftmonitors_from_values_are_valid_for_the_crd(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "monitors-values.yaml")
    monitors = by_kind(manifests, "SyftMonitor")
    assert [(m["metadata"]["namespace"], m["metadata"]["name"]) for m in monitors] == [
        (NAMESPACE, "alice"),
        ("team-b", "bob"),
        (NAMESPACE, "carol"),
    ]
    version = build_crd()["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    for monitor in monitors:
        assert monitor["apiVersion"] == f"{names.GROUP}/{version['name']}"
        jsonschema.validate(monitor, schema)
        # The rules a JSON schema cannot say (CEL on a real API server) hold as well.
        SyftMonitorSpec.model_validate(monitor["spec"])
    bob = monitors[1]
    assert bob["metadata"]["labels"]["team"] == "oncology"
    assert bob["metadata"]["annotations"] == {"example.org/owner": "bob"}
    (pool,) = by_kind(manifests, names.POOL_KIND)
    assert (pool["metadata"]["namespace"], pool["metadata"]["name"]) == (NAMESPACE, "shared")
    pool_version = build_pool_crd()["spec"]["versions"][0]
    jsonschema.validate(pool, pool_version["schema"]["openAPIV3Schema"])
    SyftMonitorPoolSpec.model_validate(pool["spec"])
    assert monitors[2]["spec"]["pool"] == pool["metadata"]["name"]


def test_crd_schema_rejects_what_values_schema_rejects() -> None:
    """The values schema's monitor spec is the CRD's, so helm lint and the API agree."""
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    bad = {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "metadata": {"name": "alice"},
        "spec": {"doEmail": "not-an-email", "driveTokenSecretRef": {"name": "a", "key": "k"}},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


# --- Prometheus and Grafana ------------------------------------------------------------------


def _monitor_pod_template(name: str, services: tuple[str, ...]) -> Manifest:
    spec = SyftMonitorSpec.model_validate(
        {
            "doEmail": "alice@hospital.example.org",
            "services": list(services),
            "driveTokenSecretRef": {"name": "t", "key": "token.json"},
            "gmailTokenSecretRef": {"name": "t", "key": "token.json"},
        }
    )
    children = render(name, "team-a", spec, RenderOptions(default_image="syft-monitor:test"))
    return children.workload["spec"]["template"]  # type: ignore[no-any-return]


def test_pod_monitor_finds_the_pods_the_operator_renders(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "observability-values.yaml", sets=["operator.scope=cluster"])
    pod_monitor = pod_monitor_named(manifests, "monitors")
    assert pod_monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    template = _monitor_pod_template("alice", ("notify", "approve"))
    selector = pod_monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()
    ports = {port["name"] for c in template["spec"]["containers"] for port in c.get("ports", [])}
    endpoints = pod_monitor["spec"]["podMetricsEndpoints"]
    assert {e["port"] for e in endpoints} == ports
    for endpoint in endpoints:
        assert endpoint["path"] == "/metrics"
        assert endpoint["interval"] == "30s"
        relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
        assert relabel["job"]["replacement"] == "syft-monitor"
        assert relabel["syftmonitor"]["sourceLabels"] == [
            "__meta_kubernetes_pod_label_app_kubernetes_io_instance"
        ]
    assert pod_monitor["spec"]["namespaceSelector"] == {"any": True}
    namespaced = pod_monitor_named(
        chart.template(CI / "namespaced-values.yaml", sets=["podMonitor.enabled=true"]),
        "monitors",
    )
    assert namespaced["spec"]["namespaceSelector"] == {"matchNames": ["team-a", "team-b"]}


def pod_monitor_named(manifests: list[Manifest], suffix: str) -> Manifest:
    found = [m for m in by_kind(manifests, "PodMonitor") if m["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"expected one PodMonitor *-{suffix}, rendered {len(found)}"
    return found[0]


def test_pool_pod_monitor_finds_the_shard_pods_the_operator_renders(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "observability-values.yaml", sets=["operator.scope=cluster"])
    pod_monitor = pod_monitor_named(manifests, "pools")
    assert pod_monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    shard = render_shard_deployment(
        "campus", "team-a", SyftMonitorPoolSpec(), 0, RenderOptions(default_image="x:1")
    )
    template = shard["spec"]["template"]
    selector = pod_monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()
    # Not the single-owner monitors' pods (they have their own PodMonitor), nor the reverse.
    monitors = pod_monitor_named(manifests, "monitors")["spec"]["selector"]["matchLabels"]
    assert not monitors.items() <= template["metadata"]["labels"].items()
    single = _monitor_pod_template("alice", ("notify",))
    assert not selector.items() <= single["metadata"]["labels"].items()
    ports = {port["name"] for c in template["spec"]["containers"] for port in c.get("ports", [])}
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    assert {endpoint["port"]} == ports
    assert (endpoint["path"], endpoint["interval"]) == ("/metrics", "30s")
    relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    assert relabel["job"]["replacement"] == "syft-monitor"
    (per_owner,) = endpoint["metricRelabelings"]
    assert (per_owner["sourceLabels"], per_owner["targetLabel"]) == (["monitor"], "syftmonitor")
    assert pod_monitor["spec"]["namespaceSelector"] == {"any": True}
    assert prometheus_operator_problems(pod_monitor) == []


def test_service_monitor_scrapes_the_metrics_service(chart: ChartRenderer) -> None:
    manifests = chart.template(CI / "observability-values.yaml")
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["relabelings"][0]["replacement"] == "syft-operator"


def test_nothing_for_prometheus_or_grafana_by_default(chart: ChartRenderer) -> None:
    kinds = {m["kind"] for m in chart.template()}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert [c for c in by_kind(chart.template(), "ConfigMap")] == []


def test_plain_rules_file_is_the_default_prometheus_rule(chart: ChartRenderer) -> None:
    rule = one(chart.template(sets=["prometheusRule.enabled=true"]), "PrometheusRule")
    plain = yaml.safe_load(PLAIN_RULES.read_text())
    assert plain == {"groups": rule["spec"]["groups"]}


def test_prometheus_rule_values(chart: ChartRenderer) -> None:
    rule = one(chart.template(CI / "observability-values.yaml"), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert "SyftMonitorTargetsAbsent" not in {a["alert"] for a in alerts}
    for alert in alerts:
        assert alert["labels"]["team"] == "data-platform"
        assert alert["labels"]["severity"] in {"warning", "critical"}
    stale = next(a for a in alerts if a["alert"] == "SyftMonitorNoSuccessfulPoll")
    # 10 of each monitor's intervals, never less than 10 x 60 s.
    assert (
        'clamp_min(10 * syft_monitor_poll_interval_seconds{job="syft-monitor"}, 600)'
        in (stale["expr"])
    )


def test_dashboards_configmaps_carry_the_files(chart: ChartRenderer) -> None:
    maps = by_kind(chart.template(CI / "observability-values.yaml"), "ConfigMap")
    files = sorted((CHART / "files" / "dashboards").glob("*.json"))
    assert len(maps) == len(files) == 2
    for config_map, path in zip(
        sorted(maps, key=lambda m: m["metadata"]["name"]), files, strict=True
    ):
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"] == {"grafana_folder": "Syft"}
        assert config_map["data"] == {path.name: path.read_text().rstrip("\n")}
