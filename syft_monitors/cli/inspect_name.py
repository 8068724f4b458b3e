"""`syft-bg inspect name DRIVE_NAME`: say what a Drive file or folder name means to SyftBox."""

from __future__ import annotations

import json

import click

from syft_monitors.protocol.names import describe_drive_name


@click.command(name="name")
@click.argument("drive_name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def name_command(drive_name: str, as_json: bool) -> None:
    """Classify a Drive file or folder name.

    A name that is not SyftBox's at all is reported as kind "unknown"; a SyftBox-shaped name that is
    malformed, ambiguous or hostile is an error (exit status 2).
    """
    # Raises InvalidNameError for bad names; the entry point turns it into `error: ...` + exit 2.
    description = describe_drive_name(drive_name)
    if as_json:
        click.echo(json.dumps(description, indent=2))
        return
    click.echo(f"kind: {description['kind']}")
    # Only fields that come from a parsed name are shown: they are validated addresses and
    # versions, so echoing them cannot smuggle control characters to the terminal.
    for key, value in description.items():
        if key != "kind" and value is not None:
            click.echo(f"{key}: {value}")
