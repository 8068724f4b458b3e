"""The identifiers the operator, its CRD, its children and its manifests agree on.

One place for the API group, the annotation and label keys, and the names of the objects made for
each SyftMonitor, so that rendering, applying, RBAC and the tests cannot drift apart.
"""

from __future__ import annotations

GROUP = "syft.openmined.org"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "SyftMonitor"
PLURAL = "syftmonitors"
SINGULAR = "syftmonitor"
SHORT_NAMES = ("sm",)
CATEGORIES = ("syft",)
CRD_NAME = f"{PLURAL}.{GROUP}"

#: Kopf's own bookkeeping (progress, last handled spec) lives under the product's prefix, so two
#: kopf operators on one cluster never read each other's annotations.
ANNOTATION_PREFIX = GROUP
#: Never added any more; kopf removes it from SyftMonitors that an operator from before the
#: operator-wide status refresh (whose per-object timer needed it) left it on.
FINALIZER = f"{GROUP}/operator"
#: On the pod template: the hash of the rendered config, so a config change rolls the pod.
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
#: On the pod template: a hash of the referenced Secret keys, so a rotated token rolls the pod.
SECRETS_HASH_ANNOTATION = f"{GROUP}/secrets-hash"
#: On every child: the hash of what the operator last wrote, so a no-op reconcile writes nothing.
APPLIED_HASH_ANNOTATION = f"{GROUP}/applied-hash"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
APP_NAME = "syft-monitor"
MANAGER = "syft-operator"

#: The longest SyftMonitor name: `<name>-monitor` must fit a CronJob name (52 characters,
#: the Job controller appends 11) and every name must fit a label value (63).
MAX_MONITOR_NAME = 44

#: Where the monitor pod finds its files (all read-only except /tmp).
CONFIG_DIR = "/etc/syft-monitor"
SECRETS_DIR = "/var/run/secrets/syft-monitor"
#: The SyftBox folder from `spec.syftboxVolume` (the `syftbox_root` of the monitor config).
SYFTBOX_DIR = "/var/lib/syftbox"
TMP_DIR = "/tmp"  # noqa: S108 - an emptyDir volume of the pod, not the host's /tmp
STATE_KEY = "state.json"

#: The user id of the image's non-root user; the pod runs as it.
RUN_AS_USER = 10001


def config_map_name(monitor: str) -> str:
    return f"{monitor}-config"


def state_map_name(monitor: str) -> str:
    return f"{monitor}-state"


def heartbeat_map_name(monitor: str) -> str:
    """The monitor's small liveness ConfigMap: merge-patched (once per `HEARTBEAT_PERIOD` when
    idle), never the state."""
    return f"{monitor}-heartbeat"


def workload_name(monitor: str) -> str:
    """Deployment, CronJob, ServiceAccount, Role and RoleBinding all share this name."""
    return f"{monitor}-monitor"


def selector_labels(monitor: str) -> dict[str, str]:
    """Immutable selector of the workload: name and instance only."""
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: monitor}


def common_labels(monitor: str, component: str) -> dict[str, str]:
    return {
        **selector_labels(monitor),
        LABEL_COMPONENT: component,
        LABEL_PART_OF: APP_NAME,
        LABEL_MANAGED_BY: MANAGER,
    }


# --- shared monitor pools (SyftMonitorPool) ------------------------------------------------------

POOL_KIND = "SyftMonitorPool"
POOL_PLURAL = "syftmonitorpools"
POOL_SINGULAR = "syftmonitorpool"
POOL_SHORT_NAMES = ("smp",)
POOL_CRD_NAME = f"{POOL_PLURAL}.{GROUP}"
#: The longest pool name: `<pool>-shard-<i>` (i < 100) must fit a label value (63).
MAX_POOL_NAME = 52
#: Where a pool pod finds its shard's assignment (the shard ConfigMap, mounted).
POOL_ASSIGNMENT_DIR = "/etc/syft-pool"
POOL_ASSIGNMENT_KEY = "assignment.json"
POOL_APP_NAME = "syft-monitor-pool"


def shard_name(pool: str, shard: int) -> str:
    """ConfigMap, ServiceAccount, Role, RoleBinding and Deployment of one shard of a pool."""
    return f"{pool}-shard-{shard}"


def shard_selector_labels(pool: str, shard: int) -> dict[str, str]:
    """Immutable selector of a shard's Deployment. Its own app name: a SyftMonitor named like the
    pool must not select the pool's pods with its `name`+`instance` selector."""
    return {LABEL_NAME: POOL_APP_NAME, LABEL_INSTANCE: pool, SHARD_LABEL: str(shard)}


def shard_labels(pool: str, shard: int) -> dict[str, str]:
    """The instance is the pool (an orphaned shard child is re-adopted by it, like a monitor's)."""
    return {
        **shard_selector_labels(pool, shard),
        LABEL_COMPONENT: "pool",
        LABEL_PART_OF: APP_NAME,
        LABEL_MANAGED_BY: MANAGER,
    }


#: On every child of a pool shard: the shard's index.
SHARD_LABEL = f"{GROUP}/shard"
