"""`python -m syft_sandbox --port 8765`: serve a sandbox until Ctrl-C."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import click

from syft_sandbox.core import Sandbox

DEFAULT_USERS = ("do@sandbox.example.org", "ds@sandbox.example.org")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, help="Port (0 picks a free one).")
@click.option(
    "--user",
    "users",
    multiple=True,
    help="Email of a user to create (repeatable). Default: a DO and a DS.",
)
@click.option(
    "--token-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write one authorized-user token file per user. Default: a new temp folder.",
)
@click.option(
    "--client-secrets",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a Desktop-app OAuth client file whose sign-in is this sandbox "
    "(for `syft-bg init --client-secrets`).",
)
@click.option("--seed", default=0, show_default=True, help="Seed for ids and fault injection.")
def main(
    host: str,
    port: int,
    users: tuple[str, ...],
    token_dir: Path | None,
    client_secrets: Path | None,
    seed: int,
) -> None:
    """Serve a local Google Drive v3 + Gmail v1 sandbox until interrupted."""
    sandbox = Sandbox(seed=seed)
    for user in users or DEFAULT_USERS:
        sandbox.add_user(user)
    folder = token_dir or Path(tempfile.mkdtemp(prefix="syft-sandbox-tokens-"))
    server = sandbox.serve(host=host, port=port)
    try:
        click.echo(f"sandbox API root: {server.url}")
        click.echo(f"export SYFT_GOOGLE_API_ROOT={server.url}")
        for user, path in server.write_token_files(folder).items():
            click.echo(f"token file for {user}: {path}")
        if client_secrets is not None:
            path = server.write_client_secrets(client_secrets)
            click.echo(f"OAuth client file (sign-in at this sandbox): {path}")
        click.echo("Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
