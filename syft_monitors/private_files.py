"""Files only their owner may read (config, token files): written whole, then renamed in place."""

from __future__ import annotations

import os
from pathlib import Path


def write_private_text(path: Path, text: str) -> Path:
    """Write `text` to `path` mode 0600 (its folder created 0700) atomically: a reader sees the
    old file or the new one, never a half-written token."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # O_CREAT keeps the mode of a leftover temporary file: make sure of 0600.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
    return path
