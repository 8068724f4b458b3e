"""Label and field selectors, with the apiserver's syntax.

Labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined by commas (AND).
Fields: `path=value`, `path==value`, `path!=value` on dotted paths (`metadata.name`,
`involvedObject.uid`, `type`, ...). A real server accepts only a few field paths per kind and
rejects others with 400; this one evaluates any dotted path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tests.kubeapi.errors import ApiError, bad_request

Predicate = Callable[[Mapping[str, Any]], bool]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*({_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside `( )`."""
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_label_selector(selector: str | None) -> Predicate:
    """A predicate over a labels dict; raises ApiError(400) on bad syntax."""
    if not selector or not selector.strip():
        return lambda labels: True
    checks: list[Predicate] = []
    for requirement in _split(selector):
        checks.append(_label_requirement(requirement, selector))
    return lambda labels: all(check(labels) for check in checks)


def _label_requirement(requirement: str, selector: str) -> Predicate:
    m = _SET_RE.match(requirement)
    if m:
        key, op, raw_values = m.groups()
        values = {v.strip() for v in raw_values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    m = _EQ_RE.match(requirement)
    if m:
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    m = _EXISTS_RE.match(requirement)
    if m:
        negate, key = m.groups()
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise _bad("labelSelector", selector)


def _bad(param: str, selector: str) -> ApiError:
    return bad_request(f"unable to parse requirement: invalid {param} {selector!r}")


def _lookup(obj: Mapping[str, Any], path: str) -> str | None:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    if current is None:
        return None
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(selector: str | None) -> Predicate:
    """A predicate over a whole object; raises ApiError(400) on bad syntax."""
    if not selector or not selector.strip():
        return lambda obj: True
    checks: list[Predicate] = []
    for requirement in _split(selector):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", requirement)
        if not m:
            raise _bad("fieldSelector", selector)
        path, op, value = m.groups()
        checks.append(_field_requirement(path, op == "!=", value))
    return lambda obj: all(check(obj) for check in checks)


def _field_requirement(path: str, negate: bool, value: str) -> Predicate:
    if negate:
        return lambda obj: _lookup(obj, path) != value
    return lambda obj: (_lookup(obj, path) or "") == value


def object_matcher(label_selector: str | None, field_selector: str | None) -> Predicate:
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector)

    def matches(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return labels(meta.get("labels") or {}) and fields(obj)

    return matches
