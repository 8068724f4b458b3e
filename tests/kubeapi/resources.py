"""Which resources the test API server serves: the built-in kinds, plus one per CRD version.

Discovery (`/api/v1`, `/apis/<group>/<version>`) is rendered from this registry, so a CRD that is
created becomes discoverable at once and disappears with the CRD, as on a real server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUB_VERBS = ("get", "patch", "update")


@dataclasses.dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    #: `metadata.generation` is maintained (bumped on changes outside metadata/status).
    has_generation: bool = False
    #: Defined by a CRD: no strategic merge, schema validation, objects returned on delete.
    custom: bool = False
    #: The CRD version's openAPIV3Schema (custom resources only).
    schema: dict[str, Any] | None = None
    #: The CRD version's additionalPrinterColumns (custom resources only).
    printer_columns: tuple[dict[str, Any], ...] = ()
    #: The version objects are stored as (other served versions are the same schema here).
    storage_version: str = ""
    #: How names are validated: "subdomain" (most), "label" (namespaces, services), "path".
    name_rule: str = "subdomain"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Objects are stored per (group, plural), whatever version they were written with."""
        return (self.group, self.plural)

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def discovery(self) -> list[dict[str, Any]]:
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        entries = [main]
        for sub in self.subresources:
            kind = "Scale" if sub == "scale" else self.kind
            group = "autoscaling" if sub == "scale" else None
            entry: dict[str, Any] = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": list(SUB_VERBS),
            }
            if group:
                entry["group"] = group
                entry["version"] = "v1"
            entries.append(entry)
        return entries


def _b(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: Iterable[str] = (),
    cats: Iterable[str] = (),
    subs: Iterable[str] = (),
    generation: bool = False,
    name_rule: str = "subdomain",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=tuple(short),
        categories=tuple(cats),
        subresources=tuple(subs),
        has_generation=generation,
        storage_version=version,
        name_rule=name_rule,
    )


RBAC = "rbac.authorization.k8s.io"

#: What kopf, kubectl and the syft operator touch; others can be added with `register`.
BUILTINS: tuple[ResourceType, ...] = (
    _b(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short=["ns"],
        subs=["status"],
        name_rule="label",
    ),
    _b("", "v1", "configmaps", "ConfigMap", short=["cm"]),
    _b("", "v1", "secrets", "Secret"),
    _b("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"]),
    _b("", "v1", "events", "Event", short=["ev"]),
    _b("", "v1", "pods", "Pod", short=["po"], cats=["all"], subs=["status"]),
    _b(
        "",
        "v1",
        "services",
        "Service",
        short=["svc"],
        cats=["all"],
        subs=["status"],
        name_rule="label",
    ),
    _b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], subs=["status"]),
    _b(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=["deploy"],
        cats=["all"],
        subs=["status", "scale"],
        generation=True,
    ),
    _b(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short=["sts"],
        cats=["all"],
        subs=["status", "scale"],
        generation=True,
    ),
    _b(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short=["ds"],
        cats=["all"],
        subs=["status"],
        generation=True,
    ),
    _b(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short=["rs"],
        cats=["all"],
        subs=["status", "scale"],
        generation=True,
    ),
    _b(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        short=["cj"],
        cats=["all"],
        subs=["status"],
        generation=True,
    ),
    _b("batch", "v1", "jobs", "Job", cats=["all"], subs=["status"], generation=True),
    _b(RBAC, "v1", "roles", "Role", name_rule="path"),
    _b(RBAC, "v1", "rolebindings", "RoleBinding", name_rule="path"),
    _b(RBAC, "v1", "clusterroles", "ClusterRole", namespaced=False, name_rule="path"),
    _b(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False, name_rule="path"),
    _b("coordination.k8s.io", "v1", "leases", "Lease"),
    _b(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        short=["netpol"],
        generation=True,
    ),
    _b(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=["pdb"],
        subs=["status"],
        generation=True,
    ),
    _b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=["crd", "crds"],
        cats=["api-extensions"],
        subs=["status"],
        generation=True,
    ),
)

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY = ("", "namespaces")


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a (validated) CRD."""
    spec = crd["spec"]
    names = spec["names"]
    versions = spec["versions"]
    storage = next(v["name"] for v in versions if v.get("storage"))
    result = []
    for version in versions:
        if not version.get("served", True):
            continue
        subs = []
        subresources = version.get("subresources") or {}
        if "status" in subresources:
            subs.append("status")
        if "scale" in subresources:
            subs.append("scale")
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(subs),
                has_generation=True,
                custom=True,
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                storage_version=storage,
            )
        )
    return result


class Registry:
    """(group, version, plural) -> ResourceType. Not thread-safe: the store's lock guards it."""

    def __init__(self, types: Iterable[ResourceType] = BUILTINS) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in types:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def remove_crd_types(self, group: str, plural: str) -> None:
        for key in [k for k, rt in self._types.items() if rt.custom and rt.key == (group, plural)]:
            del self._types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_key(self, key: tuple[str, str]) -> ResourceType | None:
        """The storage-version type of a (group, plural)."""
        candidates = [rt for rt in self._types.values() if rt.key == key]
        for rt in candidates:
            if rt.version == rt.storage_version:
                return rt
        return candidates[0] if candidates else None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._types.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """Named groups (not the core group) -> versions, preferred (storage) version first."""
        result: dict[str, list[str]] = {}
        for rt in sorted(self._types.values(), key=lambda t: (t.group, t.version)):
            if not rt.group:
                continue
            versions = result.setdefault(rt.group, [])
            if rt.version not in versions:
                if rt.version == rt.storage_version:
                    versions.insert(0, rt.version)
                else:
                    versions.append(rt.version)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (rt for rt in self._types.values() if rt.group == group and rt.version == version),
            key=lambda t: t.plural,
        )
