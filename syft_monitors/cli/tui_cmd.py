"""`syft-bg tui`: the dashboard in a terminal, the plain status table anywhere else."""

from __future__ import annotations

import sys

import click

from syft_monitors.cli.context import config_path_of


def in_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command(name="tui")
@click.pass_context
def tui_command(ctx: click.Context) -> None:
    """Live dashboard: a card per service, recent events, start/stop/restart keys, logs.

    Keys: tab/arrows select a service, s start, x stop, r restart, l log, e error log, q quit.
    Not in a terminal (a pipe, cron), it prints the status table instead.
    """
    from syft_monitors.cli.service_cmds import show_overview  # noqa: PLC0415

    if not in_a_terminal():
        ctx.exit(show_overview(ctx))
    from syft_monitors.cli.tui import run_tui  # noqa: PLC0415

    run_tui(config_path_of(ctx))
