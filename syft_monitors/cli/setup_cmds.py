"""`syft-bg init` (write a commented config) and `syft-bg doctor` (check everything)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from syft_monitors.cli.context import config_path_of
from syft_monitors.cli.errors import EXIT_FAILURE
from syft_monitors.cli.service_cmds import output_console


@click.command(name="init")
@click.option("-e", "--email", help="The data owner's email address (asked in a terminal).")
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
    help="An existing authorized-user token file for both Drive and Gmail (no sign-in).",
)
@click.option(
    "-c",
    "--client-secrets",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign in with Google using this OAuth client file (a Desktop app's credentials.json).",
)
@click.option(
    "--headless",
    is_flag=True,
    help="No browser here: sign in on any machine and paste the address it ends on.",
)
@click.option("--no-browser", is_flag=True, help="Print the sign-in address instead of opening it.")
@click.option(
    "--send-only",
    is_flag=True,
    help="Ask Gmail for gmail.send only (an email whose send failed may then arrive twice).",
)
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="Ask for what is missing (default: in a terminal when -e is not given).",
)
@click.option("--api-root", help="Google API root (a sandbox URL); unset for real Google.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_context
def init_command(
    ctx: click.Context,
    email: str | None,
    syftbox_root: Path | None,
    token_path: Path | None,
    client_secrets: Path | None,
    headless: bool,
    no_browser: bool,
    send_only: bool,
    interactive: bool | None,
    api_root: str | None,
    force: bool,
) -> None:
    """Write a commented config file and sign in with Google (with --client-secrets, or asked in a
    terminal); then say what to do next."""
    from syft_monitors.cli.signin_flow import InitAnswers, gather_answers  # noqa: PLC0415
    from syft_monitors.config import monitor_home  # noqa: PLC0415
    from syft_monitors.errors import ConfigError  # noqa: PLC0415
    from syft_monitors.services.init_config import write_config  # noqa: PLC0415

    path = config_path_of(ctx)
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (use --force to overwrite it)")
    if interactive is None:
        # A person who typed the email in the command line is scripting: ask nothing.
        interactive = email is None and sys.stdin.isatty() and sys.stdout.isatty()
    home = monitor_home().absolute()
    answers: InitAnswers = gather_answers(
        home,
        email=email,
        syftbox_root=syftbox_root,
        token_path=token_path,
        client_secrets=client_secrets,
        headless=headless,
        open_browser=not no_browser,
        send_only=send_only,
        interactive=interactive,
    )
    config = write_config(
        path,
        do_email=answers.email,
        home=home,
        syftbox_root=answers.syftbox_root,
        token_path=answers.token_path,
        api_root=api_root,
        force=force,
    )
    click.echo(f"wrote {path} for {config.do_email}")
    if answers.token_path is None:
        click.echo(
            f"  put the Drive token at {config.drive_token_path} and the Gmail token at "
            f"{config.gmail_token_path} (or edit the paths), or run `syft-bg init --force "
            "--client-secrets credentials.json` to sign in"
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
