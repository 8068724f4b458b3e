"""Reading the small JSON control files SyftBox keeps in Drive (`SYFT_peers.json`, ...).

These files are written by other people's clients, so reading them is bounded and strict: a size
limit before decoding, UTF-8 only, no duplicate keys (which `json` would silently collapse), no
`NaN`/`Infinity`, nesting bounded before the parser recurses (`json_depth_exceeds`, also used for
messages, state and token files), and number sizes that would blow up the parser become our
error. Messages name the file and the problem, never its contents.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from syft_monitors.errors import SyftFileError
from syft_monitors.protocol.emails import safe_repr

#: Nesting of `[`/`{` accepted in a JSON file; real ones nest a handful of levels. Deeper input
#: would make `json.loads` recurse until a RecursionError.
MAX_JSON_DEPTH = 64

_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")


def json_depth_exceeds(text: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets outside strings nest deeper than `max_depth`; iterative, linear time."""
    brackets = _NOT_BRACKET_RE.sub("", _STRING_RE.sub("", text))
    depth = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _ConstantError(ValueError):
    pass


def load_json_object(
    data: bytes, *, what: str, max_bytes: int, max_depth: int = MAX_JSON_DEPTH
) -> dict[str, Any]:
    """Decode `data` as one JSON object; raise `SyftFileError` naming `what` otherwise."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SyftFileError(f"{what} must be bytes, got {type(data).__name__}")
    size = len(data)
    if size > max_bytes:
        raise SyftFileError(f"{what} is {size} bytes, more than the {max_bytes}-byte limit")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise SyftFileError(f"{what} is not UTF-8 text (bad byte at offset {e.start})") from e
    if json_depth_exceeds(text, max_depth):
        raise SyftFileError(f"{what} nests JSON values deeper than {max_depth} levels")
    try:
        value = json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse
        )
    except _DuplicateKeyError as e:
        raise SyftFileError(f"{what} repeats the key {safe_repr(e.key)}") from e
    except _ConstantError as e:
        raise SyftFileError(f"{what} contains NaN or Infinity, which JSON does not allow") from e
    except json.JSONDecodeError as e:
        raise SyftFileError(f"{what} is not valid JSON (line {e.lineno}, column {e.colno})") from e
    except ValueError as e:  # e.g. an integer literal beyond Python's digit limit
        raise SyftFileError(f"{what} is not valid JSON (a number is too large)") from e
    except RecursionError as e:  # pragma: no cover - prevented by the depth check
        raise SyftFileError(f"{what} nests JSON values too deeply") from e
    if not isinstance(value, dict):
        raise SyftFileError(f"{what} must be a JSON object, found {json_type(value)}")
    return value


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def validation_summary(what: str, error: ValidationError) -> str:
    """One line from a pydantic error: where and why, never the offending input value."""
    problems = error.errors(include_url=False, include_input=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if not all(isinstance(part, int) or part.isidentifier() for part in first["loc"]):
        where = safe_repr(where)  # a location can be a key taken from the file
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"{what}: {where}: {first['msg']}{more}"


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _refuse(constant: str) -> Any:
    raise _ConstantError(constant)
