"""The object store behind the test API server: the apiserver's storage semantics in memory.

One lock guards everything (objects, the registry, the event history), so every API call is
atomic, as it is against etcd. Watchers get events through a callback that must not block (the
server hands them to its event loop).

Semantics kept from a real apiserver (see the server module docstring for the full list):
a global, increasing resourceVersion; uid/creationTimestamp/generation; 201 on create;
AlreadyExists/NotFound/Conflict Status errors; optimistic concurrency on PUT and on patches that
carry a resourceVersion; no-op writes change nothing (no new resourceVersion, no event);
the status subresource; finalizers and deletionTimestamp; deletion propagation
(Background/Foreground/Orphan) and garbage collection by ownerReferences; namespace and CRD
deletion cascading to their content; CRD registration; dry runs.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from tests.kubeapi import builtins, schema
from tests.kubeapi.errors import (
    ApiError,
    FieldError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    unsupported_media_type,
)
from tests.kubeapi.patching import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from tests.kubeapi.resources import (
    CRD_KEY,
    NAMESPACE_KEY,
    Registry,
    ResourceType,
    types_from_crd,
)
from tests.kubeapi.selectors import Predicate

Obj = dict[str, Any]
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)


def _q(value: Any) -> str:
    return json.dumps(value)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: tuple[str, str]
    obj: Obj
    old: Obj | None


@dataclasses.dataclass(eq=False)
class Subscription:
    rt: ResourceType
    namespace: str | None
    name: str | None
    matches: Predicate
    deliver: Callable[[dict[str, Any]], None]

    def translate(self, event: Event) -> dict[str, Any] | None:
        """The watch event this subscriber sees, or None (label selectors can turn a MODIFIED
        into an ADDED or DELETED, as with a real watch cache)."""
        meta = event.obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return None
        if self.name is not None and meta.get("name") != self.name:
            return None
        now_matches = self.matches(event.obj)
        if event.type == "MODIFIED" and event.old is not None:
            was = self.matches(event.old)
            if now_matches and not was:
                return {"type": "ADDED", "object": self._out(event.obj)}
            if was and not now_matches:
                gone = copy.deepcopy(event.old)
                gone["metadata"]["resourceVersion"] = str(event.rv)
                return {"type": "DELETED", "object": self._out(gone)}
        if not now_matches:
            return None
        return {"type": event.type, "object": self._out(event.obj)}

    def _out(self, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = self.rt.api_version
        return out


def _strip_for_generation(obj: Obj, has_status: bool) -> Obj:
    return {k: v for k, v in obj.items() if k != "metadata" and not (has_status and k == "status")}


class Store:
    def __init__(self, *, namespaces: tuple[str, ...], require_namespaces: bool = True) -> None:
        self.lock = threading.RLock()
        self.registry = Registry()
        self.require_namespaces = require_namespaces
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._rv = 1000
        self._history: list[Event] = []
        self._subs: list[Subscription] = []
        self._ip = 0
        ns_type = self._type(NAMESPACE_KEY)
        for name in dict.fromkeys(
            ("default", "kube-system", "kube-public", "kube-node-lease", *namespaces)
        ):
            self.create(ns_type, None, {"metadata": {"name": name}})

    # --- helpers ---------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def _type(self, key: tuple[str, str]) -> ResourceType:
        rt = self.registry.by_key(key)
        assert rt is not None, key
        return rt

    def _bucket(self, key: tuple[str, str]) -> dict[tuple[str, str], Obj]:
        return self._objects.setdefault(key, {})

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _alloc_ip(self) -> str:
        self._ip += 1
        return f"10.96.{(self._ip // 250) % 250}.{self._ip % 250 + 1}"

    def _emit(self, type_: str, key: tuple[str, str], obj: Obj, old: Obj | None) -> None:
        event = Event(
            int(obj["metadata"]["resourceVersion"]),
            type_,
            key,
            copy.deepcopy(obj),
            copy.deepcopy(old) if old is not None else None,
        )
        self._history.append(event)
        for sub in list(self._subs):
            if sub.rt.key == key:
                item = sub.translate(event)
                if item is not None:
                    sub.deliver(item)

    @staticmethod
    def _out(rt: ResourceType, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        return out

    def _ns_key(self, rt: ResourceType, namespace: str | None) -> str:
        return namespace or "" if rt.namespaced else ""

    def _find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._bucket(rt.key).get((self._ns_key(rt, namespace), name))
        if obj is None:
            raise not_found(rt.group, rt.plural, name)
        return obj

    def _iter(self, key: tuple[str, str], namespace: str | None) -> Iterator[Obj]:
        bucket = self._bucket(key)
        for ns, name in sorted(bucket):
            if namespace is None or ns == namespace:
                yield bucket[(ns, name)]

    def _all_objects(self) -> Iterator[tuple[ResourceType, Obj]]:
        for key in list(self._objects):
            rt = self.registry.by_key(key)
            if rt is None:
                continue
            for obj in list(self._objects[key].values()):
                yield rt, obj

    def _uid_exists(self, uid: str) -> bool:
        return any(obj["metadata"].get("uid") == uid for _, obj in self._all_objects())

    # --- reads -----------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        with self.lock:
            return self._out(rt, self._find(rt, namespace, name))

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        with self.lock:
            obj = self._bucket(rt.key).get((self._ns_key(rt, namespace), name))
            return None if obj is None else self._out(rt, obj)

    def list_objects(self, rt: ResourceType, namespace: str | None, matches: Predicate) -> Obj:
        with self.lock:
            items = [self._out(rt, o) for o in self._iter(rt.key, namespace) if matches(o)]
            return {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }

    # --- watches ---------------------------------------------------------------------------

    def subscribe(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str | None,
        matches: Predicate,
        since: str | None,
        deliver: Callable[[dict[str, Any]], None],
        *,
        send_initial: bool = False,
    ) -> tuple[list[dict[str, Any]], Subscription]:
        """Register a watcher; returns the events to send first (atomically with the
        registration, so nothing falls in between)."""
        with self.lock:
            sub = Subscription(rt, namespace, name, matches, deliver)
            initial: list[dict[str, Any]] = []
            if since in (None, "", "0") or send_initial:
                for obj in self._iter(rt.key, namespace):
                    if (name is None or obj["metadata"]["name"] == name) and matches(obj):
                        initial.append({"type": "ADDED", "object": self._out(rt, obj)})
            else:
                try:
                    start = int(since or "0")
                except ValueError:
                    raise bad_request(f"invalid resource version {since!r}") from None
                for event in self._history:
                    if event.rv > start and event.key == rt.key:
                        item = sub.translate(event)
                        if item is not None:
                            initial.append(item)
            self._subs.append(sub)
            return initial, sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self.lock:
            if sub in self._subs:
                self._subs.remove(sub)

    # --- admission -------------------------------------------------------------------------

    def _admit(
        self, rt: ResourceType, obj: Obj, old: Obj | None, field_validation: str | None
    ) -> list[str]:
        """Default, prune and validate `obj` in place; returns warnings; raises 400/422."""
        warnings: list[str] = []
        errors: list[FieldError] = []
        name = obj["metadata"].get("name", "")
        if rt.custom:
            assert rt.schema is not None
            dropped = schema.prune(obj, rt.schema)
            if dropped and field_validation == "Strict":
                raise bad_request(
                    "strict decoding error: "
                    + ", ".join(f'unknown field "{path}"' for path in dropped)
                )
            if field_validation != "Ignore":
                warnings += [f'unknown field "{path}"' for path in dropped]
            schema.apply_defaults(obj, rt.schema)
            errors += schema.validate(obj, rt.schema)
        elif rt.key == CRD_KEY:
            errors += self._admit_crd(obj, old)
        else:
            errors += builtins.normalize(rt.kind, obj, old, self._alloc_ip)
        errors += builtins.check_metadata(obj, rt.name_rule)
        if errors:
            raise invalid(rt.group, rt.kind, name, errors)
        return warnings

    def _admit_crd(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        errors: list[FieldError] = []
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [FieldError("spec", "FieldValueRequired", "Required value")]
        names = spec.get("names") or {}
        group = spec.get("group")
        if not group:
            errors.append(FieldError("spec.group", "FieldValueRequired", "Required value"))
        for field in ("plural", "kind"):
            if not names.get(field):
                errors.append(
                    FieldError(f"spec.names.{field}", "FieldValueRequired", "Required value")
                )
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errors.append(
                FieldError(
                    "spec.scope",
                    "FieldValueNotSupported",
                    f"Unsupported value: {_q(spec.get('scope'))}:"
                    ' supported values: "Cluster", "Namespaced"',
                )
            )
        versions = spec.get("versions") or []
        if sum(1 for v in versions if v.get("storage")) != 1:
            errors.append(
                FieldError(
                    "spec.versions",
                    "FieldValueInvalid",
                    "Invalid value: must have exactly one version marked as storage version",
                )
            )
        for i, version in enumerate(versions):
            if not version.get("name"):
                errors.append(
                    FieldError(f"spec.versions[{i}].name", "FieldValueRequired", "Required value")
                )
            version.setdefault("served", True)
            for err in schema.check_structural(
                (version.get("schema") or {}).get("openAPIV3Schema")
            ):
                errors.append(
                    FieldError(
                        err.field.replace("spec.versions[]", f"spec.versions[{i}]"),
                        err.reason,
                        err.message,
                    )
                )
        if (
            names.get("plural")
            and group
            and obj["metadata"].get("name") != f"{names['plural']}.{group}"
        ):
            errors.append(
                FieldError(
                    "metadata.name",
                    "FieldValueInvalid",
                    f"Invalid value: {_q(obj['metadata'].get('name'))}:"
                    ' must be spec.names.plural+"."+spec.group',
                )
            )
        if old is not None:
            old_spec = old.get("spec") or {}
            for field in ("group", "scope"):
                if old_spec.get(field) != spec.get(field):
                    errors.append(
                        FieldError(
                            f"spec.{field}",
                            "FieldValueInvalid",
                            "Invalid value: field is immutable",
                        )
                    )
        if errors:
            return errors
        kind = names["kind"]
        names.setdefault("singular", kind.lower())
        names.setdefault("listKind", f"{kind}List")
        spec.setdefault("conversion", {"strategy": "None"})
        stamp = now_rfc3339()
        old_status = (old or {}).get("status") or {}
        old_conditions = {c.get("type"): c for c in old_status.get("conditions") or []}

        def condition(type_: str, reason: str, message: str) -> dict[str, Any]:
            previous = old_conditions.get(type_) or {}
            return {
                "type": type_,
                "status": "True",
                "lastTransitionTime": previous.get("lastTransitionTime", stamp),
                "reason": reason,
                "message": message,
            }

        storage = next(v["name"] for v in versions if v.get("storage"))
        stored = list(old_status.get("storedVersions") or [])
        if storage not in stored:
            stored.append(storage)
        obj["status"] = {
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                condition(
                    "Established", "InitialNamesAccepted", "the initial names have been accepted"
                ),
            ],
            "acceptedNames": copy.deepcopy(names),
            "storedVersions": stored,
        }
        return errors

    # --- create ----------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        field_validation: str | None = None,
        keep_status: bool = False,
    ) -> tuple[Obj, list[str]]:
        with self.lock:
            obj = self._prepare_body(rt, body)
            meta = obj.setdefault("metadata", {})
            if rt.namespaced:
                if namespace is None:
                    raise ApiError(
                        404, "NotFound", "the server could not find the requested resource"
                    )
                if meta.get("namespace") not in (None, "", namespace):
                    raise bad_request(
                        "the namespace of the provided object does not match the namespace sent"
                        " on the request"
                    )
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            if not meta.get("name"):
                prefix = meta.get("generateName")
                if not prefix:
                    raise invalid(
                        rt.group,
                        rt.kind,
                        "",
                        [
                            FieldError(
                                "metadata.name",
                                "FieldValueRequired",
                                "Required value: name or generateName is required",
                            )
                        ],
                    )
                meta["name"] = self._generate_name(rt, namespace, prefix)
            name = meta["name"]
            if rt.namespaced and namespace is not None:
                self._check_namespace_open(rt, namespace, name)
            if (self._ns_key(rt, namespace), name) in self._bucket(rt.key):
                raise already_exists(rt.group, rt.plural, name)
            for field in _SERVER_META:
                meta.pop(field, None)
            if rt.has_status and not keep_status:
                obj.pop("status", None)
            warnings = self._admit(rt, obj, None, field_validation)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if rt.has_generation:
                meta["generation"] = 1
            if dry_run:
                return self._out(rt, obj), warnings
            meta["resourceVersion"] = str(self._next_rv())
            self._bucket(rt.key)[(self._ns_key(rt, namespace), name)] = obj
            self._after_write(rt, obj)
            self._emit("ADDED", rt.key, obj, None)
            created = self._out(rt, obj)
            if self._owners_absent(rt, obj):
                # The garbage collector checks a new dependent's owners: with all of them gone
                # (deleted while their controller was still creating children), it goes too.
                self._request_delete(rt, obj, "Background")
            return created, warnings

    def _owners_absent(self, rt: ResourceType, obj: Obj) -> bool:
        """Whether `obj` has owners and none of them exists (same uid, by kind and name)."""
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            return False
        for ref in refs:
            owner_rt = self.registry.by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind")))
            if owner_rt is None:
                return False  # a kind this server does not know: assume the owner exists
            namespace = obj["metadata"].get("namespace") if owner_rt.namespaced else None
            owner = self._bucket(owner_rt.key).get((self._ns_key(owner_rt, namespace), ref["name"]))
            if owner is not None and owner["metadata"].get("uid") == ref.get("uid"):
                return False
        return True

    def _prepare_body(self, rt: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(body)
        api_version = obj.get("apiVersion")
        if api_version not in (None, "") and api_version != rt.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API"
                f" version ({rt.api_version})"
            )
        kind = obj.get("kind")
        if kind not in (None, "") and kind != rt.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if not isinstance(obj.get("metadata", {}), dict):
            raise bad_request("metadata must be an object")
        return obj

    def _generate_name(self, rt: ResourceType, namespace: str | None, prefix: str) -> str:
        base = prefix[: 63 - 5] if len(prefix) > 58 else prefix
        for _ in range(100):
            candidate = base + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
            if (self._ns_key(rt, namespace), candidate) not in self._bucket(rt.key):
                return candidate
        raise ApiError(409, "AlreadyExists", "could not generate a unique name")

    def _check_namespace_open(self, rt: ResourceType, namespace: str, name: str) -> None:
        ns = self._bucket(NAMESPACE_KEY).get(("", namespace))
        if ns is None:
            if self.require_namespaces:
                raise not_found("", "namespaces", namespace)
            return
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{rt.group_resource} "{name}" is forbidden: unable to create new content in'
                f" namespace {namespace} because it is being terminated",
                details={"name": name, "kind": rt.plural, "group": rt.group},
            )

    def _after_write(self, rt: ResourceType, obj: Obj) -> None:
        if rt.key == CRD_KEY:
            spec = obj["spec"]
            self.registry.remove_crd_types(spec["group"], spec["names"]["plural"])
            for crd_type in types_from_crd(obj):
                self.registry.add(crd_type)

    # --- update / patch --------------------------------------------------------------------

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str | None = None,
        whole: bool = False,
    ) -> tuple[Obj, list[str]]:
        with self.lock:
            old = self._find(rt, namespace, name)
            new = self._prepare_body(rt, body)
            meta = new.setdefault("metadata", {})
            rv = meta.get("resourceVersion")
            if rv in (None, "") and rt.custom and not whole:
                raise invalid(
                    rt.group,
                    rt.kind,
                    name,
                    [
                        FieldError(
                            "metadata.resourceVersion",
                            "FieldValueInvalid",
                            "Invalid value: 0x0: must be specified for an update",
                        )
                    ],
                )
            return self._update(rt, old, new, subresource, dry_run, field_validation, whole=whole)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        content_type: str,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str | None = None,
    ) -> tuple[Obj, list[str]]:
        with self.lock:
            old = self._find(rt, namespace, name)
            current = self._out(rt, old)
            if content_type == JSON_PATCH:
                new = apply_json_patch(current, body)
            elif content_type == MERGE_PATCH:
                if not isinstance(body, dict):
                    raise bad_request("merge patch must be a JSON object")
                new = apply_merge_patch(current, body)
            elif content_type == STRATEGIC_PATCH and not rt.custom:
                if not isinstance(body, dict):
                    raise bad_request("strategic merge patch must be a JSON object")
                new = apply_strategic_merge_patch(current, body)
            else:
                accepted = [JSON_PATCH, MERGE_PATCH]
                if not rt.custom:
                    accepted.append(STRATEGIC_PATCH)
                if content_type == APPLY_PATCH:
                    # Server-side apply is not emulated; say so rather than pretend.
                    raise unsupported_media_type(
                        content_type + " (server-side apply is not emulated)", accepted
                    )
                raise unsupported_media_type(content_type, accepted)
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the patched object is not a JSON object")
            return self._update(rt, old, new, subresource, dry_run, field_validation)

    def _update(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        subresource: str | None,
        dry_run: bool,
        field_validation: str | None,
        *,
        whole: bool = False,
    ) -> tuple[Obj, list[str]]:
        old_meta = old["metadata"]
        name = old_meta["name"]
        new.setdefault("metadata", {})
        if not isinstance(new["metadata"], dict):
            raise bad_request("metadata must be an object")
        meta = new["metadata"]
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the"
                f" URL ({name})"
            )
        if rt.namespaced and meta.get("namespace", old_meta.get("namespace")) != old_meta.get(
            "namespace"
        ):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the"
                " request"
            )
        rv = meta.get("resourceVersion")
        if not whole and rv not in (None, "") and str(rv) != old_meta["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        uid = meta.get("uid")
        if uid not in (None, "") and uid != old_meta["uid"]:
            raise conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta:"
                f" {old_meta['uid']}",
            )
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif rt.has_status and not whole:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new["metadata"]
        for field in _SERVER_META:
            meta.pop(field, None)
            if field in old_meta:
                meta[field] = copy.deepcopy(old_meta[field])
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = old_meta["namespace"]
        else:
            meta.pop("namespace", None)
        if old_meta.get("deletionTimestamp"):
            added = [
                f
                for f in meta.get("finalizers") or []
                if f not in (old_meta.get("finalizers") or [])
            ]
            if added:
                raise invalid(
                    rt.group,
                    rt.kind,
                    name,
                    [
                        FieldError(
                            "metadata.finalizers",
                            "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being"
                            f" deleted, found new finalizers {added!r}",
                        )
                    ],
                )
        warnings = self._admit(rt, new, old, field_validation)
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if new == old:
            return self._out(rt, old), warnings
        if rt.has_generation and _strip_for_generation(new, rt.has_status) != _strip_for_generation(
            old, rt.has_status
        ):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if dry_run:
            return self._out(rt, new), warnings
        meta["resourceVersion"] = str(self._next_rv())
        key = (self._ns_key(rt, old_meta.get("namespace")), name)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._bucket(rt.key)[key] = new
            self._finish_delete(rt, new, bump=False)
            return self._out(rt, new), warnings
        self._bucket(rt.key)[key] = new
        self._after_write(rt, new)
        self._emit("MODIFIED", rt.key, new, old)
        return self._out(rt, new), warnings

    # --- scale subresource -----------------------------------------------------------------

    def get_scale(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        with self.lock:
            obj = self._find(rt, namespace, name)
            return self._scale_of(obj)

    @staticmethod
    def _scale_of(obj: Obj) -> Obj:
        spec = obj.get("spec") or {}
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
        }

    def update_scale(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        content_type: str | None,
    ) -> Obj:
        with self.lock:
            old = self._find(rt, namespace, name)
            scale = self._scale_of(old)
            if content_type is None:
                new_scale = body
            elif content_type == JSON_PATCH:
                new_scale = apply_json_patch(scale, body)
            elif content_type in (MERGE_PATCH, STRATEGIC_PATCH):
                new_scale = apply_merge_patch(scale, body)
            else:
                raise unsupported_media_type(
                    content_type, [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH]
                )
            replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise invalid(
                    "autoscaling",
                    "Scale",
                    name,
                    [
                        FieldError(
                            "spec.replicas",
                            "FieldValueInvalid",
                            f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                        )
                    ],
                )
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["replicas"] = replicas
            new["metadata"].pop("resourceVersion", None)
            rv = ((new_scale or {}).get("metadata") or {}).get("resourceVersion")
            if rv not in (None, "") and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name)
            updated, _ = self._update(rt, old, new, None, False, None)
            return self._scale_of(updated)

    # --- delete ----------------------------------------------------------------------------

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: dict[str, Any],
        *,
        dry_run: bool = False,
    ) -> Obj:
        with self.lock:
            obj = self._find(rt, namespace, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']},"
                    f" UID in object meta: {obj['metadata']['uid']}",
                )
            if (
                pre.get("resourceVersion")
                and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]
            ):
                raise conflict(
                    rt.group,
                    rt.plural,
                    name,
                    "Precondition failed: ResourceVersion in precondition:"
                    f" {pre['resourceVersion']}, ResourceVersion in object meta:"
                    f" {obj['metadata']['resourceVersion']}",
                )
            policy = options.get("propagationPolicy") or "Background"
            if options.get("orphanDependents") is True:
                policy = "Orphan"
            if policy not in ("Background", "Foreground", "Orphan"):
                raise bad_request(f"invalid propagationPolicy {policy!r}")
            if dry_run:
                return self._out(rt, obj)
            result = self._request_delete(rt, obj, policy)
            # Custom resources (and CRDs) answer with the object, as does a deletion that
            # is waiting for finalizers; the rest with a Success Status.
            pending = bool(result["metadata"].get("deletionTimestamp")) and self._still_there(
                rt, result
            )
            if rt.custom or rt.key == CRD_KEY or pending:
                return self._out(rt, result)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": name,
                    "group": rt.group,
                    "kind": rt.plural,
                    "uid": obj["metadata"]["uid"],
                },
            }

    def _still_there(self, rt: ResourceType, obj: Obj) -> bool:
        key = (self._ns_key(rt, obj["metadata"].get("namespace")), obj["metadata"]["name"])
        return key in self._bucket(rt.key)

    def delete_collection(
        self, rt: ResourceType, namespace: str | None, matches: Predicate, options: dict[str, Any]
    ) -> Obj:
        with self.lock:
            policy = options.get("propagationPolicy") or "Background"
            doomed = [o for o in self._iter(rt.key, namespace) if matches(o)]
            items = [self._out(rt, self._request_delete(rt, o, policy)) for o in doomed]
            return {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }

    def _dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        return [
            (rt, obj)
            for rt, obj in self._all_objects()
            if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
        ]

    def _request_delete(self, rt: ResourceType, obj: Obj, policy: str) -> Obj:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return obj
        uid = meta["uid"]
        if policy == "Orphan":
            for dep_rt, dep in self._dependents(uid):
                self._drop_owner(dep_rt, dep, uid)
        elif policy == "Foreground":
            # Dependents go first; the owner follows (the foreground finalizer's effect).
            for dep_rt, dep in self._dependents(uid):
                self._request_delete(dep_rt, dep, "Foreground")
        cascade = rt.key in (NAMESPACE_KEY, CRD_KEY)
        if meta.get("finalizers") or cascade:
            old = copy.deepcopy(obj)
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
            if rt.has_generation:
                meta["generation"] = int(meta.get("generation", 1)) + 1
            if rt.key == NAMESPACE_KEY:
                obj.setdefault("status", {})["phase"] = "Terminating"
            if rt.key == CRD_KEY:
                obj.setdefault("status", {}).setdefault("conditions", []).append(
                    {
                        "type": "Terminating",
                        "status": "True",
                        "reason": "InstanceDeletionInProgress",
                        "message": "CustomResource deletion is in progress",
                        "lastTransitionTime": now_rfc3339(),
                    }
                )
            meta["resourceVersion"] = str(self._next_rv())
            self._emit("MODIFIED", rt.key, obj, old)
            if cascade:
                self._empty_container(rt, obj)
            return obj
        self._finish_delete(rt, obj)
        return obj

    def _container_contents(self, rt: ResourceType, obj: Obj) -> list[tuple[ResourceType, Obj]]:
        if rt.key == NAMESPACE_KEY:
            ns = obj["metadata"]["name"]
            return [
                (r, o)
                for r, o in self._all_objects()
                if r.namespaced and o["metadata"].get("namespace") == ns
            ]
        spec = obj["spec"]
        key = (spec["group"], spec["names"]["plural"])
        content_rt = self.registry.by_key(key)
        if content_rt is None:
            return []
        return [(content_rt, o) for o in self._iter(key, None)]

    def _empty_container(self, rt: ResourceType, obj: Obj) -> None:
        for content_rt, content in self._container_contents(rt, obj):
            self._request_delete(content_rt, content, "Background")
        self._maybe_finish_container(rt, obj)

    def _maybe_finish_container(self, rt: ResourceType, obj: Obj) -> None:
        if not obj["metadata"].get("deletionTimestamp") or obj["metadata"].get("finalizers"):
            return
        if not self._still_there(rt, obj):
            return
        if not self._container_contents(rt, obj):
            self._finish_delete(rt, obj)

    def _drop_owner(self, rt: ResourceType, obj: Obj, uid: str) -> None:
        old = copy.deepcopy(obj)
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        self._emit("MODIFIED", rt.key, obj, old)

    def _finish_delete(self, rt: ResourceType, obj: Obj, *, bump: bool = True) -> None:
        meta = obj["metadata"]
        key = (self._ns_key(rt, meta.get("namespace")), meta["name"])
        self._bucket(rt.key).pop(key, None)
        if bump:
            meta["resourceVersion"] = str(self._next_rv())
        self._emit("DELETED", rt.key, obj, None)
        if rt.key == CRD_KEY:
            spec = obj["spec"]
            self.registry.remove_crd_types(spec["group"], spec["names"]["plural"])
            self._objects.pop((spec["group"], spec["names"]["plural"]), None)
        # Garbage collection: dependents whose every owner is gone are deleted (background).
        uid = meta["uid"]
        for dep_rt, dep in self._dependents(uid):
            if not self._still_there(dep_rt, dep):
                continue
            others = [
                r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
            ]
            if any(self._uid_exists(r.get("uid", "")) for r in others):
                self._drop_owner(dep_rt, dep, uid)
            else:
                self._request_delete(dep_rt, dep, "Background")
        # A namespace or CRD waiting for its content to go may now be empty.
        if rt.namespaced and meta.get("namespace"):
            ns = self._bucket(NAMESPACE_KEY).get(("", meta["namespace"]))
            if ns is not None:
                self._maybe_finish_container(self._type(NAMESPACE_KEY), ns)
        if rt.custom:
            crd = self._bucket(CRD_KEY).get(("", f"{rt.plural}.{rt.group}"))
            if crd is not None:
                self._maybe_finish_container(self._type(CRD_KEY), crd)

    # --- direct access for tests -----------------------------------------------------------

    def put(self, rt: ResourceType, obj: Obj) -> Obj:
        """Create or overwrite (status included, no resourceVersion check), with admission."""
        with self.lock:
            meta = obj.get("metadata") or {}
            namespace = meta.get("namespace") if rt.namespaced else None
            if rt.namespaced and not namespace:
                namespace = "default"
            existing = self._bucket(rt.key).get((self._ns_key(rt, namespace), meta.get("name", "")))
            if existing is None:
                created, _ = self.create(rt, namespace, obj, keep_status=True)
                return created
            replaced, _ = self.replace(rt, namespace, meta["name"], obj, whole=True)
            return replaced
