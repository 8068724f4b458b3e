"""What `syft-bg init` asks a person in a terminal, and the Google sign-in it runs.

Asked only for what the options leave open: the email, the SyftBox folder (upstream's folder for
that email is offered, else an existing ~/SyftBox), whether to reuse a token file found where
upstream's tools keep them, else the OAuth client file, the Gmail access and whether a browser is
at hand. Without a terminal nothing is asked: what is missing is an error naming the option.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from syft_monitors.config import default_syftbox_root
from syft_monitors.errors import ConfigError
from syft_monitors.google.signin import (
    FULL_SCOPES,
    SEND_ONLY_CONSEQUENCE,
    SEND_ONLY_SCOPES,
    UPSTREAM_CLIENT_SECRETS,
    UPSTREAM_TOKEN_FILES,
    existing_files,
    save_token,
    sign_in,
)

TOKEN_FILE_NAME = "token.json"  # noqa: S105 - a file name


@dataclass(frozen=True)
class InitAnswers:
    email: str
    syftbox_root: Path | None
    token_path: Path | None


def _browser_here() -> bool:
    """A guess for the default answer: a desktop session, and not over SSH."""
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or (
        os.uname().sysname == "Darwin"
    )


def gather_answers(
    home: Path,
    *,
    email: str | None,
    syftbox_root: Path | None,
    token_path: Path | None,
    client_secrets: Path | None,
    headless: bool,
    open_browser: bool,
    send_only: bool,
    interactive: bool,
) -> InitAnswers:
    if email is None:
        if not interactive:
            raise ConfigError("give the data owner's email with -e EMAIL (or run in a terminal)")
        email = str(click.prompt("Your email (the data owner's Google account)")).strip()
    if syftbox_root is None and interactive:
        detected = default_syftbox_root(email)
        note = "" if detected.is_dir() else " (not there yet)"
        syftbox_root = Path(
            click.prompt(f"Your SyftBox folder{note}", default=str(detected), show_default=True)
        )
    if token_path is None and client_secrets is None and interactive:
        token_path = _offer_existing_token()
        if token_path is None:
            client_secrets = _ask_client_secrets()
            if not send_only:
                send_only = _ask_send_only()
            if not headless:
                headless = not click.confirm(
                    "Is there a web browser on this machine?", default=_browser_here()
                )
    if client_secrets is not None:
        token_path = _sign_in(
            home,
            client_secrets,
            email,
            headless=headless,
            open_browser=open_browser,
            send_only=send_only,
        )
    return InitAnswers(email, syftbox_root, token_path)


def _offer_existing_token() -> Path | None:
    for found in existing_files(UPSTREAM_TOKEN_FILES):
        if click.confirm(f"Found a token file at {found}. Use it?", default=True):
            return found
    return None


def _ask_client_secrets() -> Path:
    found = existing_files(UPSTREAM_CLIENT_SECRETS)
    click.echo(
        "Signing in needs a Google OAuth client file (Google Cloud Console > APIs & Services > "
        "Credentials > Create OAuth client ID > Desktop app > Download JSON)."
    )
    answer = click.prompt(
        "Path of that file",
        default=str(found[0]) if found else None,
        type=click.Path(dir_okay=False, path_type=Path),
    )
    return Path(os.path.expanduser(str(answer)))


def _ask_send_only() -> bool:
    click.echo(
        "Gmail access: 1) read and send (gmail.modify, recommended: every email is sent exactly "
        "once)  2) send only (gmail.send)"
    )
    choice = click.prompt("Choose", type=click.Choice(["1", "2"]), default="1")
    if choice == "2":
        click.echo(f"note: {SEND_ONLY_CONSEQUENCE}")
    return choice == "2"


def _sign_in(
    home: Path,
    client_secrets: Path,
    email: str,
    *,
    headless: bool,
    open_browser: bool,
    send_only: bool,
) -> Path:
    scopes = SEND_ONLY_SCOPES if send_only else FULL_SCOPES
    if send_only:
        click.echo(f"note: {SEND_ONLY_CONSEQUENCE}")
    result = sign_in(
        Path(os.path.expanduser(str(client_secrets))),
        scopes,
        email=email,
        headless=headless,
        open_browser=open_browser,
        say=click.echo,
        ask=lambda question: str(click.prompt(question)),
    )
    path = save_token(home / TOKEN_FILE_NAME, result)
    granted = "gmail.send only" if result.send_only else "gmail.modify"
    click.echo(f"signed in: token saved to {path} (mode 0600; Drive and {granted})")
    if result.send_only and not send_only:
        click.echo(f"note: Gmail read access was not granted; {SEND_ONLY_CONSEQUENCE}")
    return path
