"""Files only their owner may read (config, token files): written whole, then renamed in place."""

from __future__ import annotations

from pathlib import Path

from syft_monitors.files import write_atomically


def write_private_text(path: Path, text: str) -> Path:
    """Write `text` to `path` mode 0600 (its folder created 0700) atomically: a reader sees the
    old file or the new one, never a half-written token."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, text.encode("utf-8"), mode=0o600)
    return path
