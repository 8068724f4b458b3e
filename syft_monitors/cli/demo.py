"""`syft-bg demo`: the whole product against the local sandbox, no Google account needed."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table


@click.command(name="demo")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the sent emails (.eml), the state file and the sandbox token files.",
)
@click.option(
    "--forever", is_flag=True, help="Keep the sandbox and the monitor running afterwards."
)
@click.option("-v", "--verbose", is_flag=True, help="Show the monitor's log lines.")
def demo_command(output: Path, forever: bool, verbose: bool) -> None:
    """Play a SyftBox scenario against a local Drive/Gmail sandbox and show every email."""
    # Imported here: the Google client and the sandbox are heavy for the other subcommands.
    from syft_sandbox.demo_world import DO_EMAIL, SentEmail, demo_world, run_scenario  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
    )
    console = Console()
    if output.exists():
        shutil.rmtree(output)
    total = 0

    def report(title: str, emails: list[SentEmail]) -> None:
        nonlocal total
        total += len(emails)
        console.print(f"[bold]▸ {escape(title)}[/bold]  [dim]({total} emails so far)[/dim]")
        for email in emails:
            who = "owner" if email.to == DO_EMAIL else "scientist"
            console.print(
                f"    [green]✉[/green] to {who} [cyan]{escape(email.to)}[/cyan]: "
                f"{escape(email.subject)}"
            )

    console.print("[bold]syft-monitor demo[/bold]: local Drive + Gmail sandbox, real clients\n")
    with demo_world(output.resolve()) as world:
        result = run_scenario(world, report)
        table = Table(title="Summary")
        table.add_column("what")
        table.add_column("value", justify="right")
        table.add_row("emails sent through the Gmail API", str(len(result.emails)))
        table.add_row("Drive requests for an idle poll", str(result.idle_poll_requests))
        table.add_row("emails saved as .eml in", str(result.output_dir))
        console.print(table)
        if forever:
            console.print(f"\nSandbox API root: [bold]{result.sandbox_url}[/bold]")
            for user, path in world.token_files.items():
                console.print(f"  token for {user}: {path}")
            console.print("Monitor polling every 5 s; press Ctrl-C to stop.")
            world.monitor.start(interval=5)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                world.monitor.stop()
