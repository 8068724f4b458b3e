"""Least privilege by rule analysis: what each monitor's ServiceAccount may do, exactly.

The RBAC objects are the ones the operator renders (`syft_operator.render`) and ships
(`deploy/operator.yaml`); they are judged with `rbac_model`, an evaluator written from the
Kubernetes authorization rules, never with the operator's own `rbac.permitted`.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from syft_operator import names
from syft_operator.crd import SyftMonitorSpec
from syft_operator.render import Children, RenderOptions, render
from tests.unit.reliability.rbac_model import (
    RBAC_GROUP,
    RESOURCES,
    Request,
    ServiceAccount,
    allowed,
    can,
    grants,
    rules_allow,
    secret_changes,
    secret_reads_beyond_get,
    universe,
    wildcard_problems,
)

ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = "team"
OTHER_NAMESPACE = "elsewhere"
OPTIONS = RenderOptions(default_image="syft-monitor:test")


def spec(name: str, secrets: tuple[str, ...] = (), **extra: Any) -> SyftMonitorSpec:
    drive, gmail, *_ = (*secrets, f"{name}-token", f"{name}-token")
    body: dict[str, Any] = {
        "doEmail": f"{name}@hospital.example.org",
        "driveTokenSecretRef": {"name": drive, "key": "token.json"},
        "gmailTokenSecretRef": {"name": gmail, "key": "token.json"},
    }
    body.update(extra)
    return SyftMonitorSpec.model_validate(body)


def smtp_spec(name: str, drive: str, password: str) -> SyftMonitorSpec:
    return SyftMonitorSpec.model_validate(
        {
            "doEmail": f"{name}@clinic.example.org",
            "services": ["notify", "approve"],
            "mode": "CronJob",
            "sender": {
                "type": "smtp",
                "smtp": {
                    "host": "smtp.clinic.example.org",
                    "port": 587,
                    "tls": "starttls",
                    "username": "monitor",
                    "credentialsSecretRef": {"name": password, "key": "password"},
                },
            },
            "driveTokenSecretRef": {"name": drive, "key": "token.json"},
        }
    )


def objects_of(children: Children) -> list[dict[str, Any]]:
    return [
        children.config_map,
        children.state_map,
        children.service_account,
        children.role,
        children.role_binding,
        children.workload,
    ]


def secret(name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    return {"kind": "Secret", "metadata": {"name": name, "namespace": namespace}}


def every_request(
    objects: list[dict[str, Any]],
    resources: tuple[tuple[str, str], ...] = RESOURCES,
    namespaces: tuple[str | None, ...] = (NAMESPACE, OTHER_NAMESPACE, None),
) -> list[Request]:
    """Every request naming any object there is (or none), in both namespaces and cluster-wide."""
    return universe([o["metadata"]["name"] for o in objects], namespaces, resources)


def allowed_of(
    objects: list[dict[str, Any]], subject: ServiceAccount, requests: list[Request] | None = None
) -> set[Request]:
    return allowed(objects, subject, every_request(objects) if requests is None else requests)


def expected(state_map: str, secrets: set[str]) -> set[Request]:
    # Tokens reach the pod as mounted files: no Secret is readable through the API, not even
    # the monitor's own (`secrets` is kept to say so at each call).
    del secrets
    verbs = ("get", "update")
    return {Request(verb, "", "configmaps", NAMESPACE, state_map) for verb in verbs}


def account(name: str) -> ServiceAccount:
    return ServiceAccount(NAMESPACE, names.workload_name(name))


@dataclasses.dataclass(frozen=True)
class Tenant:
    spec: SyftMonitorSpec
    children: Children

    @property
    def account(self) -> ServiceAccount:
        return ServiceAccount(NAMESPACE, self.children.service_account["metadata"]["name"])

    @property
    def secrets(self) -> set[str]:
        return {ref.name for ref in self.spec.secret_refs().values()}


def two_monitors() -> tuple[list[dict[str, Any]], Tenant, Tenant]:
    alice_spec = spec("alice")
    bob_spec = smtp_spec("bob", "bob-google", "bob-smtp")
    alice = Tenant(alice_spec, render("alice", NAMESPACE, alice_spec, OPTIONS))
    bob = Tenant(bob_spec, render("bob", NAMESPACE, bob_spec, OPTIONS))
    # A namesake in another namespace: same object names, another tenant.
    twin = render("alice", OTHER_NAMESPACE, alice_spec, OPTIONS)
    objects = [*objects_of(alice.children), *objects_of(bob.children), *objects_of(twin)]
    objects += [secret(n) for n in ("alice-token", "bob-google", "bob-smtp", "unrelated")]
    objects.append(secret("alice-token", OTHER_NAMESPACE))
    return objects, alice, bob


def test_each_monitor_may_do_exactly_its_own_state_and_secrets() -> None:
    objects, alice, bob = two_monitors()
    assert alice.secrets == {"alice-token"}
    assert bob.secrets == {"bob-google", "bob-smtp"}
    assert allowed_of(objects, alice.account) == expected("alice-state", alice.secrets)
    assert allowed_of(objects, bob.account) == expected("bob-state", bob.secrets)


def test_neither_monitor_can_touch_the_others_objects() -> None:
    objects, alice, bob = two_monitors()
    plural = {"ConfigMap": "configmaps", "ServiceAccount": "serviceaccounts"}
    for me, other in ((alice, bob), (bob, alice)):
        for obj in objects_of(other.children):
            if obj["kind"] not in plural:
                continue
            for verb in ("get", "update", "patch", "delete"):
                request = Request(verb, "", plural[obj["kind"]], NAMESPACE, obj["metadata"]["name"])
                assert not can(objects, me.account, request), request
        for name in other.secrets:
            assert not can(objects, me.account, Request("get", "", "secrets", NAMESPACE, name))
        for name in me.secrets:
            assert not can(objects, me.account, Request("get", "", "secrets", NAMESPACE, name))


def test_monitor_roles_have_no_wildcards_and_no_secret_listing() -> None:
    _objects, alice, bob = two_monitors()
    for tenant in (alice, bob):
        rules = tenant.children.role["rules"]
        assert wildcard_problems(rules) == []
        assert secret_reads_beyond_get(rules) == []
        assert all(rule.get("resourceNames") for rule in rules), rules
    # The binding binds the monitor's own account, in its own namespace, to its own Role.
    binding = alice.children.role_binding
    assert binding["roleRef"] == {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "alice-monitor"}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "alice-monitor", "namespace": NAMESPACE}
    ]
    assert alice.children.service_account["automountServiceAccountToken"] is False


def test_a_monitor_without_secrets_can_read_none() -> None:
    # A SyftMonitor naming no Secret at all would still get a Role; it must not fall open.
    children = render("carol", NAMESPACE, spec("carol"), OPTIONS)
    rules = [r for r in children.role["rules"] if "secrets" in r["resources"]]
    for rule in rules:
        assert rule["resourceNames"], "a Secret rule without names reads every Secret"


DNS_LABEL = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(
    monitors=st.lists(DNS_LABEL, min_size=2, max_size=3, unique=True),
    secret_names=st.lists(DNS_LABEL, min_size=6, max_size=6, unique=True),
)
def test_isolation_holds_for_any_names(monitors: list[str], secret_names: list[str]) -> None:
    # Names like `a` and `a-state` must not let one monitor's rules cover another's objects.
    rendered = {
        name: render(name, NAMESPACE, spec(name, tuple(secret_names[2 * i : 2 * i + 2])), OPTIONS)
        for i, name in enumerate(monitors)
    }
    objects = [obj for children in rendered.values() for obj in objects_of(children)]
    objects += [secret(n) for n in secret_names]
    # The other kinds are ruled out by the exhaustive tests above; names matter for these.
    requests = every_request(objects, (("", "configmaps"), ("", "secrets")), (NAMESPACE,))
    for i, name in enumerate(monitors):
        own = set(secret_names[2 * i : 2 * i + 2])
        assert allowed_of(objects, account(name), requests) == expected(
            names.state_map_name(name), own
        )


# --- the operator's own RBAC, as shipped ---------------------------------------------------------


def shipped() -> list[dict[str, Any]]:
    text = (ROOT / "deploy" / "operator.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def operator_account(docs: list[dict[str, Any]]) -> ServiceAccount:
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    return ServiceAccount(sa["metadata"]["namespace"], sa["metadata"]["name"])


def test_shipped_operator_rbac_has_no_wildcards_and_never_changes_secrets() -> None:
    docs = shipped()
    rules = [rule for _scope, rule in grants(docs, operator_account(docs))]
    assert rules, "the operator's ServiceAccount is bound to nothing"
    assert wildcard_problems(rules) == []
    # It watches the Secrets its SyftMonitors name (cached reads): reading only.
    assert secret_changes(rules) == []


def test_the_operator_holds_everything_it_grants_to_monitors() -> None:
    # The API server refuses a Role (or its binding) that grants more than its creator holds:
    # a rule the operator lacked would make every monitor fail to reconcile on a real cluster.
    docs = shipped()
    operator = operator_account(docs)
    children = render("bob", NAMESPACE, smtp_spec("bob", "bob-google", "bob-smtp"), OPTIONS)
    for rule in children.role["rules"]:
        for group, resource, verb, name in itertools.product(
            rule["apiGroups"], rule["resources"], rule["verbs"], rule["resourceNames"]
        ):
            request = Request(verb, group, resource, NAMESPACE, name)
            assert can(docs, operator, request), request
    # And it can write every child it renders (create, and update for drift).
    for child in objects_of(children):
        group = child["apiVersion"].rpartition("/")[0]
        plural = {
            "ConfigMap": "configmaps",
            "ServiceAccount": "serviceaccounts",
            "Role": "roles",
            "RoleBinding": "rolebindings",
            "CronJob": "cronjobs",
        }[child["kind"]]
        assert can(docs, operator, Request("create", group, plural, NAMESPACE)), child["kind"]


def test_rules_allow_matches_the_authorizer_on_subresources_and_names() -> None:
    # The model itself: the cases a sloppy matcher gets wrong.
    named = {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["get"],
        "resourceNames": ["a"],
    }
    assert rules_allow([named], Request("get", "", "configmaps", NAMESPACE, "a"))
    assert not rules_allow([named], Request("get", "", "configmaps", NAMESPACE, "b"))
    assert not rules_allow([named], Request("list", "", "configmaps", NAMESPACE))
    status = {"apiGroups": ["g"], "resources": ["things/status"], "verbs": ["patch"]}
    assert not rules_allow([status], Request("patch", "g", "things", NAMESPACE, "x"))
    assert rules_allow([status], Request("patch", "g", "things/status", NAMESPACE, "x"))
    sub = {"apiGroups": ["g"], "resources": ["*/status"], "verbs": ["patch"]}
    assert rules_allow([sub], Request("patch", "g", "things/status", NAMESPACE, "x"))
    assert not rules_allow([sub], Request("patch", "g", "things", NAMESPACE, "x"))
    binding = {
        "kind": "RoleBinding",
        "metadata": {"name": "b", "namespace": NAMESPACE},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}],
    }
    role = {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [named]}
    subject = ServiceAccount(NAMESPACE, "sa")
    assert can([binding, role], subject, Request("get", "", "configmaps", NAMESPACE, "a"))
    # A RoleBinding to a ClusterRole grants it in the binding's namespace only.
    assert not can([binding, role], subject, Request("get", "", "configmaps", "other", "a"))
    assert not can(
        [binding, role],
        ServiceAccount("other", "sa"),
        Request("get", "", "configmaps", NAMESPACE, "a"),
    )
