"""Relative paths from untrusted sources: one canonical spelling, checked without touching disk.

A `path_in_datasite`, a tar member name or a folder name on the data owner's disk is accepted only
in one canonical spelling: POSIX separators, no `.`/`..`/empty segments, no leading or trailing
slash, no backslash, and no character that can hide or reorder text on a terminal or in an email
(control, line/paragraph separator, surrogate, bidi override). Rejecting instead of normalising
means two different strings never name the same file.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

from syft_monitors.errors import UnsafePathError
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.limits import DEFAULT_LIMITS

#: Longest single path segment in UTF-8 bytes (NAME_MAX on Linux and macOS).
MAX_SEGMENT_BYTES = 255

_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Cc: C0/C1 controls incl. NUL, CR, LF, ESC; Zl/Zp: U+2028/U+2029 line breaks; Cs: lone surrogates
# (cannot be encoded to UTF-8, so such a name cannot exist on disk anyway).
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def unsafe_character(text: str) -> str | None:
    """The first character of `text` we never accept in a name, or None when there is none."""
    for ch in text:
        if ch in _BIDI_CONTROLS or ch == "\ufeff":
            return ch
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            return ch
    return None


def check_segment(segment: str, *, what: str = "path segment") -> str:
    """Validate one path component (a file or folder name) and return it unchanged."""
    if not isinstance(segment, str) or not segment:
        raise UnsafePathError(f"{what} is empty")
    if segment in {".", ".."}:
        raise UnsafePathError(f"{what} is {segment!r}")
    if "/" in segment or "\\" in segment:
        raise UnsafePathError(f"{what} contains a path separator: {safe_repr(segment)}")
    bad = unsafe_character(segment)
    if bad is not None:
        raise UnsafePathError(f"{what} contains forbidden character U+{ord(bad):04X}")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise UnsafePathError(f"{what} is longer than {MAX_SEGMENT_BYTES} bytes")
    return segment


def safe_relative_path(
    path: str, *, what: str = "path", max_length: int = DEFAULT_LIMITS.max_path_length
) -> PurePosixPath:
    """Return `path` as a `PurePosixPath` if it is a canonical relative path, else raise.

    Raises `UnsafePathError` for: non-strings, empty, longer than `max_length` characters,
    absolute, trailing slash, backslash, empty (`a//b`), `.` or `..` segments, and any character
    rejected by `unsafe_character` (NUL, CR/LF, other controls, bidi marks).
    """
    if not isinstance(path, str):
        raise UnsafePathError(f"{what} is not a string")
    if not path:
        raise UnsafePathError(f"{what} is empty")
    if len(path) > max_length:
        raise UnsafePathError(f"{what} is longer than {max_length} characters")
    if "\\" in path:
        raise UnsafePathError(f"{what} contains a backslash: {safe_repr(path)}")
    if path.startswith("/"):
        raise UnsafePathError(f"{what} is absolute: {safe_repr(path)}")
    if path.endswith("/"):
        raise UnsafePathError(f"{what} ends with a slash: {safe_repr(path)}")
    bad = unsafe_character(path)
    if bad is not None:
        raise UnsafePathError(f"{what} contains forbidden character U+{ord(bad):04X}")
    for segment in path.split("/"):
        if not segment:
            raise UnsafePathError(f"{what} has an empty segment: {safe_repr(path)}")
        if segment in {".", ".."}:
            raise UnsafePathError(f"{what} has a {segment!r} segment: {safe_repr(path)}")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise UnsafePathError(f"{what} has a segment longer than {MAX_SEGMENT_BYTES} bytes")
    return PurePosixPath(path)
