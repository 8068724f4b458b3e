"""Joining an untrusted relative path to a folder on disk without leaving it (through symlinks).

The spelling of the relative path is checked by `syft_monitors.protocol.paths`; this part looks at
the disk, so it lives with the code that reads and writes job folders.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from syft_monitors.errors import UnsafePathError
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.paths import safe_relative_path


def resolve_inside(root: Path, rel: str | PurePosixPath) -> Path:
    """Join `rel` to `root` and return the real path, refusing anything that leaves `root`.

    Every existing component is checked with `lstat`; a symlink is allowed only when its fully
    resolved target is still inside the real root. Components that do not exist yet are allowed
    (the caller gets a path it may create or fail to open). The root itself is trusted.
    """
    text = rel.as_posix() if isinstance(rel, PurePosixPath) else rel
    relative = safe_relative_path(text)
    real_root = Path(os.path.realpath(root))
    current = real_root
    for part in relative.parts:
        candidate = current / part
        try:
            info = candidate.lstat()
        except FileNotFoundError:
            current = candidate
            continue
        except OSError as error:
            raise UnsafePathError(f"cannot inspect {safe_repr(str(candidate))}") from error
        if stat.S_ISLNK(info.st_mode):
            target = Path(os.path.realpath(candidate))
            if not _is_within(target, real_root):
                raise UnsafePathError(
                    f"symlink {safe_repr(text)} points outside {safe_repr(str(real_root))}"
                )
            current = target
        else:
            current = candidate
    # A symlink whose target is itself a chain of links was resolved by realpath above; this final
    # check also covers components that appeared between the loop and now.
    final = Path(os.path.realpath(current))
    if not _is_within(final, real_root):
        raise UnsafePathError(f"{safe_repr(text)} resolves outside {safe_repr(str(real_root))}")
    return final


def _is_within(path: Path, root: Path) -> bool:
    return path.is_relative_to(root)
