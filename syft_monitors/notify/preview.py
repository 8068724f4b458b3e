"""What of a job's code and stderr fits in an email.

Large jobs once made notification emails big enough to exhaust memory and be refused by the
Gmail API, so the sizes are capped: each code file at 50 KiB, all code at 500 KiB, stderr at its
last 50 KiB. Whatever is cut is announced in the email (full size, number of files not shown),
never silently dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from syft_monitors.notify.sanitize import clean_block, clean_line

KIB = 1024
MAX_FILE_BYTES = 50 * KIB
MAX_TOTAL_CODE_BYTES = 500 * KIB
MAX_STDERR_BYTES = 50 * KIB
#: File names listed in an email beyond which only a count is given (hostile jobs can hold many).
MAX_LISTED_FILES = 200
_BINARY_SNIFF_BYTES = 8 * KIB


@dataclasses.dataclass(frozen=True, slots=True)
class CodeFile:
    """One file of the preview; `content` is None for binary files (listed, never shown)."""

    path: str
    size: int
    content: str | None
    truncated: bool = False

    @property
    def binary(self) -> bool:
        return self.content is None


@dataclasses.dataclass(frozen=True, slots=True)
class CodePreview:
    files: tuple[CodeFile, ...]
    #: Files left out because the total cap was reached.
    not_shown: int
    shown_bytes: int


@dataclasses.dataclass(frozen=True, slots=True)
class TextTail:
    text: str
    cut: bool
    full_size: int


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def build_code_preview(
    code: Mapping[str, bytes],
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_CODE_BYTES,
) -> CodePreview:
    """Files in path order; each text file cut at `max_file_bytes`, all at `max_total_bytes`.

    A file whose shown part would push the total over the cap is not shown, and neither is any
    file after it: they are counted in `not_shown`. Binary files (NUL bytes, not UTF-8) cost
    nothing: only their name and size are listed.
    """
    files: list[CodeFile] = []
    shown = 0
    paths = sorted(code)
    for index, raw_path in enumerate(paths):
        data = code[raw_path]
        path = clean_line(raw_path)
        text = _decode(data)
        if text is None:
            files.append(CodeFile(path=path, size=len(data), content=None))
            continue
        truncated = len(data) > max_file_bytes
        part = data[:max_file_bytes] if truncated else data
        if shown + len(part) > max_total_bytes:
            return CodePreview(tuple(files), not_shown=len(paths) - index, shown_bytes=shown)
        shown += len(part)
        # The full file decoded, so only the cut can have split a character: drop that tail.
        content = part.decode("utf-8", errors="ignore") if truncated else text
        files.append(
            CodeFile(path=path, size=len(data), content=clean_block(content), truncated=truncated)
        )
    return CodePreview(tuple(files), not_shown=0, shown_bytes=shown)


def tail_text(text: str, *, max_bytes: int = MAX_STDERR_BYTES) -> TextTail:
    """The last `max_bytes` (UTF-8) of `text`, cleaned, and whether anything was cut."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= max_bytes:
        return TextTail(clean_block(text), cut=False, full_size=len(data))
    tail = data[-max_bytes:].decode("utf-8", errors="ignore")
    return TextTail(clean_block(tail), cut=True, full_size=len(data))


def list_file_names(
    names: Iterable[str], *, limit: int = MAX_LISTED_FILES
) -> tuple[list[str], int]:
    """Sorted, cleaned, de-duplicated names, at most `limit`, plus how many more there were."""
    unique = sorted(set(names))
    return [clean_line(name) for name in unique[:limit]], max(0, len(unique) - limit)


def format_size(size: int) -> str:
    """Human size as the emails show it: bytes below 1 KiB, else KB with one decimal."""
    if size < KIB:
        return f"{size} bytes"
    if size < KIB * KIB:
        return f"{size / KIB:.1f} KB"
    return f"{size / (KIB * KIB):.1f} MB"
