"""Email addresses as SyftBox uses them: datasite names, peer ids, folder name parts.

Deliberately stricter than RFC 5322: these strings end up in Drive folder names, file paths and
email headers, so we accept the dot-atom form only (no quotes, no comments, no spaces, no control
or bidi characters) with a domain of at least two labels.
"""

from __future__ import annotations

import re

from syft_monitors.errors import InvalidEmailError

MAX_EMAIL_LENGTH = 254

_LOCAL_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = rf"{_LOCAL_ATOM}(?:\.{_LOCAL_ATOM})*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})+"
_EMAIL_RE = re.compile(rf"{_LOCAL}@{_DOMAIN}")
# Characters that are legal in the local part above but dangerous in folder names and shells.
_FORBIDDEN = set("/\\#`$|&'*?=!{}^~%")


def is_valid_email(value: str) -> bool:
    """True when `value` is an address we accept as a SyftBox identity."""
    if not value or len(value) > MAX_EMAIL_LENGTH or not value.isascii():
        return False
    if _FORBIDDEN.intersection(value):
        return False
    if _EMAIL_RE.fullmatch(value) is None:
        return False
    local, _, domain = value.rpartition("@")
    return len(local) <= 64 and not domain.split(".")[-1].isdigit()


def validate_email(value: str, *, what: str = "email") -> str:
    """Return `value` unchanged, or raise `InvalidEmailError` naming `what` was expected."""
    if not isinstance(value, str) or not is_valid_email(value):
        raise InvalidEmailError(f"{what} is not a valid email address: {safe_repr(value)}")
    return value


def normalize_email(value: str) -> str:
    """Lower-case form used for comparisons and state keys (Gmail/Workspace are case-blind)."""
    return value.strip().lower()


def safe_repr(value: object, limit: int = 80) -> str:
    """A printable, bounded rendering of untrusted text for error messages and logs."""
    text = value if isinstance(value, str) else repr(value)
    cleaned = "".join(ch if ch.isprintable() and not _is_bidi(ch) else "\ufffd" for ch in text)
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "\u2026"
    return repr(cleaned)


def _is_bidi(ch: str) -> bool:
    return ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
