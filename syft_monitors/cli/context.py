"""What the `syft-bg` group passes to its commands: `ctx.obj["config_path"]`.

The default config path is resolved only when a command asks for it, so the inspection commands
do not import the config module (and with it the Google client) just to start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


class CliState(dict[str, Any]):
    """`ctx.obj`: a dict whose "config_path" defaults to `$SYFT_MONITOR_HOME/config.yaml`."""

    def __missing__(self, key: str) -> Any:
        if key != "config_path":
            raise KeyError(key)
        from syft_monitors.services.manager import resolve_config_path  # noqa: PLC0415

        value = resolve_config_path(None)
        self[key] = value
        return value


def attach_state(ctx: click.Context, config_path: Path | None) -> CliState:
    state = ctx.obj if isinstance(ctx.obj, CliState) else CliState(ctx.obj or {})
    if config_path is not None:
        from syft_monitors.services.manager import resolve_config_path  # noqa: PLC0415

        state["config_path"] = resolve_config_path(config_path)
    ctx.obj = state
    return state


def config_path_of(ctx: click.Context) -> Path:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState(root.obj or {})
    path: Path = root.obj["config_path"]
    return path
