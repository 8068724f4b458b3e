"""Entry point of the `syft-bg` command."""

from __future__ import annotations

import sys

import click

from syft_monitors import __version__
from syft_monitors.cli.demo import demo_command
from syft_monitors.cli.errors import run_cli
from syft_monitors.cli.inspect import inspect_group, jobs_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syft-bg")
def cli() -> None:
    """Monitor SyftBox jobs and peers and email the right person, exactly once."""


cli.add_command(inspect_group)
cli.add_command(jobs_command)
cli.add_command(demo_command)


def main() -> None:
    sys.exit(run_cli(cli))
