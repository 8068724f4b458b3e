"""`syft-bg install` / `uninstall`: systemd user units for the services."""

from __future__ import annotations

import click

from syft_monitors.cli.context import config_path_of
from syft_monitors.cli.errors import EXIT_FAILURE
from syft_monitors.cli.service_cmds import SERVICE


@click.command(name="install")
@click.argument("service", type=SERVICE, required=False)
@click.pass_context
def install_command(ctx: click.Context, service: str | None) -> None:
    """Install a systemd user unit for SERVICE (default: every configured service).

    Exits 1 where systemd is not available (the unit file is still written).
    """
    from syft_monitors.services.manager import ServiceManager  # noqa: PLC0415
    from syft_monitors.services.systemd import install  # noqa: PLC0415

    manager = ServiceManager(config_path_of(ctx))
    names = [service] if service else manager.configured_services()
    results = [install(manager.daemon(name)) for name in names]
    for result in results:
        click.echo(f"{result.service}: {result.message}")
    if results:
        click.echo(
            "note: user units stop when you log out; to keep them running, enable lingering "
            "once: `loginctl enable-linger $USER` (may need sudo)"
        )
    if not all(result.systemd for result in results):
        ctx.exit(EXIT_FAILURE)


@click.command(name="uninstall")
@click.argument("service", type=SERVICE, required=False)
@click.pass_context
def uninstall_command(ctx: click.Context, service: str | None) -> None:
    """Disable and remove the systemd user unit of SERVICE (default: every service)."""
    from syft_monitors.services.manager import ServiceManager  # noqa: PLC0415
    from syft_monitors.services.systemd import uninstall  # noqa: PLC0415

    manager = ServiceManager(config_path_of(ctx))
    names = [service] if service else manager.list_services()
    results = [uninstall(manager.daemon(name)) for name in names]
    for result in results:
        click.echo(f"{result.service}: {result.message}")
    if not all(result.systemd for result in results):
        ctx.exit(EXIT_FAILURE)
