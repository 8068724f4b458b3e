"""Entry point of the `syft-bg` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from syft_monitors import __version__
from syft_monitors.cli.approve_cmds import approve_commands
from syft_monitors.cli.context import attach_state, config_path_of
from syft_monitors.cli.demo import demo_command
from syft_monitors.cli.errors import run_cli
from syft_monitors.cli.inspect import inspect_group, jobs_command
from syft_monitors.cli.pool_cmd import pool_command
from syft_monitors.cli.service_cmds import (
    ensure_running_command,
    logs_command,
    restart_command,
    run_command,
    show_overview,
    start_command,
    status_command,
    stop_command,
)
from syft_monitors.cli.setup_cmds import doctor_command, init_command
from syft_monitors.cli.systemd_cmds import install_command, uninstall_command
from syft_monitors.cli.tui_cmd import in_a_terminal, tui_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, prog_name="syft-bg")
@click.option(
    "--config",
    "config_path",
    # Not `dir_okay=False`: loading the config reports a directory in one `error:` line, where
    # click would print a usage error.
    type=click.Path(path_type=Path),
    envvar="SYFT_MONITOR_CONFIG",
    help="Config file [env SYFT_MONITOR_CONFIG; default $SYFT_MONITOR_HOME/config.yaml, "
    "else ~/.syft-creds/config.yaml].",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Monitor SyftBox jobs and peers and email the right person, exactly once."""
    attach_state(ctx, config_path)
    if ctx.invoked_subcommand is None:
        # A person at a terminal with a config gets the dashboard; scripts and pipes the text.
        if in_a_terminal() and config_path_of(ctx).exists():
            from syft_monitors.cli.tui import run_tui  # noqa: PLC0415

            run_tui(config_path_of(ctx))
            ctx.exit(0)
        ctx.exit(show_overview(ctx))


cli.add_command(inspect_group)
cli.add_command(jobs_command)
cli.add_command(demo_command)
for _command in (
    init_command,
    doctor_command,
    start_command,
    stop_command,
    restart_command,
    status_command,
    logs_command,
    ensure_running_command,
    run_command,
    install_command,
    uninstall_command,
    tui_command,
    pool_command,
):
    cli.add_command(_command)

for _approve_command in approve_commands:
    cli.add_command(_approve_command)


def main() -> None:
    sys.exit(run_cli(cli))
