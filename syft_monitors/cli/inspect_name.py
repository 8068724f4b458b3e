"""`syft-bg inspect name DRIVE_NAME` (being written)."""

from __future__ import annotations

import click


@click.command(name="name")
@click.argument("drive_name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def name_command(drive_name: str, as_json: bool) -> None:
    """Classify a Drive file or folder name."""
    raise click.UsageError("not implemented yet")
