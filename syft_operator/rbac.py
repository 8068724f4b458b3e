"""The RBAC rules of the operator and of each monitor pod, as data.

The deploy manifests are generated from these lists (`syft_operator.manifests`), and the
integration tests check every request the operator made against them, so the permissions shipped
are exactly the ones used. Each rule says why it exists; a test runs the operator through a whole
lifecycle and fails on any granted verb no request used, unless the rule says (`unobservable`) why
only a real cluster needs it.

Kubernetes only lets a subject grant permissions it holds itself (privilege escalation
prevention): the operator can create each monitor's Role only because it holds `get/update` on
ConfigMaps itself.
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
    #: Set only on a rule that no API request uses (an admission plugin checks it instead): why
    #: a real cluster needs it anyway, since no request log can show it being used.
    unobservable: str = ""

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


#: Cluster-scoped reads kopf needs in every scope: it scans CRDs at startup and watches them.
CRD_RULES: tuple[Rule, ...] = (
    Rule(
        ("apiextensions.k8s.io",),
        ("customresourcedefinitions",),
        ("list", "watch"),
        "kopf discovers the SyftMonitor CRD and notices it being (re)installed",
    ),
)

#: Only when serving named namespaces: kopf lists and watches namespaces to learn which exist.
#: Serving all namespaces it never reads them, so a cluster-wide ClusterRole leaves this out.
NAMESPACE_RULES: tuple[Rule, ...] = (
    Rule(
        ("",),
        ("namespaces",),
        ("list", "watch"),
        "kopf follows the served namespaces (namespaced scope only; unused cluster-wide)",
    ),
)

#: The cluster-scoped reads kopf needs when it serves named namespaces (their ClusterRole).
FRAMEWORK_CLUSTER_RULES: tuple[Rule, ...] = CRD_RULES + NAMESPACE_RULES

#: What the operator does with SyftMonitors and their children, in each served namespace.
OPERATOR_RULES: tuple[Rule, ...] = (
    Rule(
        (names.GROUP,),
        (names.PLURAL,),
        ("list", "watch", "patch"),
        "watch SyftMonitors (and list them in the status refresh); kopf patches its progress"
        " annotations on them and removes the finalizer older operators left",
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
        unobservable=(
            "no request uses it: the OwnerReferencesPermissionEnforcement admission plugin"
            " (on in e.g. OpenShift) refuses a child whose blockOwnerDeletion owner reference"
            " points to an object its creator may not update the finalizers of"
        ),
    ),
    Rule(
        (names.GROUP,),
        (names.POOL_PLURAL,),
        ("get", "list", "watch"),
        "watch SyftMonitorPools; a pooled SyftMonitor's reconcile reads its pool (a GET only"
        " when the watch has not shown it)",
    ),
    Rule(
        (names.GROUP,),
        (f"{names.POOL_PLURAL}/status",),
        ("patch",),
        "a pool's conditions, observedGeneration and per-shard assignment counts",
    ),
    Rule(
        (names.GROUP,),
        (f"{names.POOL_PLURAL}/finalizers",),
        ("update",),
        "pool shard children carry blockOwnerDeletion owner references (admission checks this)",
        unobservable=(
            "no request uses it: the OwnerReferencesPermissionEnforcement admission plugin"
            " refuses a shard child whose blockOwnerDeletion owner reference points to a pool"
            " its creator may not update the finalizers of"
        ),
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
        ("get", "list", "watch"),
        "check that referenced Secrets and keys exist, and hash them into the pod template"
        " (watched, so an idle resync reads none and a rotated token rolls the pod at once)",
    ),
    Rule(
        ("",),
        ("configmaps",),
        ("get", "list", "watch", "create", "update", "patch", "delete"),
        "the config and state ConfigMaps (watched, by label, to repair drift; patch re-adopts an"
        " orphaned state map); get/update/patch are also granted on to monitor and pool pods;"
        " a pool's shard ConfigMaps are deleted when it scales down",
    ),
    Rule(
        ("",),
        ("serviceaccounts",),
        ("get", "list", "watch", "create", "update", "delete"),
        "one ServiceAccount per monitor or pool shard (watched, by label, to repair drift);"
        " deleted when a monitor joins a pool or a pool scales down",
    ),
    Rule(
        ("rbac.authorization.k8s.io",),
        ("roles", "rolebindings"),
        ("get", "list", "watch", "create", "update", "delete"),
        "one Role and RoleBinding per monitor or pool shard, limited to its own objects"
        " (watched, by label, to repair drift); deleted when a monitor joins a pool or a pool"
        " scales down",
    ),
    Rule(
        ("apps",),
        ("deployments",),
        ("get", "list", "watch", "create", "update", "delete"),
        "the monitor workload in Deployment mode and the pool shards (watched, by label, for"
        " drift and readiness); deleted on a switch to CronJob or Pooled, or a pool scale-down",
    ),
    Rule(
        ("batch",),
        ("cronjobs",),
        ("get", "list", "watch", "create", "update", "delete"),
        "the monitor workload in CronJob mode (watched, by label, for drift and readiness);"
        " deleted on a switch to Deployment or Pooled",
    ),
)


def operator_rules() -> tuple[Rule, ...]:
    """The operator's ClusterRole when it serves all namespaces (deploy/operator.yaml)."""
    return CRD_RULES + OPERATOR_RULES


def cluster_role_rules(*, clusterwide: bool) -> tuple[Rule, ...]:
    """The operator's ClusterRole in either scope. Serving named namespaces, it holds kopf's
    cluster-scoped reads only, and each served namespace binds OPERATOR_RULES in a Role."""
    return operator_rules() if clusterwide else FRAMEWORK_CLUSTER_RULES


def permitted(
    rules: Sequence[Rule],
    verb: str,
    group: str,
    resource: str,
    name: str | None = None,
) -> bool:
    return any(rule.permits(verb, group, resource, name) for rule in rules)


def monitor_role_rules(state_map: str, heartbeat_map: str) -> list[dict[str, Any]]:
    """A monitor pod's Role: its own state and heartbeat ConfigMaps, by name, nothing else."""
    return [rule.as_manifest() for rule in monitor_rules(state_map, heartbeat_map)]


def monitor_rules(state_map: str, heartbeat_map: str) -> tuple[Rule, ...]:
    """Only the verbs the monitor's ConfigMap state backend uses (`syft_monitors.state.configmap`:
    read, then replace with the resourceVersion read). Its tokens are mounted files, so it needs
    no access to Secrets through the API."""
    return (
        Rule(
            ("",),
            ("configmaps",),
            ("get", "update"),
            "the monitor's state (optimistic concurrency on resourceVersion)",
            resource_names=(state_map,),
        ),
        Rule(
            ("",),
            ("configmaps",),
            ("get", "patch"),
            "the monitor's liveness (small merge patches instead of state rewrites)",
            resource_names=(heartbeat_map,),
        ),
    )


def pool_shard_rules(
    *,
    shard_map: str,
    config_maps: Sequence[str],
    secrets: Sequence[str],
    data_maps: Sequence[str],
) -> tuple[Rule, ...]:
    """A pool shard's Role: exactly the objects of the SyftMonitors assigned to it, by name.

    A rule is left out rather than written with no names: an empty `resourceNames` would grant
    every object of the kind. There is no `list` or `watch` at all (resourceNames cannot limit
    them), so a shard can neither enumerate nor follow the namespace's Secrets."""
    rules = [
        Rule(
            ("",),
            ("configmaps",),
            ("get",),
            "the shard's assignment and the config of each assigned monitor",
            resource_names=tuple(sorted({shard_map, *config_maps})),
        )
    ]
    if secrets:
        rules.append(
            Rule(
                ("",),
                ("secrets",),
                ("get",),
                "the tokens (Drive, Gmail, SMTP password) of the assigned monitors only",
                resource_names=tuple(sorted(set(secrets))),
            )
        )
    if data_maps:
        rules.append(
            Rule(
                ("",),
                ("configmaps",),
                ("get", "update", "patch"),
                "each assigned monitor's state (replaced with its resourceVersion) and heartbeat"
                " (merge-patched)",
                resource_names=tuple(sorted(set(data_maps))),
            )
        )
    return tuple(rules)
