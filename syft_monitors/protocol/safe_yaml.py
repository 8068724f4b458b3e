"""Bounded, alias-free loading of the small YAML files jobs carry (`config.yaml`, `state.yaml`).

`yaml.safe_load` never runs code, but on its own it still accepts three things we do not want
from a peer: unbounded input, anchors/aliases (a few hundred bytes can describe a structure that
explodes when later serialised to JSON or rendered into an email), and deep nesting (the composer
recurses). The event stream is scanned iteratively first, then the document is composed, then it
is converted to plain JSON-compatible values (timestamps become ISO strings). A repeated key is
last-wins here, as in upstream's own `yaml.safe_load`, so both read a job the same way.

`UniqueKeyLoader` is for the monitor's own config files, where a repeated key is a mistake that
last-wins would hide.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import yaml

from syft_monitors.errors import InvalidJobError
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.limits import DEFAULT_LIMITS, Limits

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping repeats a key; `problem_mark` is the repetition, `first_line` the original."""

    def __init__(self, key: object, first_line: int, mark: yaml.Mark | None) -> None:
        shown = safe_repr(key if isinstance(key, str) else repr(key))
        super().__init__(None, None, f"duplicate key {shown} (first on line {first_line})", mark)
        self.key = key
        self.first_line = first_line


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that raises `DuplicateKeyError` where PyYAML keeps the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue  # merges may override on purpose; complex keys are refused anyway
            key = self.construct_object(key_node)  # a scalar: always hashable
            first = seen.get(key)
            if first is not None:
                raise DuplicateKeyError(key, first, key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_unique_yaml(text: str | bytes) -> Any:
    """`yaml.safe_load` with repeated keys refused (`DuplicateKeyError`, a `yaml.YAMLError`)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def load_yaml_mapping(data: bytes, *, what: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Parse `data` as one YAML mapping of plain values; raise `InvalidJobError` otherwise."""
    if len(data) > limits.max_yaml_bytes:
        raise InvalidJobError(f"{what} is {len(data)} bytes, more than {limits.max_yaml_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJobError(f"{what} is not UTF-8 text") from error
    try:
        _check_events(text, what=what, max_depth=limits.max_yaml_depth)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidJobError(f"{what} is not valid YAML: {_mark(error)}") from error
    if not isinstance(document, dict):
        raise InvalidJobError(f"{what} is not a YAML mapping")
    plain = _plain(document, what=what)
    assert isinstance(plain, dict)
    return plain


def _check_events(text: str, *, what: str, max_depth: int) -> None:
    depth = 0
    documents = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise InvalidJobError(f"{what} uses YAML aliases, which are not accepted")
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise InvalidJobError(f"{what} holds more than one YAML document")
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise InvalidJobError(f"{what} nests deeper than {max_depth} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _plain(value: Any, *, what: str) -> Any:
    # Depth is already bounded by `_check_events`, so recursion here is shallow.
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidJobError(f"{what} contains a non-finite number")
        return value
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item, what=what) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, what=what) for item in value]
    if isinstance(value, set):
        return sorted(str(item) for item in value)
    raise InvalidJobError(f"{what} contains a value of unsupported type {type(value).__name__}")


def _mark(error: yaml.YAMLError) -> str:
    # The problem text of PyYAML can quote the document; report only the position.
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        return f"line {mark.line + 1} column {mark.column + 1}"
    return type(error).__name__
