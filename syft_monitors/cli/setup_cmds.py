"""`syft-bg init` (write a commented config) and `syft-bg doctor` (check everything)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from syft_monitors.cli.context import config_path_of
from syft_monitors.cli.errors import EXIT_FAILURE
from syft_monitors.cli.service_cmds import output_console


@click.command(name="init")
@click.option("-e", "--email", required=True, help="The data owner's email address.")
@click.option(
    "-r",
    "--syftbox-root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Your SyftBox folder (default ~/SyftBox_EMAIL, else an existing ~/SyftBox).",
)
@click.option(
    "-t",
    "--token-path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An authorized-user token file for both Drive and Gmail (must exist).",
)
@click.option("--api-root", help="Google API root (a sandbox URL); unset for real Google.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_context
def init_command(
    ctx: click.Context,
    email: str,
    syftbox_root: Path | None,
    token_path: Path | None,
    api_root: str | None,
    force: bool,
) -> None:
    """Write a commented config file (every key explained) and say what to do next."""
    from syft_monitors.config import monitor_home  # noqa: PLC0415
    from syft_monitors.services.init_config import write_config  # noqa: PLC0415

    path = config_path_of(ctx)
    config = write_config(
        path,
        do_email=email,
        home=monitor_home().absolute(),
        syftbox_root=syftbox_root,
        token_path=token_path,
        api_root=api_root,
        force=force,
    )
    click.echo(f"wrote {path} for {config.do_email}")
    if token_path is None:
        click.echo(
            f"  put the Drive token at {config.drive_token_path} and the Gmail token at "
            f"{config.gmail_token_path} (or edit the paths)"
        )
    click.echo("next: `syft-bg doctor`, then `syft-bg start`")


_MARKS = {
    "ok": "[green]ok  [/green]",
    "warn": "[yellow]warn[/yellow]",
    "fail": "[red]FAIL[/red]",
    "skip": "[dim]skip[/dim]",
}


@click.command(name="doctor")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@click.pass_context
def doctor_command(ctx: click.Context, as_json: bool) -> None:
    """Check config, token files, token validity and scopes, Drive and Gmail, clock and disk.

    One line per check with a fix hint; exits 1 when any check fails.
    """
    from syft_monitors.services.doctor import CheckResult, failed, run_checks  # noqa: PLC0415

    console = output_console()

    def show(result: CheckResult) -> None:
        if as_json:
            return
        line = f"{_MARKS[str(result.outcome)]} {result.name}: {escape(result.detail)}"
        if result.hint:
            line += f"\n       [dim]hint: {escape(result.hint)}[/dim]"
        console.print(line)

    results = run_checks(config_path_of(ctx), on_check=show)
    if as_json:
        click.echo(
            json.dumps(
                {"ok": not failed(results), "checks": [r.to_dict() for r in results]}, indent=2
            )
        )
    if failed(results):
        ctx.exit(EXIT_FAILURE)
