"""The `fields` partial-response parameter: parse `a,b(c,d/e)`, validate, project.

Google drops every field the caller did not name, `nextPageToken` included, and rejects names
its schema does not have. The sandbox does both, checking names against the same discovery
document the official client is built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WILDCARD = "*"


class FieldsError(ValueError):
    """Malformed selection, or a name the resource schema does not have."""


@dataclass
class Selection:
    """children maps a field name to its sub-selection; None means the whole value."""

    children: dict[str, Selection | None] = field(default_factory=dict)

    def merge(self, name: str, sub: Selection | None) -> None:
        if name not in self.children:
            self.children[name] = sub
            return
        current = self.children[name]
        if current is None or sub is None:
            self.children[name] = None
            return
        for key, value in sub.children.items():
            current.merge(key, value)


def parse_fields(text: str) -> Selection:
    parser = _Parser(text)
    selection = parser.parse_list(top=True)
    return selection


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def _skip_space(self) -> None:
        while self._pos < len(self._text) and self._text[self._pos].isspace():
            self._pos += 1

    def _peek(self) -> str:
        self._skip_space()
        return self._text[self._pos] if self._pos < len(self._text) else ""

    def parse_list(self, *, top: bool) -> Selection:
        selection = Selection()
        while True:
            path = self._path()
            sub: Selection | None = None
            if self._peek() == "(":
                self._pos += 1
                sub = self.parse_list(top=False)
                if self._peek() != ")":
                    raise FieldsError("missing ')' in fields")
                self._pos += 1
            _add_path(selection, path, sub)
            nxt = self._peek()
            if nxt == ",":
                self._pos += 1
                continue
            if nxt == "" and top:
                return selection
            if nxt == ")" and not top:
                return selection
            raise FieldsError(f"unexpected {nxt!r} in fields")

    def _path(self) -> list[str]:
        parts = [self._name()]
        while self._peek() == "/":
            self._pos += 1
            parts.append(self._name())
        return parts

    def _name(self) -> str:
        self._skip_space()
        start = self._pos
        while self._pos < len(self._text) and (
            self._text[self._pos].isalnum() or self._text[self._pos] in "_*-."
        ):
            self._pos += 1
        name = self._text[start : self._pos]
        if not name or (WILDCARD in name and name != WILDCARD):
            raise FieldsError("empty or malformed field name")
        return name


def _add_path(selection: Selection, path: list[str], sub: Selection | None) -> None:
    node = selection
    for name in path[:-1]:
        existing = node.children.get(name, Selection())
        if existing is None:
            return  # the whole parent is already selected
        node.children[name] = existing
        node = existing
    node.merge(path[-1], sub)


def project(value: Any, selection: Selection | None) -> Any:
    if selection is None:
        return value
    if isinstance(value, list):
        return [project(item, selection) for item in value]
    if not isinstance(value, dict):
        return value
    if WILDCARD in selection.children and selection.children[WILDCARD] is None:
        wanted = {key: selection.children.get(key) for key in value}
    else:
        wanted = selection.children
    out: dict[str, Any] = {}
    for key, sub in wanted.items():
        if key == WILDCARD:
            continue
        if key in value:
            out[key] = project(value[key], sub)
    return out


def validate(selection: Selection, schema_name: str, schemas: dict[str, Any]) -> None:
    """Raise FieldsError naming the first selected field the schema does not define."""
    _validate(selection, {"$ref": schema_name}, schemas, "")


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 10:
        schema = schemas.get(schema["$ref"], {})
        seen += 1
    while schema.get("type") == "array" and "items" in schema:
        schema = schema["items"]
        while "$ref" in schema:
            schema = schemas.get(schema["$ref"], {})
    return schema


def _validate(
    selection: Selection, schema: dict[str, Any], schemas: dict[str, Any], prefix: str
) -> None:
    resolved = _resolve(schema, schemas)
    properties: dict[str, Any] = resolved.get("properties", {})
    additional = resolved.get("additionalProperties")
    for name, sub in selection.children.items():
        if name == WILDCARD:
            continue
        if name in properties:
            child_schema = properties[name]
        elif isinstance(additional, dict):
            child_schema = additional
        else:
            raise FieldsError(f"Invalid field selection {prefix}{name}")
        if sub is not None:
            _validate(sub, child_schema, schemas, f"{prefix}{name}/")
