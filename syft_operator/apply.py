"""Making the cluster match rendered manifests: create, compare, repair, idempotently.

Every reconcile compares each child's live content with what the operator renders, field by
field (`drift`): replicas, images, commands, security contexts, volumes, Role rules, RoleBinding
subjects, ConfigMap data, the operator's labels and owner reference. A difference is written back
with a PUT of the whole rendered object (with the live resourceVersion, retried on 409), which
also removes fields the operator never renders (a `hostPath` volume, an added capability). A
difference made by someone else (the live object still carries the hash of the operator's last
write) is a repaired *drift*: counted, logged and posted as an Event by the caller.

The comparison tolerates what API servers fill in themselves: a key the manifest does not set is
accepted only when its value is a Go zero value or the documented default for that key (`DEFAULTS`),
and quantities compare by value (`0.5` equals `500m`). Should a server default something not
listed, the object the server returns after the repair still differs; that content is then
remembered as accepted (`ChildMemory.accepted`) so the operator does not rewrite it forever.

Ownership: children are created with the operator's labels and a controller owner reference to
the SyftMonitor (`kopf.adopt`). An existing object of a child's name is used only when that
owner reference is ours, or when it carries the operator's `managed-by` and `instance` labels and
no controller at all (one this operator made and someone orphaned). Anything else (a Helm-owned
ConfigMap, a ServiceAccount somebody created by hand) is never modified: `OwnershipConflictError`,
reported as `NameConflict`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

import kopf

from syft_operator import names
from syft_operator.errors import ChildRejectedError, KubeApiError, OwnershipConflictError
from syft_operator.kube import BY_KIND, KubeApi, Obj, resource_of
from syft_operator.quantity import same_quantity
from syft_operator.render import Children, manifest_hash
from syft_operator.rollout import RolloutPacer

logger = logging.getLogger(__name__)

Outcome = Literal["created", "updated", "repaired", "unchanged", "deleted", "absent", "deferred"]
MAX_CONFLICT_RETRIES = 3
#: A drift report names at most this many fields.
MAX_DRIFT_PATHS = 8

#: What the operator owns in each kind: the rest (status, most metadata) is someone else's.
CONTENT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ConfigMap": ("data", "binaryData"),
    "ServiceAccount": ("automountServiceAccountToken",),
    "Role": ("rules",),
    "RoleBinding": ("roleRef", "subjects"),
    "Deployment": ("spec",),
    "CronJob": ("spec",),
}
#: Keys API servers add with these values when a manifest leaves them out (the SetDefaults_*
#: functions of core/v1, apps/v1 and batch/v1, and the Priority admission plugin).
DEFAULTS: Mapping[str, tuple[object, ...]] = {
    "progressDeadlineSeconds": (600,),
    "revisionHistoryLimit": (10,),
    "dnsPolicy": ("ClusterFirst",),
    "schedulerName": ("default-scheduler",),
    "terminationMessagePath": ("/dev/termination-log",),
    "terminationMessagePolicy": ("File",),
    "successThreshold": (1,),
    "timeoutSeconds": (1,),
    "periodSeconds": (10,),
    "failureThreshold": (3,),
    "scheme": ("HTTP",),
    "defaultMode": (420,),
    "protocol": ("TCP",),
    "priority": (0,),
    "preemptionPolicy": ("PreemptLowerPriority",),
    "parallelism": (1,),
    "completions": (1,),
    "completionMode": ("NonIndexed",),
    "podReplacementPolicy": ("TerminatingOrFailed",),
    "backoffLimit": (6,),
    "imagePullPolicy": ("IfNotPresent", "Always"),
}
#: Template annotations others may add without it being drift (`kubectl rollout restart`).
FOREIGN_TEMPLATE_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/restartedAt"})
_QUANTITY_PARENTS = frozenset({"requests", "limits"})


@dataclasses.dataclass
class ChildMemory:
    """What this operator process remembers about children between reconciles."""

    #: `(kind, namespace, name)` -> the resourceVersion the operator last wrote or compared: a
    #: watch event carrying it is the operator's own doing, not a change to look at.
    seen: dict[tuple[str, str, str], str] = dataclasses.field(default_factory=dict)
    #: `(kind, namespace, name)` -> digest of content the server kept different from the
    #: manifest even right after a repair (a default this module does not know).
    accepted: dict[tuple[str, str, str], str] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def remember(self, live: Mapping[str, Any]) -> None:
        meta = live.get("metadata") or {}
        key = child_key(live)
        with self.lock:
            self.seen[key] = str(meta.get("resourceVersion"))

    def is_own(self, live: Mapping[str, Any]) -> bool:
        meta = live.get("metadata") or {}
        with self.lock:
            return self.seen.get(child_key(live)) == str(meta.get("resourceVersion"))

    def wrote(self, key: tuple[str, str, str], version: str) -> bool:
        """`version` of `key` is the one the operator last wrote or compared."""
        with self.lock:
            return self.seen.get(key) == version

    def forget(self, key: tuple[str, str, str]) -> None:
        with self.lock:
            self.seen.pop(key, None)
            self.accepted.pop(key, None)


def child_key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace")), str(meta.get("name")))


@dataclasses.dataclass
class ApplyReport:
    """What one reconcile did, per `Kind/name`."""

    outcomes: dict[str, Outcome] = dataclasses.field(default_factory=dict)
    #: The workload as the server returned it (for WorkloadAvailable).
    workload: Obj | None = None
    #: `Kind/name` -> the fields someone else had changed and the operator restored.
    drift: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    #: The workload's template change waits for a rollout slot (see `rollout.py`).
    deferred: bool = False

    @property
    def changed(self) -> bool:
        return any(
            o in ("created", "updated", "repaired", "deleted") for o in self.outcomes.values()
        )


def adopt_all(children: Children, owner: Mapping[str, Any]) -> Children:
    """Owner references, namespace and the owner's labels on every child (copies)."""
    adopted = {
        field.name: copy.deepcopy(getattr(children, field.name))
        for field in dataclasses.fields(children)
    }
    body = owner if isinstance(owner, kopf.Body) else kopf.Body(cast(kopf.RawBody, dict(owner)))
    for manifest in adopted.values():
        kopf.adopt(manifest, owner=body)
    return Children(**adopted)


def reconcile_children(
    api: KubeApi,
    children: Children,
    owner: Mapping[str, Any],
    memory: ChildMemory | None = None,
    *,
    create_first: bool = False,
    pacer: RolloutPacer | None = None,
) -> ApplyReport:
    """Create or repair every child of `owner`, and remove the other mode's workload.

    `create_first` (a SyftMonitor never reconciled before) POSTs before any GET: its children
    normally do not exist yet, and a 409 falls back to reading the one that does. With `pacer`,
    a change of an existing Deployment's pod template waits for a rollout slot."""
    memory = memory if memory is not None else ChildMemory()
    adopted = adopt_all(children, owner)
    meta = owner["metadata"]
    owner_uid, owner_name = str(meta["uid"]), str(meta["name"])
    report = ApplyReport()
    state = adopted.state_map
    for data_map in (state, adopted.heartbeat_map):
        report.outcomes[_key(data_map)] = ensure_exists(
            api, data_map, owner_uid, owner_name, memory, create_first=create_first
        )
    for manifest in adopted.owned():
        if manifest is adopted.workload and pacer is not None:
            held = held_back(api, manifest, owner_uid, pacer)
            if held is not None:
                report.outcomes[_key(manifest)] = "deferred"
                report.workload, report.deferred = held, True
                continue
        outcome, live, drifted = apply_manifest(
            api, manifest, owner_uid, owner_name, memory, create_first=create_first
        )
        report.outcomes[_key(manifest)] = outcome
        if drifted:
            report.drift[_key(manifest)] = drifted
        if manifest is adopted.workload:
            report.workload = live
            if pacer is not None:
                pacer.observe(owner_uid, live)
    stale = adopted.stale_workload_kind
    name = names.workload_name(owner_name)
    namespace = str(meta["namespace"])
    if create_first:
        # A first reconcile has had no other mode to switch from; should one exist anyway, its
        # watch event replaces this guess and the next pass removes it.
        api.assume_absent(BY_KIND[stale], namespace, name)
    else:
        report.outcomes[f"{stale}/{name}"] = remove_owned(api, stale, namespace, name, owner_uid)
    return report


def held_back(
    api: KubeApi, desired: Obj, owner_uid: str, pacer: RolloutPacer, *, slot: str | None = None
) -> Obj | None:
    """The live Deployment when its pod template would change and no rollout slot is free.
    `slot`: the pacer's key of this Deployment (default: its owner's uid; a pool has one per
    shard)."""
    if desired.get("kind") != "Deployment":
        return None
    live = api.get(
        resource_of(desired), desired["metadata"]["namespace"], desired["metadata"]["name"]
    )
    if live is None or _controller_uid(live) != owner_uid:
        return None
    changes = [path for path in drift(desired, live) if path.startswith("spec.template")]
    if not changes or pacer.admit(slot or owner_uid):
        return None
    return live


def apply_manifest(
    api: KubeApi,
    desired: Obj,
    owner_uid: str,
    owner_name: str,
    memory: ChildMemory | None = None,
    *,
    create_first: bool = False,
) -> tuple[Outcome, Obj, list[str]]:
    """Create `desired`, or rewrite the live object where it differs: (outcome, live, drift)."""
    memory = memory if memory is not None else ChildMemory()
    resource = resource_of(desired)
    namespace = desired["metadata"]["namespace"]
    name = desired["metadata"]["name"]
    body = copy.deepcopy(desired)
    digest = manifest_hash(body)
    body["metadata"].setdefault("annotations", {})[names.APPLIED_HASH_ANNOTATION] = digest
    key = child_key(body)
    for attempt in range(MAX_CONFLICT_RETRIES):
        if create_first and attempt == 0:
            live = None
        else:
            # After a conflict the cached copy is what was stale: read the server's.
            live = api.get(resource, namespace, name, fresh=attempt > 0)
        if live is None:
            try:
                created = _write(lambda: api.create(resource, namespace, body), desired)
            except KubeApiError as error:
                if error.status != 409:
                    raise
                continue  # exists (or created concurrently): compare with it
            memory.remember(created)
            return "created", created, []
        adopting = _check_owner(live, owner_uid, owner_name)
        differences = drift(body, live)
        ours = _annotations(live).get(names.APPLIED_HASH_ANNOTATION) == digest
        if not differences and ours and not adopting:
            memory.remember(live)
            return "unchanged", live, []
        with memory.lock:
            accepted = memory.accepted.get(key)
        if ours and not adopting and accepted == content_digest(live):
            memory.remember(live)
            return "unchanged", live, []
        try:
            written = _write(
                functools.partial(api.replace, resource, namespace, name, _merged(body, live)),
                desired,
            )
        except KubeApiError as error:
            if error.status == 404:
                continue  # deleted meanwhile: create it again
            if error.status != 409:
                raise
            logger.debug("conflict replacing %s/%s, retrying", desired["kind"], name)
            continue
        residual = drift(body, written)
        if residual:
            # The server keeps these as it likes them: accept its version from now on.
            with memory.lock:
                memory.accepted[key] = content_digest(written)
            logger.warning(
                "%s %s/%s: the API server keeps %s different from the manifest; accepted",
                desired["kind"],
                namespace,
                name,
                ", ".join(residual),
            )
        memory.remember(written)
        if ours and not adopting:
            return "repaired", written, differences or ["metadata"]
        return "updated", written, []
    raise KubeApiError(
        f"{desired['kind']} {name}: changed concurrently {MAX_CONFLICT_RETRIES} times",
        status=409,
    )


def _write(call: Callable[[], Obj], desired: Obj) -> Obj:
    """One create or replace; a 422 is the manifest's fault, not the cluster's: not retryable."""
    try:
        return call()
    except KubeApiError as error:
        if error.status == 422:
            raise ChildRejectedError(
                f"the API server rejected {desired['kind']} {desired['metadata']['name']}: {error}"
            ) from error
        raise


def ensure_exists(
    api: KubeApi,
    desired: Obj,
    owner_uid: str,
    owner_name: str,
    memory: ChildMemory | None = None,
    *,
    create_first: bool = False,
) -> Outcome:
    """Create once; afterwards only make sure it is owned (its data belongs to the monitor)."""
    resource = resource_of(desired)
    namespace = desired["metadata"]["namespace"]
    name = desired["metadata"]["name"]
    live = None if create_first else api.get(resource, namespace, name)
    if live is None:
        try:
            created = _write(lambda: api.create(resource, namespace, desired), desired)
        except KubeApiError as error:
            if error.status != 409:
                raise
        else:
            if memory is not None:
                memory.remember(created)
            return "created"
        live = api.get(resource, namespace, name, fresh=True)
        if live is None:
            raise KubeApiError(f"{desired['kind']} {name}: vanished while creating", status=409)
    if not _check_owner(live, owner_uid, owner_name):
        if memory is not None:
            memory.remember(live)
        return "unchanged"
    # Re-adopt an orphan of ours without touching its data; the resourceVersion makes the
    # patch fail rather than overwrite a concurrent change of the references.
    refs = live.get("metadata", {}).get("ownerReferences") or []
    patch = {
        "metadata": {
            "resourceVersion": live["metadata"].get("resourceVersion"),
            "ownerReferences": [*refs, *desired["metadata"]["ownerReferences"]],
        }
    }
    patched = api.patch(resource, namespace, name, patch)
    if memory is not None:
        memory.remember(patched)
    return "updated"


def remove_owned(api: KubeApi, kind: str, namespace: str, name: str, owner_uid: str) -> Outcome:
    """Delete `kind/name` if this SyftMonitor controls it; leave anybody else's object alone."""
    resource = BY_KIND[kind]
    live = api.get(resource, namespace, name)
    if live is None or _controller_uid(live) != owner_uid:
        return "absent"
    return "deleted" if api.delete(resource, namespace, name) else "absent"


# --- comparison ----------------------------------------------------------------------------------


def drift(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The fields where `live` differs from `desired` (dotted paths, at most MAX_DRIFT_PATHS)."""
    found: list[str] = []
    kind = str(desired.get("kind"))
    for field in CONTENT_FIELDS.get(kind, ()):
        if field in desired or field in live:
            _compare(desired.get(field), live.get(field), field, found)
    want_meta = desired.get("metadata") or {}
    live_meta = live.get("metadata") or {}
    live_labels = live_meta.get("labels") or {}
    for label, value in (want_meta.get("labels") or {}).items():
        if live_labels.get(label) != value:
            found.append(f"metadata.labels[{label}]")
    owner = {ref.get("uid") for ref in want_meta.get("ownerReferences") or []}
    if owner and _controller_uid(live) not in owner:
        found.append("metadata.ownerReferences")
    return found[:MAX_DRIFT_PATHS]


def _compare(want: Any, have: Any, path: str, found: list[str]) -> None:
    if len(found) >= MAX_DRIFT_PATHS:
        return
    if isinstance(want, dict) and isinstance(have, dict):
        for key, value in want.items():
            _compare(value, have.get(key), f"{path}.{key}", found)
        for key, value in have.items():
            if key in want or _is_default(key, value):
                continue
            if path.endswith("template.metadata.annotations") and key in (
                FOREIGN_TEMPLATE_ANNOTATIONS
            ):
                continue
            if key == "creationTimestamp" and value is None:
                continue
            if key == "serviceAccount" and value == want.get("serviceAccountName"):
                continue  # the deprecated alias API servers fill in
            found.append(f"{path}.{key}")
        return
    if isinstance(want, list) and isinstance(have, list):
        if len(want) != len(have):
            found.append(path)
            return
        for index, (a, b) in enumerate(zip(want, have, strict=True)):
            _compare(a, b, f"{path}[{_item_name(a, index)}]", found)
        return
    if want == have and type(want) is type(have):
        return
    parts = path.split(".")
    if len(parts) >= 2 and parts[-2] in _QUANTITY_PARENTS and same_quantity(want, have):
        return
    if (want is None and have in ({}, [])) or (have is None and want in ({}, [])):
        return  # an empty map or list is the same as none (JSON omitempty)
    found.append(path)


def _is_default(key: str, value: Any) -> bool:
    if value is None or value is False or value in ("", [], {}):
        return True
    return value in DEFAULTS.get(key, ()) and not isinstance(value, bool)


def _item_name(item: Any, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return str(item["name"])
    return str(index)


def content_digest(obj: Mapping[str, Any]) -> str:
    content = {field: obj.get(field) for field in CONTENT_FIELDS.get(str(obj.get("kind")), ())}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- helpers -------------------------------------------------------------------------------------


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _merged(desired: Obj, live: Obj) -> Obj:
    body = copy.deepcopy(desired)
    meta = body["metadata"]
    live_meta = live.get("metadata", {})
    meta["resourceVersion"] = live_meta.get("resourceVersion")
    meta["labels"] = {**(live_meta.get("labels") or {}), **(meta.get("labels") or {})}
    meta["annotations"] = {
        **(live_meta.get("annotations") or {}),
        **(meta.get("annotations") or {}),
    }
    ours = {ref.get("uid") for ref in meta.get("ownerReferences") or []}
    others = [
        ref
        for ref in live_meta.get("ownerReferences") or []
        if ref.get("uid") not in ours and not ref.get("controller")
    ]
    meta["ownerReferences"] = others + list(meta.get("ownerReferences") or [])
    if live_meta.get("finalizers"):
        meta["finalizers"] = list(live_meta["finalizers"])
    _keep_restart_stamp(body, live)
    return body


def _keep_restart_stamp(body: Obj, live: Obj) -> None:
    """A `kubectl rollout restart` stamp stays: dropping it would roll the pods once more."""
    for path in (("spec", "template"), ("spec", "jobTemplate", "spec", "template")):
        want: Any = body
        have: Any = live
        for part in path:
            want = want.get(part) if isinstance(want, dict) else None
            have = have.get(part) if isinstance(have, dict) else None
        if not isinstance(want, dict) or not isinstance(have, dict):
            continue
        stamps = {
            k: v
            for k, v in ((have.get("metadata") or {}).get("annotations") or {}).items()
            if k in FOREIGN_TEMPLATE_ANNOTATIONS
        }
        if stamps:
            want.setdefault("metadata", {}).setdefault("annotations", {}).update(stamps)


def _controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _check_owner(live: Mapping[str, Any], owner_uid: str, owner_name: str) -> bool:
    """Return True when `live` is an orphan of ours to adopt; raise for anybody else's object."""
    controller = _controller_uid(live)
    if controller == owner_uid:
        return False
    meta = live.get("metadata", {})
    labels = meta.get("labels") or {}
    ours = (
        labels.get(names.LABEL_MANAGED_BY) == names.MANAGER
        and labels.get(names.LABEL_INSTANCE) == owner_name
    )
    if controller is None and ours:
        return True
    what = f"{live.get('kind', 'object')} {meta.get('name')!s}"
    if controller is not None:
        detail = "is controlled by another object"
    else:
        manager = labels.get(names.LABEL_MANAGED_BY)
        detail = "is not managed by this SyftMonitor" + (
            f" (managed-by: {str(manager)[:63]})" if manager else ""
        )
    raise OwnershipConflictError(
        f"{what} already exists and {detail}; it was left untouched: rename the SyftMonitor or"
        " delete that object"
    )


def _key(manifest: Mapping[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"
