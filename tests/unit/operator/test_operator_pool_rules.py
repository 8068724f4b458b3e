"""Pools without a server: rendezvous hashing, the shard children, the CRD, the mode rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from syft_operator import names
from syft_operator.config import OperatorConfig
from syft_operator.crd import SyftMonitorSpec
from syft_operator.pool import PoolState, assigned_names, members_of
from syft_operator.pool_crd import SyftMonitorPoolSpec, build_pool_crd, render_pool_crd_yaml
from syft_operator.pool_render import Member, render_shard
from syft_operator.render import RenderOptions
from syft_operator.rendezvous import assign, shard_of
from tests.unit.reliability.pod_security import hardening_problems, pod_template_of

ROOT = Path(__file__).resolve().parents[3]
POOL_CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitorpools.syft.openmined.org.yaml"
MONITORS = [f"owner-{i:04d}" for i in range(1000)]
OPTIONS = RenderOptions(default_image="syft-monitor:test")


def spec(name: str, **overrides: Any) -> SyftMonitorSpec:
    raw: dict[str, Any] = {
        "doEmail": f"{name}@hospital.example.org",
        "driveTokenSecretRef": {"name": f"{name}-drive", "key": "token.json"},
        "gmailTokenSecretRef": {"name": f"{name}-gmail", "key": "gmail.json"},
        "mode": "Pooled",
        "pool": "p",
    }
    raw.update(overrides)
    return SyftMonitorSpec.model_validate(raw)


# --- rendezvous hashing --------------------------------------------------------------------------


def test_assignment_is_deterministic_and_spread() -> None:
    first, again = assign(MONITORS, 4), assign(reversed(MONITORS), 4)
    assert first == again
    sizes = [len(members) for members in first.values()]
    assert sum(sizes) == len(MONITORS)
    assert min(sizes) > 200  # about 250 each; a broken hash puts them all in one


@pytest.mark.parametrize("shards", [1, 2, 3, 7])
def test_adding_a_shard_moves_only_the_monitors_it_takes(shards: int) -> None:
    before = {m: shard_of(m, shards) for m in MONITORS}
    after = {m: shard_of(m, shards + 1) for m in MONITORS}
    moved = {m for m in MONITORS if before[m] != after[m]}
    assert moved == {m for m in MONITORS if after[m] == shards}
    assert 0 < len(moved) < 2 * len(MONITORS) / (shards + 1)


@pytest.mark.parametrize("shards", [2, 3, 4, 8])
def test_removing_the_last_shard_moves_only_its_monitors(shards: int) -> None:
    before = {m: shard_of(m, shards) for m in MONITORS}
    after = {m: shard_of(m, shards - 1) for m in MONITORS}
    moved = {m for m in MONITORS if before[m] != after[m]}
    assert moved == {m for m in MONITORS if before[m] == shards - 1}


def test_no_shards_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one shard"):
        shard_of("alice", 0)


# --- shard children ------------------------------------------------------------------------------


def test_shard_role_names_exactly_the_assigned_objects() -> None:
    members = [Member("bob", spec("bob")), Member("alice", spec("alice"))]
    children = render_shard("p", "ns", SyftMonitorPoolSpec(replicas=3), 1, members, OPTIONS)
    rules = children.role["rules"]
    by_resource: dict[tuple[str, ...], list[str]] = {}
    for rule in rules:
        assert rule["resourceNames"], rule  # never empty: empty means every name
        assert "list" not in rule["verbs"]
        assert "watch" not in rule["verbs"]
        by_resource[(rule["resources"][0], *rule["verbs"])] = rule["resourceNames"]
    assert by_resource == {
        ("configmaps", "get"): ["alice-config", "bob-config", "p-shard-1"],
        ("secrets", "get"): ["alice-drive", "alice-gmail", "bob-drive", "bob-gmail"],
        ("configmaps", "get", "update", "patch"): [
            "alice-heartbeat",
            "alice-state",
            "bob-heartbeat",
            "bob-state",
        ],
    }
    assert children.role_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "p-shard-1", "namespace": "ns"}
    ]


def test_an_empty_shard_may_read_only_its_assignment() -> None:
    children = render_shard("p", "ns", SyftMonitorPoolSpec(), 0, [], OPTIONS)
    assert children.role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get"],
            "resourceNames": ["p-shard-0"],
        }
    ]


def test_assignment_document_is_sorted_and_stable() -> None:
    smtp = spec(
        "carol",
        sender={
            "type": "smtp",
            "smtp": {
                "host": "relay.example.org",
                "credentialsSecretRef": {"name": "relay", "key": "password"},
            },
        },
    )
    members = [Member("carol", smtp), Member("alice", spec("alice"))]
    rendered = [
        render_shard("p", "ns", SyftMonitorPoolSpec(replicas=2), 0, order, OPTIONS)
        for order in (members, list(reversed(members)))
    ]
    texts = [r.config_map["data"]["assignment.json"] for r in rendered]
    assert texts[0] == texts[1]
    document = json.loads(texts[0])
    assert document == {
        "version": 1,
        "pool": "p",
        "shard": 0,
        "shards": 2,
        "monitors": [
            {
                "name": "alice",
                "configMap": "alice-config",
                "configKey": "notify.yaml",
                "tokens": {
                    "drive": {"secret": "alice-drive", "key": "token.json"},
                    "gmail": {"secret": "alice-gmail", "key": "gmail.json"},
                },
            },
            {
                "name": "carol",
                "configMap": "carol-config",
                "configKey": "notify.yaml",
                "tokens": {
                    "drive": {"secret": "carol-drive", "key": "token.json"},
                    "smtp_password": {"secret": "relay", "key": "password"},
                },
            },
        ],
    }
    assert assigned_names(rendered[0].config_map) == ["alice", "carol"]


def test_assignment_is_not_in_the_pod_template() -> None:
    """kubelet refreshes the mounted file: monitors coming and going must not restart the pod."""
    pool_spec = SyftMonitorPoolSpec(replicas=2, pollWorkers=8)
    one = render_shard("p", "ns", pool_spec, 0, [Member("alice", spec("alice"))], OPTIONS)
    other = render_shard("p", "ns", pool_spec, 0, [], OPTIONS)
    assert one.deployment == other.deployment
    args = one.deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--workers") + 1] == "8"


def test_members_are_the_valid_unsuspended_pooled_monitors_of_the_namespace() -> None:
    def body(name: str, namespace: str = "ns", **overrides: Any) -> dict[str, Any]:
        raw = spec(name).model_dump(by_alias=True, exclude_defaults=True)
        raw.update(overrides)
        return {"metadata": {"name": name, "namespace": namespace}, "spec": raw}

    deleting = body("erin")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    bodies = [
        body("alice"),
        body("bob", namespace="other"),
        body("carol", pool="q"),
        body("dave", suspend=True),
        deleting,
        body("frank", googleApiRoot="https://evil.example.org/"),  # refused by the policy
        body("gina", mode="Deployment", pool=None),
        body("hank", doEmail="not an email"),
    ]
    found = members_of(bodies, "ns", "p", OperatorConfig())
    assert [m.name for m in found] == ["alice"]


# --- the CRDs ------------------------------------------------------------------------------------


def test_committed_pool_crd_is_the_generated_one() -> None:
    assert POOL_CRD_FILE.read_text() == render_pool_crd_yaml(), (
        "regenerate: python -m syft_operator.pool_crd >"
        " deploy/crds/syftmonitorpools.syft.openmined.org.yaml"
    )


def test_pool_crd_is_a_valid_kubernetes_object() -> None:
    crd = build_pool_crd()
    kubernetes_validate.validate(crd, "1.34", strict=True)
    assert crd["spec"]["names"]["kind"] == names.POOL_KIND
    assert crd["spec"]["names"]["shortNames"] == ["smp"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "Deployment"}, "pool is required with mode Pooled, and only then"),
        ({"pool": None}, "pool is required with mode Pooled, and only then"),
        ({"schedule": "*/10 * * * *"}, "schedule is for mode CronJob"),
        ({"image": "syft-monitor:other"}, "takes image and resources from its pool"),
        ({"resources": {"limits": {"memory": "1Gi"}}}, "takes image and resources"),
        ({"services": ["notify", "approve"]}, "notify service only"),
        ({"syftboxVolume": "alice-syftbox"}, "notify service only"),
    ],
)
def test_pooled_mode_rules(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec("alice", **overrides)


def test_pool_spec_bounds() -> None:
    assert SyftMonitorPoolSpec().replicas == 1
    for bad in ({"replicas": 0}, {"replicas": 33}, {"pollWorkers": 0}, {"extra": 1}):
        with pytest.raises(ValidationError):
            SyftMonitorPoolSpec.model_validate(bad)


def test_pool_example_passes_both_models() -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy/examples/pool.yaml").read_text()))
    kinds = [doc["kind"] for doc in documents]
    assert kinds == [names.POOL_KIND, names.KIND]
    pool_spec = SyftMonitorPoolSpec.model_validate(documents[0]["spec"])
    member = SyftMonitorSpec.model_validate(documents[1]["spec"])
    assert member.pool == documents[0]["metadata"]["name"]
    assert pool_spec.replicas == 2


# --- what the handlers remember ------------------------------------------------------------------


def _body(uid: str, name: str, generation: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"uid": uid, "name": name, "namespace": "ns", "generation": generation},
        "spec": spec,
    }


def test_pool_state_reconciles_the_pools_a_monitor_leaves_and_joins() -> None:
    state = PoolState()
    assert state.observe_pool(_body("p-uid", "p"))
    assert state.observe_pool(_body("q-uid", "q"))
    assert not state.observe_pool(_body("p-uid", "p"))  # a status write: same generation
    assert state.observe_pool(_body("p-uid", "p", generation=2))
    alice = _body("a-uid", "alice", mode="Pooled", pool="p")
    assert state.monitor_changed(alice, deleted=False) == ["p-uid"]
    assert state.monitor_changed(alice, deleted=False) == []  # its status changed, not its spec
    moved = _body("a-uid", "alice", generation=2, mode="Pooled", pool="q")
    assert sorted(state.monitor_changed(moved, deleted=False)) == ["p-uid", "q-uid"]
    own_pod = _body("a-uid", "alice", generation=3, mode="Deployment")
    assert state.monitor_changed(own_pod, deleted=False) == ["q-uid"]
    assert state.monitor_changed(own_pod, deleted=False) == []
    back = _body("a-uid", "alice", generation=4, mode="Pooled", pool="p")
    assert state.monitor_changed(back, deleted=False) == ["p-uid"]
    assert state.monitor_changed(back, deleted=True) == ["p-uid"]


def test_pool_state_reports_only_members_whose_shard_or_availability_changed() -> None:
    state = PoolState()
    state.observe_pool(_body("p-uid", "p"))
    assert state.record("p-uid", {"alice": (0, False), "bob": (1, False)}, 2) == {"alice", "bob"}
    assert state.record("p-uid", {"alice": (0, False), "bob": (1, False)}, 2) == set()
    assert state.record("p-uid", {"alice": (0, True), "bob": (1, False)}, 2) == {"alice"}
    assert state.record("p-uid", {"alice": (0, True)}, 1) == {"bob"}
    assert state.snapshot() == [(1, 1)]
    assert state.forget_pool("p-uid") == ["alice"]
    assert state.snapshot() == []


def test_shard_pods_are_hardened_like_monitor_pods() -> None:
    children = render_shard("p", "ns", SyftMonitorPoolSpec(), 0, [], OPTIONS)
    assert hardening_problems(pod_template_of(children.deployment)["spec"], "Deployment") == []
    kubernetes_validate.validate(children.deployment, "1.34", strict=True)
    for manifest in (children.config_map, children.role, children.role_binding):
        kubernetes_validate.validate(manifest, "1.34", strict=True)
