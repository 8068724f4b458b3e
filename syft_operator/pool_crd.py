"""The SyftMonitorPool custom resource: shared pods serving many SyftMonitors of one namespace.

A SyftMonitor with `spec.mode: Pooled` and `spec.pool: <name>` has no pod of its own; the pool's
shards serve it (see `pool.py`). Like `crd.py`, the pydantic models are the single source of the
CRD's schema; after changing one, run (a test compares)

    python -m syft_operator.pool_crd > deploy/crds/syftmonitorpools.syft.openmined.org.yaml
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import Field

from syft_operator import names
from syft_operator.crd import (
    DNS_LABEL,
    IMAGE,
    Condition,
    ResourcesSpec,
    _Model,
    structural_schema,
    to_yaml,
)

#: Shards of one pool: each is a Deployment, a Role and a ConfigMap; two digits keep
#: `<pool>-shard-<i>` within a label value.
MAX_REPLICAS = 32


class SyftMonitorPoolSpec(_Model):
    """How many pods serve the pool's SyftMonitors, and with what."""

    replicas: int = Field(
        default=1,
        ge=1,
        le=MAX_REPLICAS,
        description="Shards of the pool, one pod each. The SyftMonitors naming the pool are "
        "spread over them by rendezvous hashing of their names: changing this moves only the "
        "monitors that must move.",
    )
    poll_workers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Polls one pod runs at the same time (each owner's poll is one Drive "
        "request when idle; the rest of the time it only waits for its turn).",
    )
    image: str | None = Field(
        default=None,
        pattern=IMAGE,
        max_length=512,
        description="Container image of the pool pods; defaults to the operator's monitor image. "
        "Only an image the operator's allow-list names.",
    )
    resources: ResourcesSpec | None = Field(
        default=None, description="Compute resources of each pool pod."
    )


class ShardStatus(_Model):
    """One shard as the operator last assigned it."""

    shard: int = Field(ge=0, description="Index of the shard (`<pool>-shard-<shard>`).")
    monitors: int = Field(ge=0, description="SyftMonitors assigned to it.")
    available: bool = Field(description="Its Deployment has an available pod.")


class SyftMonitorPoolStatus(_Model):
    """What the operator last did with the pool."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation last reconciled."
    )
    conditions: tuple[Condition, ...] = Field(
        default=(),
        description="Ready: every shard's pod is available.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    monitors: int | None = Field(
        default=None, ge=0, description="SyftMonitors served by the pool (all shards)."
    )
    shards: tuple[ShardStatus, ...] = Field(
        default=(),
        max_length=MAX_REPLICAS,
        description="Assigned monitors and availability per shard.",
    )


def open_api_schema() -> dict[str, Any]:
    return {
        "description": "A SyftMonitorPool runs a few shared pods that serve every SyftMonitor of "
        "its namespace with spec.mode Pooled and spec.pool naming it.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": DNS_LABEL,
                        "maxLength": names.MAX_POOL_NAME,
                    }
                },
            },
            "spec": {**structural_schema(SyftMonitorPoolSpec), "default": {}},
            "status": structural_schema(SyftMonitorPoolStatus, defaults=False),
        },
    }


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Monitors", "type": "integer", "jsonPath": ".status.monitors"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def build_pool_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": names.POOL_CRD_NAME,
            "labels": {names.LABEL_NAME: names.APP_NAME, names.LABEL_PART_OF: names.APP_NAME},
        },
        "spec": {
            "group": names.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": names.POOL_KIND,
                "listKind": f"{names.POOL_KIND}List",
                "plural": names.POOL_PLURAL,
                "singular": names.POOL_SINGULAR,
                "shortNames": list(names.POOL_SHORT_NAMES),
                "categories": list(names.CATEGORIES),
            },
            "versions": [
                {
                    "name": names.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": open_api_schema()},
                }
            ],
        },
    }


HEADER = (
    "# Generated by `python -m syft_operator.pool_crd` from the models in"
    " syft_operator/pool_crd.py.\n"
    "# Do not edit: change the models and regenerate (a test compares the two).\n"
)


def render_pool_crd_yaml() -> str:
    return HEADER + "---\n" + to_yaml(build_pool_crd())


def main() -> None:
    sys.stdout.write(render_pool_crd_yaml())


if __name__ == "__main__":
    main()
