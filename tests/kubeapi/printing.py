"""Server-side `Table` output for custom resources (what `kubectl get <cr>` prints).

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`. For a custom resource the
apiserver builds the columns from the CRD's `additionalPrinterColumns` (Name first; Name and Age
when there are none), evaluating each column's JSONPath; `date` columns become ages. Built-in
kinds are answered as plain lists, and kubectl prints them with its own compiled-in columns.

JSONPath understood: `.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.k=="v")].b` (the forms printer columns
use).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from tests.kubeapi.resources import ResourceType

_STEP = re.compile(
    r"\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]"
)


def wants_table(accept: str | None) -> bool:
    return bool(accept) and "as=Table" in (accept or "")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """All values `path` selects in `obj` (empty when nothing matches)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    values = [obj]
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            return []
        position = match.end()
        field, index, filter_key, filter_value = match.groups()
        selected: list[Any] = []
        for value in values:
            if field is not None and isinstance(value, dict) and field in value:
                selected.append(value[field])
            elif index == "*" and isinstance(value, list):
                selected.extend(value)
            elif index is not None and index != "*" and isinstance(value, list):
                if int(index) < len(value):
                    selected.append(value[int(index)])
            elif filter_key is not None and isinstance(value, list):
                selected.extend(
                    item
                    for item in value
                    if isinstance(item, dict) and str(item.get(filter_key)) == filter_value
                )
        values = selected
    return values


def _age(stamp: str, now: dt.datetime) -> str:
    try:
        then = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    seconds = max(int((now - then).total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _cell(values: list[Any], column_type: str, now: dt.datetime) -> Any:
    if not values:
        return None
    value = values[0] if len(values) == 1 else values
    if column_type == "date" and isinstance(value, str):
        return _age(value, now)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def table(rt: ResourceType, objects: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    columns = list(rt.printer_columns) or [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ]
    definitions = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 0,
        }
    ]
    for column in columns:
        definitions.append(
            {
                "name": column["name"],
                "type": column.get("type", "string"),
                "format": column.get("format", ""),
                "description": column.get("description", ""),
                "priority": column.get("priority", 0),
            }
        )
    now = dt.datetime.now(dt.UTC)
    rows = []
    for obj in objects:
        meta = obj["metadata"]
        cells: list[Any] = [meta["name"]]
        for column in columns:
            cells.append(
                _cell(jsonpath(obj, column["jsonPath"]), column.get("type", "string"), now)
            )
        rows.append(
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
