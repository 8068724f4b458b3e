"""Custom resources against their CRD's openAPIV3Schema: prune, default, validate.

The order is the apiserver's: unknown fields are pruned (unless `x-kubernetes-preserve-unknown-
fields`), then `default`s are applied, then the object is validated. With
`fieldValidation=Strict` an unknown field is a 400 instead of being pruned. Errors become one 422
Status whose message and `details.causes` name the fields, worded like the apiserver's.

Understood: type, properties, required, enum, pattern, minimum/maximum (+ exclusive), min/max
Length/Items/Properties, multipleOf, uniqueItems, items, additionalProperties, allOf/anyOf/oneOf/
not, nullable, default, x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields,
x-kubernetes-list-type (set, map + list-map-keys), and x-kubernetes-validations: each CEL `rule`
is evaluated with `self` bound to its node (by `celpy`, the pure-Python CEL runtime: the standard
macros and string functions, plus Kubernetes' quantity library as far as `quantity()`,
`isQuantity()`, `compareTo`, `isLessThan` and `isGreaterThan`; not the other Kubernetes
libraries nor `oldSelf` transition rules), after the schema passed, as the apiserver does; a
failing rule is one field error at the node (plus `fieldPath`), worded by its `reason` (default
FieldValueInvalid) with the rule's `message`. Not evaluated: `format`.
"""

from __future__ import annotations

import copy
import decimal
import functools
import json
import re
from collections.abc import Iterable
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]

from tests.kubeapi.errors import FieldError

_ANNOTATIONS = {
    "nullable",
    "default",
    "description",
    "example",
    "externalDocs",
    "title",
    "format",
}
_ROOT_FIELDS = {"apiVersion", "kind", "metadata"}


def to_jsonschema(schema: dict[str, Any]) -> dict[str, Any]:
    """The structural schema in draft-4 terms (OpenAPI 3.0's exclusiveMinimum is a boolean)."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_jsonschema(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = (
                to_jsonschema(value)
                if isinstance(value, dict)
                else [to_jsonschema(v) for v in value]
            )
        elif key == "additionalProperties":
            out[key] = to_jsonschema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_jsonschema(v) for v in value]
        elif key == "not":
            out[key] = to_jsonschema(value)
        elif key.startswith("x-kubernetes-") or key in _ANNOTATIONS:
            continue
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _field(path: Iterable[str | int]) -> str:
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            rendered += f".{part}" if rendered else part
    return rendered


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- pruning ---------------------------------------------------------------------------------


def prune(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Drop fields the schema does not know, in place; returns their paths."""
    dropped: list[str] = []
    for key in list(obj):
        if key in _ROOT_FIELDS:
            continue
        props = schema.get("properties") or {}
        if key in props:
            _prune(obj[key], props[key], [key], dropped)
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            dropped.append(key)
            del obj[key]
    return dropped


def _prune(value: Any, schema: dict[str, Any], path: list[str | int], dropped: list[str]) -> None:
    if isinstance(value, dict):
        props = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        if props is not None:
            for key in list(value):
                if key in props:
                    _prune(value[key], props[key], [*path, key], dropped)
                elif isinstance(additional, dict):
                    _prune(value[key], additional, [*path, key], dropped)
                elif not preserve and additional is not True:
                    dropped.append(_field([*path, key]))
                    del value[key]
        elif isinstance(additional, dict):
            for key in value:
                _prune(value[key], additional, [*path, key], dropped)
        elif not preserve and additional is not True and schema.get("type") == "object":
            for key in list(value):
                dropped.append(_field([*path, key]))
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune(item, schema["items"], [*path, i], dropped)


# --- defaulting ------------------------------------------------------------------------------


def apply_defaults(value: Any, schema: dict[str, Any]) -> None:
    """Fill `default`s in place where a field is absent (or null and not nullable)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            missing = key not in value or (value[key] is None and not sub.get("nullable"))
            if missing and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                apply_defaults(value[key], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                if key not in props:
                    apply_defaults(value[key], additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


# --- validation ------------------------------------------------------------------------------


def validate(obj: dict[str, Any], schema: dict[str, Any]) -> list[FieldError]:
    body = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
    root = {k: v for k, v in schema.items() if k != "properties"}
    root["properties"] = {
        k: v for k, v in (schema.get("properties") or {}).items() if k not in _ROOT_FIELDS
    }
    validator = jsonschema.Draft4Validator(to_jsonschema(root))
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        for item in _describe(error):
            if (item.field, item.message) not in seen:
                seen.add((item.field, item.message))
                errors.append(item)
    errors.extend(_list_types(body, root, []))
    if not errors:
        errors.extend(_cel_rules(body, root, []))
    return errors


# --- CEL validation rules --------------------------------------------------------------------

_CEL_REASONS = {
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueDuplicate": "Duplicate value",
}


def _cel_rules(value: Any, schema: dict[str, Any], path: list[str | int]) -> list[FieldError]:
    errors: list[FieldError] = []
    for rule in schema.get("x-kubernetes-validations") or []:
        if not _cel_holds(rule["rule"], value):
            where = _field(path)
            extra = str(rule.get("fieldPath") or "").lstrip(".")
            if extra:
                where = f"{where}.{extra}" if where else extra
            reason = rule.get("reason", "FieldValueInvalid")
            label = _CEL_REASONS.get(reason, "Invalid value")
            if reason == "FieldValueInvalid":
                label += f': "{_type_name(value)}"'
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            errors.append(FieldError(where, reason, f"{label}: {message}"))
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                errors.extend(_cel_rules(value[key], sub, [*path, key]))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors.extend(_cel_rules(item, schema["items"], [*path, i]))
    return errors


_QUANTITY = re.compile(
    r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)
_DECIMAL_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15}
_DECIMAL_SUFFIX["E"] = 18
_BINARY_SUFFIX = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}


def _quantity_value(text: str) -> decimal.Decimal:
    """resource.Quantity's value, written from its documented grammar (not the operator's)."""
    if not _QUANTITY.match(text):
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    number = re.match(r"^[+-]?[0-9.]+", text)
    assert number is not None
    suffix = text[number.end() :]
    value = decimal.Decimal(number.group())
    if suffix in _BINARY_SUFFIX:
        return value * decimal.Decimal(1024) ** _BINARY_SUFFIX[suffix]
    if suffix[:1] in ("e", "E"):
        return value.scaleb(int(suffix[1:]))
    return value.scaleb(_DECIMAL_SUFFIX[suffix])


def _cel_functions() -> dict[str, Any]:
    from celpy import celtypes  # noqa: PLC0415

    class Quantity(celtypes.StringType):
        @property
        def value(self) -> decimal.Decimal:
            return _quantity_value(str(self))

    def quantity(text: Any) -> Any:
        _quantity_value(str(text))
        return Quantity(str(text))

    def compare(a: Any, b: Any) -> Any:
        x, y = a.value, b.value
        return celtypes.IntType((x > y) - (x < y))

    return {
        "quantity": quantity,
        "isQuantity": lambda text: celtypes.BoolType(bool(_QUANTITY.match(str(text)))),
        "compareTo": compare,
        "isLessThan": lambda a, b: celtypes.BoolType(a.value < b.value),
        "isGreaterThan": lambda a, b: celtypes.BoolType(a.value > b.value),
    }


@functools.lru_cache(maxsize=256)
def _cel_program(rule: str) -> Any:
    import celpy  # noqa: PLC0415 - only CRDs with rules need it

    environment = celpy.Environment()
    return environment.program(environment.compile(rule), functions=_cel_functions())


def _cel_holds(rule: str, value: Any) -> bool:
    from celpy.adapter import json_to_cel  # noqa: PLC0415

    result = _cel_program(rule).evaluate({"self": json_to_cel(value)})
    if isinstance(result, Exception):
        # A runtime error (e.g. no such key) fails the rule, as it does in the apiserver.
        return False
    return bool(result)


def _describe(error: jsonschema.ValidationError) -> list[FieldError]:
    path = list(error.absolute_path)
    field = _field(path)
    value = error.instance
    kind = error.validator
    expected = error.validator_value
    if kind == "required":
        missing = [name for name in expected if isinstance(value, dict) and name not in value]
        return [
            FieldError(_field([*path, name]), "FieldValueRequired", "Required value")
            for name in missing
        ]
    if kind == "enum":
        supported = ", ".join(_json(v) for v in expected if v is not None)
        return [
            FieldError(
                field,
                "FieldValueNotSupported",
                f"Unsupported value: {_json(value)}: supported values: {supported}",
            )
        ]
    if kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(t for t in types if t != "null")
        got = _type_name(value)
        return [
            FieldError(
                field,
                "FieldValueTypeInvalid",
                f'Invalid value: "{got}": {field} in body must be of type {wanted}: "{got}"',
            )
        ]
    if kind == "pattern":
        return [
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_json(value)}: {field} in body should match '{expected}'",
            )
        ]
    if kind == "minimum":
        exclusive = error.schema.get("exclusiveMinimum") is True
        relation = "greater than" if exclusive else "greater than or equal to"
        return [
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_json(value)}: {field} in body should be {relation} {expected}",
            )
        ]
    if kind == "maximum":
        exclusive = error.schema.get("exclusiveMaximum") is True
        relation = "less than" if exclusive else "less than or equal to"
        return [
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_json(value)}: {field} in body should be {relation} {expected}",
            )
        ]
    if kind == "maxLength":
        return [
            FieldError(field, "FieldValueTooLong", f"Too long: may not be longer than {expected}")
        ]
    if kind == "minLength":
        return [
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_json(value)}: {field} in body should be at least {expected}"
                " chars long",
            )
        ]
    if kind == "maxItems":
        return [
            FieldError(
                field,
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {expected} items",
            )
        ]
    if kind == "minItems":
        return [
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {field} in body should have at least {expected}"
                " items",
            )
        ]
    if kind == "uniqueItems":
        return [FieldError(field, "FieldValueDuplicate", f"Duplicate value: {_json(value)}")]
    return [
        FieldError(field, "FieldValueInvalid", f"Invalid value: {_json(value)}: {error.message}")
    ]


def _list_types(value: Any, schema: dict[str, Any], path: list[str | int]) -> list[FieldError]:
    errors: list[FieldError] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, item in value.items():
            sub = props.get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                errors.extend(_list_types(item, sub, [*path, key]))
    elif isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for i, item in enumerate(value):
            ident = (
                {k: item.get(k) for k in keys}
                if list_type == "map" and isinstance(item, dict)
                else item
            )
            if list_type in ("set", "map"):
                if ident in seen:
                    errors.append(
                        FieldError(
                            _field([*path, i]),
                            "FieldValueDuplicate",
                            f"Duplicate value: {_json(ident)}",
                        )
                    )
                seen.append(ident)
            if isinstance(schema.get("items"), dict):
                errors.extend(_list_types(item, schema["items"], [*path, i]))
    return errors


def check_structural(schema: Any) -> list[FieldError]:
    """The few CRD schema rules whose violation would make validation meaningless."""
    where = "spec.versions[].schema.openAPIV3Schema"
    if not isinstance(schema, dict):
        return [FieldError(where, "FieldValueRequired", "Required value: schemas are required")]
    if schema.get("type") != "object":
        return [
            FieldError(
                f"{where}.type",
                "FieldValueInvalid",
                'Unsupported value: must be "object" at the root',
            )
        ]
    try:
        jsonschema.Draft4Validator.check_schema(to_jsonschema(schema))
    except jsonschema.SchemaError as e:
        return [FieldError(where, "FieldValueInvalid", f"Invalid value: {e.message}")]
    return []
