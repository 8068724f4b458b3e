"""The RBAC rules of the operator and of each monitor pod, as data.

The deploy manifests are generated from these lists (`syft_operator.manifests`), and the
integration tests check every request the operator made against them, so the permissions shipped
are exactly the ones used. Each rule says why it exists.

Kubernetes only lets a subject grant permissions it holds itself (privilege escalation
prevention): the operator can create each monitor's Role only because it holds `get` on Secrets
and `get/update/patch` on ConfigMaps itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from syft_operator import names


@dataclasses.dataclass(frozen=True)
class Rule:
    """One PolicyRule; `why` is written as a comment next to it in the manifests."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str
    resource_names: tuple[str, ...] = ()

    def as_manifest(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        return rule

    def permits(self, verb: str, group: str, resource: str, name: str | None = None) -> bool:
        """`resource` includes the subresource (`syftmonitors/status`)."""
        if not _matches(self.api_groups, group) or not _matches(self.resources, resource):
            return False
        if not _matches(self.verbs, verb):
            return False
        # resourceNames never apply to list, watch or create (there is no name to match).
        return not self.resource_names or (name is not None and name in self.resource_names)


def _matches(allowed: Iterable[str], value: str) -> bool:
    return "*" in allowed or value in allowed


#: Cluster-scoped reads kopf needs in any mode (it scans CRDs and namespaces at startup).
FRAMEWORK_CLUSTER_RULES: tuple[Rule, ...] = (
    Rule(
        ("apiextensions.k8s.io",),
        ("customresourcedefinitions",),
        ("list", "watch"),
        "kopf discovers the SyftMonitor CRD and notices it being (re)installed",
    ),
    Rule(
        ("",),
        ("namespaces",),
        ("list", "watch"),
        "kopf follows namespaces to serve new ones in cluster-wide or pattern mode",
    ),
)

#: What the operator does with SyftMonitors and their children, in each served namespace.
OPERATOR_RULES: tuple[Rule, ...] = (
    Rule(
        (names.GROUP,),
        (names.PLURAL,),
        ("list", "watch", "patch"),
        "watch SyftMonitors; kopf patches its progress annotations and finalizer on them",
    ),
    Rule(
        (names.GROUP,),
        (f"{names.PLURAL}/status",),
        ("patch",),
        "conditions, observedGeneration and the mirrored monitor status",
    ),
    Rule(
        (names.GROUP,),
        (f"{names.PLURAL}/finalizers",),
        ("update",),
        "children carry blockOwnerDeletion owner references (admission checks this)",
    ),
    Rule(
        ("",),
        ("events",),
        ("create",),
        "Events on SyftMonitors (missing Secrets, conflicts)",
    ),
    Rule(
        ("",),
        ("secrets",),
        ("get",),
        "check that referenced Secrets and keys exist; also needed to grant it to monitor pods",
    ),
    Rule(
        ("",),
        ("configmaps",),
        ("get", "create", "update", "patch"),
        "the config and state ConfigMaps; update/patch are also granted on to monitor pods",
    ),
    Rule(
        ("",),
        ("serviceaccounts",),
        ("get", "create", "update", "patch"),
        "one ServiceAccount per monitor",
    ),
    Rule(
        ("rbac.authorization.k8s.io",),
        ("roles", "rolebindings"),
        ("get", "create", "update", "patch"),
        "one Role and RoleBinding per monitor, limited to its own objects",
    ),
    Rule(
        ("apps",),
        ("deployments",),
        ("get", "create", "update", "patch", "delete"),
        "the monitor workload in Deployment mode; deleted on a switch to CronJob",
    ),
    Rule(
        ("batch",),
        ("cronjobs",),
        ("get", "create", "update", "patch", "delete"),
        "the monitor workload in CronJob mode; deleted on a switch to Deployment",
    ),
)


def operator_rules() -> tuple[Rule, ...]:
    """All rules of the operator; namespaced installs bind OPERATOR_RULES per namespace."""
    return FRAMEWORK_CLUSTER_RULES + OPERATOR_RULES


def permitted(
    rules: Sequence[Rule],
    verb: str,
    group: str,
    resource: str,
    name: str | None = None,
) -> bool:
    return any(rule.permits(verb, group, resource, name) for rule in rules)


def monitor_role_rules(state_map: str, secrets: Sequence[str]) -> list[dict[str, Any]]:
    """A monitor pod's Role: its own state ConfigMap and its own Secrets, by name."""
    return [rule.as_manifest() for rule in monitor_rules(state_map, secrets)]


def monitor_rules(state_map: str, secrets: Sequence[str]) -> tuple[Rule, ...]:
    rules = [
        Rule(
            ("",),
            ("configmaps",),
            ("get", "update", "patch"),
            "the monitor's state (optimistic concurrency on resourceVersion)",
            resource_names=(state_map,),
        )
    ]
    if secrets:
        rules.append(
            Rule(
                ("",),
                ("secrets",),
                ("get",),
                "the monitor's own tokens",
                resource_names=tuple(secrets),
            )
        )
    return tuple(rules)
