"""`syft-bg inspect ...` and `syft-bg jobs`: look at SyftBox data the way the monitors see it."""

from __future__ import annotations

import click

from syft_monitors.cli.inspect_message import jobs_command, message_command
from syft_monitors.cli.inspect_name import name_command


@click.group(name="inspect")
def inspect_group() -> None:
    """Decode SyftBox files and Drive names (one JSON document with --json)."""


inspect_group.add_command(message_command)
inspect_group.add_command(name_command)

__all__ = ["inspect_group", "jobs_command"]
