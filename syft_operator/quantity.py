"""Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`): the syntax and their value.

One regular expression for the CRD (RE2, what the API server runs) and the parser, so that the
schema and the operator's checks (requests <= limits, comparing a live child whose quantities the
API server rewrote in canonical form) agree.
"""

from __future__ import annotations

import decimal
import re

#: `resource.Quantity`'s grammar without the minus sign (resources are never negative): digits
#: with at most one point, then one binary suffix, one decimal suffix or one exponent.
QUANTITY = (
    r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)
_PATTERN = re.compile(QUANTITY)
_SUFFIXES: dict[str, decimal.Decimal] = {
    "": decimal.Decimal(1),
    "n": decimal.Decimal("1e-9"),
    "u": decimal.Decimal("1e-6"),
    "m": decimal.Decimal("1e-3"),
    "k": decimal.Decimal("1e3"),
    "M": decimal.Decimal("1e6"),
    "G": decimal.Decimal("1e9"),
    "T": decimal.Decimal("1e12"),
    "P": decimal.Decimal("1e15"),
    "E": decimal.Decimal("1e18"),
    **{
        suffix: decimal.Decimal(1024) ** (power + 1)
        for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))
    },
}


def parse_quantity(value: int | str) -> decimal.Decimal:
    """The quantity's value; `ValueError` for anything the API server would refuse."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return decimal.Decimal(value)
    if not isinstance(value, str) or not _PATTERN.match(value):
        raise ValueError(f"not a quantity: {str(value)[:40]!r}")
    match = re.match(r"^([+-]?[0-9.]+)(.*)$", value)
    if match is None:  # pragma: no cover - the pattern above guarantees a number
        raise ValueError(f"not a quantity: {value[:40]!r}")
    number, suffix = match.groups()
    if suffix[:1] in ("e", "E"):
        return decimal.Decimal(number) * decimal.Decimal(10) ** int(suffix[1:])
    return decimal.Decimal(number) * _SUFFIXES[suffix]


def same_quantity(a: object, b: object) -> bool:
    """True when both are quantities of equal value (`0.5` and `500m`)."""
    try:
        return parse_quantity(a) == parse_quantity(b)  # type: ignore[arg-type]
    except (ValueError, decimal.InvalidOperation):
        return False
