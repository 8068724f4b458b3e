"""Kubernetes RBAC evaluation, written from the authorization rules, not from `syft_operator.rbac`.

The least-privilege tests judge the operator's RBAC with this model so that a mistake in the
operator's own matcher (`rbac.permitted`) cannot hide the same mistake in its rules. It follows
the RBAC authorizer of the API server:

- a rule matches when its apiGroups, resources and verbs each contain the request's value or `*`;
  a subresource is `resource/sub`, matched by exactly that, `*/sub` or `resource/*`;
- `resourceNames`, when present, restrict the rule to requests naming one of those objects; a
  request without a name (list, watch, create, deletecollection) never matches such a rule;
- a subject holds the rules of every Role its RoleBindings reference (in that namespace only) and
  of every ClusterRole a ClusterRoleBinding references (everywhere), or a RoleBinding references
  (in the binding's namespace).

Denials are not a concept of RBAC: anything no rule allows is forbidden.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

Manifest = Mapping[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"
#: Every verb the API server authorizes, including the RBAC-specific ones.
VERBS = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "escalate",
    "bind",
    "impersonate",
)
#: Verbs whose requests carry no object name.
NAMELESS_VERBS = frozenset({"list", "watch", "create", "deletecollection"})
#: Everything a pod could want to touch in a namespace, subresources included.
RESOURCES = (
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "serviceaccounts/token"),
    ("", "pods"),
    ("", "pods/exec"),
    ("", "pods/log"),
    ("", "events"),
    ("", "namespaces"),
    (RBAC_GROUP, "roles"),
    (RBAC_GROUP, "rolebindings"),
    ("apps", "deployments"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
    ("coordination.k8s.io", "leases"),
    ("syft.openmined.org", "syftmonitors"),
    ("syft.openmined.org", "syftmonitors/status"),
)


@dataclasses.dataclass(frozen=True)
class Request:
    verb: str
    group: str
    #: With the subresource: `syftmonitors/status`.
    resource: str
    namespace: str | None
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str


def rule_allows(rule: Manifest, request: Request) -> bool:
    verbs = rule.get("verbs") or []
    groups = rule.get("apiGroups") or []
    resources = rule.get("resources") or []
    if "*" not in verbs and request.verb not in verbs:
        return False
    if "*" not in groups and request.group not in groups:
        return False
    if not _resource_matches(resources, request.resource):
        return False
    names = rule.get("resourceNames") or []
    if names:
        return request.name is not None and request.name in names
    return True


def _resource_matches(resources: Iterable[str], resource: str) -> bool:
    allowed = set(resources)
    if "*" in allowed or resource in allowed:
        return True
    if "/" in resource:
        base, sub = resource.split("/", 1)
        return f"*/{sub}" in allowed or f"{base}/*" in allowed
    return False


def rules_allow(rules: Iterable[Manifest], request: Request) -> bool:
    return any(rule_allows(rule, request) for rule in rules)


def _binds(binding: Manifest, subject: ServiceAccount) -> bool:
    binding_ns = (binding.get("metadata") or {}).get("namespace")
    for entry in binding.get("subjects") or []:
        if entry.get("kind") != "ServiceAccount" or entry.get("name") != subject.name:
            continue
        # A ServiceAccount subject without a namespace means the binding's own (RoleBindings).
        if (entry.get("namespace") or binding_ns) == subject.namespace:
            return True
    return False


def grants(
    objects: Iterable[Manifest], subject: ServiceAccount
) -> list[tuple[str | None, Manifest]]:
    """(namespace the rule applies in, or None for everywhere; rule) for every rule `subject`
    holds through the RBAC objects among `objects`."""
    items = list(objects)
    roles = {
        (o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in items
        if o.get("kind") == "Role"
    }
    cluster_roles = {o["metadata"]["name"]: o for o in items if o.get("kind") == "ClusterRole"}
    held: list[tuple[str | None, Manifest]] = []
    for binding in items:
        kind = binding.get("kind")
        if kind not in ("RoleBinding", "ClusterRoleBinding") or not _binds(binding, subject):
            continue
        ref = binding.get("roleRef") or {}
        if ref.get("apiGroup") != RBAC_GROUP:
            continue
        scope = binding["metadata"].get("namespace") if kind == "RoleBinding" else None
        role: Manifest | None = None
        if ref.get("kind") == "Role" and kind == "RoleBinding":
            role = roles.get((scope, ref.get("name")))
        elif ref.get("kind") == "ClusterRole":
            role = cluster_roles.get(str(ref.get("name")))
        for rule in (role or {}).get("rules") or []:
            held.append((scope, rule))
    return held


def can(objects: Iterable[Manifest], subject: ServiceAccount, request: Request) -> bool:
    """Whether `subject` may make `request`, given the RBAC objects among `objects`."""
    return held_allows(grants(objects, subject), request)


def held_allows(held: Iterable[tuple[str | None, Manifest]], request: Request) -> bool:
    """Whether rules as `grants` returns them allow `request`."""
    for scope, rule in held:
        # A RoleBinding's rules hold in its namespace only, never for cluster-scoped requests.
        if scope is not None and request.namespace != scope:
            continue
        if rule_allows(rule, request):
            return True
    return False


def wildcard_problems(rules: Iterable[Manifest]) -> list[str]:
    """Every `*` in a rule, and every grant of the privilege-escalation verbs."""
    problems = []
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            if any("*" in str(value) for value in rule.get(field) or []):
                problems.append(f"{field} has a wildcard: {dict(rule)}")
        for verb in ("escalate", "bind", "impersonate"):
            if verb in (rule.get("verbs") or []):
                problems.append(f"grants {verb}: {dict(rule)}")
    return problems


def secret_reads_beyond_get(rules: Iterable[Manifest]) -> list[str]:
    """Any rule that lets its holder list, watch or change Secrets (only get is acceptable)."""
    problems = []
    for rule in rules:
        for verb in VERBS:
            if verb == "get":
                continue
            probe = Request(verb, "", "secrets", "ns", None if verb in NAMELESS_VERBS else "x")
            if rule_allows(rule, probe):
                problems.append(f"secrets {verb}: {dict(rule)}")
    return problems


def secret_changes(rules: Iterable[Manifest]) -> list[str]:
    """Any rule that lets its holder create, change or delete Secrets (reading is acceptable)."""
    return [
        problem
        for problem in secret_reads_beyond_get(rules)
        if not problem.startswith(("secrets list:", "secrets watch:"))
    ]


def pairs(rules: Iterable[Manifest]) -> set[tuple[str, str, str]]:
    """(verb, group, resource) of every combination the rules grant."""
    out = set()
    for rule in rules:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    out.add((verb, group, resource))
    return out


def universe(
    object_names: Iterable[str],
    namespaces: Iterable[str | None],
    resources: Iterable[tuple[str, str]] = RESOURCES,
) -> list[Request]:
    """Every verb on every resource, naming every given object and none, in every namespace."""
    named: list[str | None] = [*sorted(set(object_names)), None]
    return [
        Request(verb, group, resource, namespace, name)
        for (group, resource), verb, name, namespace in itertools.product(
            resources, VERBS, named, list(namespaces)
        )
    ]


def allowed(
    objects: Iterable[Manifest], subject: ServiceAccount, requests: Iterable[Request]
) -> set[Request]:
    """The subset of `requests` that `subject` may make."""
    held = grants(objects, subject)
    return {request for request in requests if held_allows(held, request)}
