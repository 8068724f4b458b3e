"""Background daemons: one detached process per service, PID-locked, with rotating logs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["DaemonManager"]

if TYPE_CHECKING:
    from syft_monitors.daemon.manager import DaemonManager


def __getattr__(name: str) -> Any:
    # Lazy: the daemon child imports this package first and must start fast.
    if name == "DaemonManager":
        value = importlib.import_module("syft_monitors.daemon.manager").DaemonManager
        globals()[name] = value
        return value
    raise AttributeError(f"module 'syft_monitors.daemon' has no attribute {name!r}")
