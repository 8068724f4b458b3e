"""values.yaml documents every key, and values.schema.json closes every object it describes."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from observability_docs import ROOT

CHART = ROOT / "charts" / "syft-monitor"
VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
KEY = re.compile(r"^(\s*)([A-Za-z][\w-]*):")
#: Free-form maps handed to Kubernetes as they are (labels, resources, affinity, ...).
FREE_FORM = {
    "annotations",
    "additionalLabels",
    "additionalRuleLabels",
    "podAnnotations",
    "podLabels",
    "nodeSelector",
    "resources",
    "affinity",
    "labels",
    "global",
}


def test_every_key_has_a_comment_above_it() -> None:
    lines = VALUES_TEXT.splitlines()
    missing = []
    for index, line in enumerate(lines):
        match = KEY.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        above = lines[index - 1] if index else ""
        indent = match[1]
        if not (above.startswith(f"{indent}#") or (above.startswith(indent) and "# " in above)):
            missing.append(f"line {index + 1}: {line.strip()}")
    assert not missing, "values.yaml keys without a comment:\n" + "\n".join(missing)


def _closed(node: dict[str, Any], path: str, problems: list[str]) -> None:
    if node.get("type") == "object" and "properties" in node:
        if node.get("additionalProperties") is not False:
            problems.append(path or "/")
        for name, child in node["properties"].items():
            if name not in FREE_FORM:
                _closed(child, f"{path}/{name}", problems)
    if isinstance(node.get("items"), dict):
        _closed(node["items"], f"{path}[]", problems)


def test_schema_closes_every_object() -> None:
    problems: list[str] = []
    _closed(SCHEMA, "", problems)
    assert not problems, f"objects without additionalProperties: false: {problems}"


def _paths(values: Any, schema: dict[str, Any], path: str, out: list[str]) -> None:
    if not isinstance(values, dict) or path.rsplit("/", 1)[-1] in FREE_FORM:
        return
    for key, value in values.items():
        child = (schema.get("properties") or {}).get(key)
        if child is None:
            out.append(f"{path}/{key}")
            continue
        _paths(value, child, f"{path}/{key}", out)


def test_schema_describes_every_default_value() -> None:
    unknown: list[str] = []
    _paths(VALUES, SCHEMA, "", unknown)
    assert not unknown


def test_every_schema_property_has_a_description_and_a_default() -> None:
    """Each setting is documented in the schema and has its default in values.yaml."""
    missing = []

    def walk(node: dict[str, Any], values: Any, path: str) -> None:
        for name, child in (node.get("properties") or {}).items():
            if path == "" and name == "global":
                continue
            if not isinstance(values, dict) or name not in values:
                missing.append(f"{path}/{name}: no default")
                continue
            if "description" not in child:
                missing.append(f"{path}/{name}: no description")
            if name not in FREE_FORM:
                walk(child, values[name], f"{path}/{name}")

    walk(SCHEMA, VALUES, "")
    assert not missing, missing
