"""Making the cluster match rendered manifests: create or replace, idempotently.

Each child carries an annotation with the hash of what the operator last wrote. A reconcile that
renders the same manifest finds the same hash and writes nothing; a changed manifest replaces the
object (PUT with the live resourceVersion, retried on 409), which removes fields the operator no
longer renders, something a merge patch would leave behind (an old Secret volume, an env var).
Labels, annotations and finalizers that others added are kept.

Ownership: children get a controller owner reference to the SyftMonitor (`kopf.adopt`), so the
API server's garbage collector deletes them with it and no finalizer is needed for that. An
existing object with a child's name is adopted when nothing controls it, and refused (a
NameConflict condition) when something else does.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, Literal, cast

import kopf

from syft_operator import names
from syft_operator.errors import KubeApiError, OwnershipConflictError
from syft_operator.kube import BY_KIND, KubeApi, Obj, resource_of
from syft_operator.render import Children, manifest_hash

logger = logging.getLogger(__name__)

Outcome = Literal["created", "updated", "unchanged", "deleted", "absent"]
MAX_CONFLICT_RETRIES = 3


@dataclasses.dataclass
class ApplyReport:
    """What one reconcile did, per `Kind/name`."""

    outcomes: dict[str, Outcome] = dataclasses.field(default_factory=dict)
    #: The workload as the server returned it (for WorkloadAvailable).
    workload: Obj | None = None

    @property
    def changed(self) -> bool:
        return any(o in ("created", "updated", "deleted") for o in self.outcomes.values())


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


def reconcile_children(api: KubeApi, children: Children, owner: Mapping[str, Any]) -> ApplyReport:
    """Create or update every child of `owner`, and remove the other mode's workload."""
    adopted = adopt_all(children, owner)
    owner_uid = str(owner["metadata"]["uid"])
    report = ApplyReport()
    state = adopted.state_map
    report.outcomes[_key(state)] = ensure_exists(api, state, owner_uid)
    for manifest in adopted.owned():
        outcome, live = apply_manifest(api, manifest, owner_uid)
        report.outcomes[_key(manifest)] = outcome
        if manifest is adopted.workload:
            report.workload = live
    stale = adopted.stale_workload_kind
    name = names.workload_name(str(owner["metadata"]["name"]))
    namespace = str(owner["metadata"]["namespace"])
    report.outcomes[f"{stale}/{name}"] = remove_owned(api, stale, namespace, name, owner_uid)
    return report


def apply_manifest(api: KubeApi, desired: Obj, owner_uid: str) -> tuple[Outcome, Obj]:
    """Create `desired`, or replace the live object when its applied hash differs."""
    resource = resource_of(desired)
    namespace = desired["metadata"]["namespace"]
    name = desired["metadata"]["name"]
    body = copy.deepcopy(desired)
    digest = manifest_hash(body)
    body["metadata"].setdefault("annotations", {})[names.APPLIED_HASH_ANNOTATION] = digest
    for _attempt in range(MAX_CONFLICT_RETRIES):
        live = api.get(resource, namespace, name)
        if live is None:
            try:
                return "created", api.create(resource, namespace, body)
            except KubeApiError as error:
                if error.status != 409:
                    raise
                continue  # created concurrently by another writer: compare with it
        _check_owner(live, owner_uid)
        annotations = live.get("metadata", {}).get("annotations") or {}
        if annotations.get(names.APPLIED_HASH_ANNOTATION) == digest:
            return "unchanged", live
        try:
            return "updated", api.replace(resource, namespace, name, _merged(body, live))
        except KubeApiError as error:
            if error.status != 409:
                raise
            logger.debug("conflict replacing %s/%s, retrying", desired["kind"], name)
    raise KubeApiError(
        f"{desired['kind']} {name}: changed concurrently {MAX_CONFLICT_RETRIES} times",
        status=409,
    )


def ensure_exists(api: KubeApi, desired: Obj, owner_uid: str) -> Outcome:
    """Create once; afterwards only make sure it is owned (its data belongs to the monitor)."""
    resource = resource_of(desired)
    namespace = desired["metadata"]["namespace"]
    name = desired["metadata"]["name"]
    live = api.get(resource, namespace, name)
    if live is None:
        try:
            api.create(resource, namespace, desired)
        except KubeApiError as error:
            if error.status != 409:
                raise
        else:
            return "created"
        live = api.get(resource, namespace, name)
        if live is None:
            raise KubeApiError(f"{desired['kind']} {name}: vanished while creating", status=409)
    _check_owner(live, owner_uid)
    refs = live.get("metadata", {}).get("ownerReferences") or []
    if any(ref.get("uid") == owner_uid for ref in refs):
        return "unchanged"
    # Adopt a pre-existing (e.g. migrated) state ConfigMap without touching its data; the
    # resourceVersion makes the patch fail rather than overwrite a concurrent change of refs.
    patch = {
        "metadata": {
            "resourceVersion": live["metadata"].get("resourceVersion"),
            "ownerReferences": [*refs, *desired["metadata"]["ownerReferences"]],
        }
    }
    api.patch(resource, namespace, name, patch)
    return "updated"


def remove_owned(api: KubeApi, kind: str, namespace: str, name: str, owner_uid: str) -> Outcome:
    """Delete `kind/name` if this SyftMonitor controls it; leave anybody else's object alone."""
    resource = BY_KIND[kind]
    live = api.get(resource, namespace, name)
    if live is None or _controller_uid(live) != owner_uid:
        return "absent"
    return "deleted" if api.delete(resource, namespace, name) else "absent"


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
    return body


def _controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _check_owner(live: Mapping[str, Any], owner_uid: str) -> None:
    controller = _controller_uid(live)
    if controller is not None and controller != owner_uid:
        meta = live.get("metadata", {})
        raise OwnershipConflictError(
            f"{live.get('kind', 'object')} {meta.get('name')!s} exists and is controlled by "
            "another object; rename or delete it"
        )


def _key(manifest: Mapping[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"
