"""The three patch formats a real apiserver accepts from these clients.

- JSON patch (RFC 6902), with `test` (kopf's optimistic-concurrency guard on resourceVersion).
- JSON merge patch (RFC 7386).
- Strategic merge patch, for built-in kinds only: lists named in `MERGE_KEYS` are merged item by
  item on their merge key (`name` for containers/env/volumes/..., `mountPath` for volumeMounts,
  ...), `finalizers` are merged as a set, other lists are replaced; the directives `$patch`
  (replace/delete), `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`
  are honoured. Real servers take the merge keys from the Go types; this table covers the fields
  the workload kinds use.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.kubeapi.errors import ApiError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

#: list field name -> merge key. `ports` depends on where it is (see `_merge_key`).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "ownerReferences": "uid",
    "conditions": "type",
    "resourceClaims": "name",
}
#: Lists of scalars merged as sets (patchStrategy=merge on a []string).
PRIMITIVE_MERGE = {"finalizers"}


def _invalid(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


# --- JSON patch ------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict):
            if part not in current:
                raise _invalid(f"doc is missing path: {path!r}")
            current = current[part]
        elif isinstance(current, list):
            current = current[_index(current, part, path, allow_end=False)]
        else:
            raise _invalid(f"doc is missing path: {path!r}")
    return current


def _index(lst: list[Any], part: str, path: str, *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(lst)
    if not part.isdigit():
        raise _invalid(f"invalid array index {part!r} in {path!r}")
    idx = int(part)
    limit = len(lst) if allow_end else len(lst) - 1
    if idx > limit:
        raise _invalid(f"array index out of bounds in {path!r}")
    return idx


def _get(doc: Any, path: str) -> Any:
    current = doc
    for part in _pointer(path):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list):
            current = current[_index(current, part, path, allow_end=False)]
        else:
            raise _invalid(f"doc is missing path: {path!r}")
    return current


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise _invalid("cannot remove the whole document")
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, allow_end=False))
    raise _invalid(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _invalid(f"doc is missing key: {path!r}: missing value")
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, path, allow_end=False)] = value
        else:
            parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise _invalid(f"doc is missing path: {path!r}")
    return doc


def apply_json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    result: Any = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "BadRequest", f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            result = _add(result, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(result, path)
        elif kind == "replace":
            result = _add(result, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            value = _remove(result, op["from"])
            result = _add(result, path, value)
        elif kind == "copy":
            result = _add(result, path, copy.deepcopy(_get(result, op["from"])))
        elif kind == "test":
            try:
                actual = _get(result, path)
            except ApiError:
                actual = None
            if actual != op.get("value"):
                # kopf counts on 422 here: it means "someone wrote in between, retry".
                raise _invalid(
                    f"the server rejected our request due to an error in our request: testing"
                    f" value {path} failed"
                )
        else:
            raise ApiError(400, "BadRequest", f"unexpected json patch operation {kind!r}")
    if not isinstance(result, dict):
        raise _invalid("the patched document is not an object")
    return result


# --- JSON merge patch ------------------------------------------------------------------------


def apply_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


# --- strategic merge patch -------------------------------------------------------------------


def _merge_key(field: str, path: tuple[str, ...]) -> str | None:
    if field == "ports":
        # Container ports merge on containerPort, a Service's on port.
        return (
            "containerPort" if path and path[-1] in {"containers[]", "initContainers[]"} else "port"
        )
    return MERGE_KEYS.get(field)


def apply_strategic_merge_patch(target: Any, patch: Any) -> Any:
    return _smp(target, patch, ())


def _smp(target: Any, patch: Any, path: tuple[str, ...]) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    clean = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return _strip_directives(clean)
    if directive == "delete":
        return None
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders: dict[str, list[Any]] = {}
    retain: list[str] | None = None
    for key, value in clean.items():
        if key == "$retainKeys":
            retain = list(value or [])
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = list(value or [])
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            doomed = list(value or [])
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in doomed]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value, path)
        elif isinstance(value, dict):
            merged = _smp(result.get(key), value, (*path, key))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(field, result[field], order, path)
    if retain is not None:
        keep = set(retain)
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _merge_list(field: str, current: Any, patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    if field in PRIMITIVE_MERGE:
        merged = list(current) if isinstance(current, list) else []
        for item in patch:
            if item not in merged:
                merged.append(item)
        return merged
    key = _merge_key(field, path)
    is_objects = all(isinstance(item, dict) for item in patch)
    if key is None or not is_objects:
        return [_strip_directives(item) for item in patch]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [_strip_directives(i) for i in patch if i.get("$patch") != "replace"]
    merged = copy.deepcopy(current) if isinstance(current, list) else []
    for item in patch:
        match = next(
            (
                i
                for i, old in enumerate(merged)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if match is not None:
                merged.pop(match)
            continue
        if match is None:
            merged.append(_strip_directives(item))
        else:
            merged[match] = _smp(merged[match], item, (*path, f"{field}[]"))
    return merged


def _reorder(field: str, items: list[Any], order: list[Any], path: tuple[str, ...]) -> list[Any]:
    key = _merge_key(field, path)

    def ident(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    wanted = [ident(o) if isinstance(o, dict) else o for o in order]
    position = {value: i for i, value in enumerate(wanted) if isinstance(value, str | int)}
    ranked = [(position.get(ident(item), len(position) + n), item) for n, item in enumerate(items)]
    return [item for _, item in sorted(ranked, key=lambda pair: pair[0])]


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value
