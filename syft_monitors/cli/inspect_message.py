"""`syft-bg inspect message FILE` and `syft-bg jobs` (being written)."""

from __future__ import annotations

import click


@click.command(name="message")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def message_command(file: str, as_json: bool) -> None:
    """Decode a msgv2 or syfteventsmessagev3 archive."""
    raise click.UsageError("not implemented yet")


@click.command(name="jobs")
@click.option("--root", required=True, type=click.Path(file_okay=False))
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def jobs_command(root: str, email: str, as_json: bool) -> None:
    """List the jobs in a data owner's local SyftBox folder."""
    raise click.UsageError("not implemented yet")
