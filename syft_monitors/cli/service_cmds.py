"""`syft-bg start|stop|restart|status|logs|ensure-running|run`: the service commands.

Exit codes: 0 done (starting a running service or stopping a stopped one is not an error),
1 a service failed to start/stop (`start`: also when its first poll failed) or (for `status`) a
configured service is down, 2 usage or config errors (one `error:` line with a hint), 3 (for
`status`) every configured service runs but one is failing (its polls or state writes fail).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syft_monitors.cli.context import config_path_of
from syft_monitors.cli.errors import EXIT_FAILURE, EXIT_USAGE
from syft_monitors.daemon.registry import service_names
from syft_monitors.errors import ConfigError

if TYPE_CHECKING:
    from syft_monitors.services.manager import ServiceManager, ServiceStatus

SERVICE = click.Choice(service_names())
#: `status`: running, but failing.
EXIT_FAILING = 3


def _manager(ctx: click.Context) -> ServiceManager:
    from syft_monitors.services.manager import ServiceManager  # noqa: PLC0415

    return ServiceManager(config_path_of(ctx))


def output_console(stderr: bool = False) -> Console:
    # Piped output (CI, CliRunner, `| less`) gets a fixed width instead of rich's 80 columns.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(stderr=stderr, width=width, highlight=False)


@contextmanager
def _progress(message: str) -> Iterator[None]:
    console = output_console(stderr=True)
    if console.is_terminal:
        with console.status(message):
            yield
    else:
        yield


def _targets(ctx: click.Context, service: str | None, *, running_too: bool) -> list[str]:
    """The named service, else the configured ones (plus running ones with `running_too`)."""
    if service is not None:
        return [service]
    manager = _manager(ctx)
    names = manager.configured_services()
    if running_too:
        names += [n for n in manager.list_services() if manager.daemon(n).is_running()]
    return [n for n in manager.list_services() if n in names]


def _configured_or_exit(ctx: click.Context) -> list[str]:
    """The configured services; a missing or invalid config raises ConfigError (with its hint,
    exit 2)."""
    manager = _manager(ctx)
    configured = manager.configured_services()
    return [n for n in manager.list_services() if n in configured]


# --- start / stop / restart ---------------------------------------------------------------


@click.command(name="start")
@click.argument("service", type=SERVICE, required=False)
@click.option("-i", "--interval", type=click.IntRange(min=1), help="Override the poll interval.")
@click.pass_context
def start_command(ctx: click.Context, service: str | None, interval: int | None) -> None:
    """Start SERVICE in the background (default: every configured service)."""
    manager = _manager(ctx)
    failures = 0
    for name in _targets(ctx, service, running_too=False):
        daemon = manager.daemon(name)
        pid = daemon.get_pid()
        if pid is not None:
            click.echo(f"{name}: already running (PID {pid})")
            continue
        with _progress(f"starting {name}…"):
            ok = daemon.start(interval)
        if ok:
            click.echo(f"{name}: started (PID {daemon.get_pid()}), log {daemon.log_file}")
            if name == "approve":
                _approve_note(manager.config_path)
        else:
            failures += 1
            hint = f"`syft-bg logs {name} --errors` and `syft-bg doctor` tell more"
            click.echo(f"error: {name}: {daemon.last_error} (hint: {hint})", err=True)
    if failures:
        ctx.exit(EXIT_FAILURE)


def _approve_note(config_path: Path) -> None:
    from syft_monitors.cli.hints import approve_scope_note  # noqa: PLC0415
    from syft_monitors.config import load_config  # noqa: PLC0415

    note = approve_scope_note(load_config(config_path).approve)
    if note is not None:
        click.echo(note)


@click.command(name="stop")
@click.argument("service", type=SERVICE, required=False)
@click.pass_context
def stop_command(ctx: click.Context, service: str | None) -> None:
    """Stop SERVICE (default: every service): SIGTERM, then SIGKILL after 10 s."""
    manager = _manager(ctx)
    failures = 0
    for name in [service] if service else manager.list_services():
        daemon = manager.daemon(name)
        if not daemon.is_running():
            daemon.stop()  # also clears a stale PID file
            click.echo(f"{name}: not running")
            continue
        with _progress(f"stopping {name} (finishing a send in progress)…"):
            ok = daemon.stop()
        if ok:
            click.echo(f"{name}: stopped")
        else:
            failures += 1
            click.echo(f"error: {name}: {daemon.last_error}", err=True)
    if failures:
        ctx.exit(EXIT_FAILURE)


@click.command(name="restart")
@click.argument("service", type=SERVICE, required=False)
@click.option("-i", "--interval", type=click.IntRange(min=1), help="Override the poll interval.")
@click.pass_context
def restart_command(ctx: click.Context, service: str | None, interval: int | None) -> None:
    """Stop and start SERVICE (default: configured and running services)."""
    manager = _manager(ctx)
    failures = 0
    for name in _targets(ctx, service, running_too=True):
        daemon = manager.daemon(name)
        with _progress(f"restarting {name}…"):
            ok = daemon.restart(interval)
        if ok:
            click.echo(f"{name}: restarted (PID {daemon.get_pid()})")
        else:
            failures += 1
            click.echo(f"error: {name}: {daemon.last_error}", err=True)
    if failures:
        ctx.exit(EXIT_FAILURE)


@click.command(name="ensure-running")
@click.argument("services", type=SERVICE, nargs=-1, required=False)
@click.option("--restart", is_flag=True, help="Restart services that are already running.")
@click.pass_context
def ensure_running_command(ctx: click.Context, services: tuple[str, ...], restart: bool) -> None:
    """Start each SERVICE that is not running (default: every configured service).

    For cron, login scripts and notebooks.
    """
    manager = _manager(ctx)
    names = list(dict.fromkeys(services)) or _configured_or_exit(ctx)
    with _progress("checking services…"):
        result = manager.ensure_running(names, restart=restart)
    for name, running in result.items():
        pid = manager.daemon(name).get_pid()
        click.echo(f"{name}: running (PID {pid})" if running else f"{name}: NOT running")
    if not all(result.values()):
        ctx.exit(EXIT_FAILURE)


# --- status -------------------------------------------------------------------------------


@click.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show each service: state, PID, uptime, last poll, last error, events today.

    Exits 1 when a configured service is down, 2 when the config cannot be read, 3 when a
    service runs but fails (last error says why).
    """
    ctx.exit(show_status(ctx, as_json=as_json))


def show_status(ctx: click.Context, *, as_json: bool = False) -> int:
    from syft_monitors.config import load_config  # noqa: PLC0415
    from syft_monitors.services.flood_status import describe as describe_flood  # noqa: PLC0415
    from syft_monitors.services.flood_status import flood_summary  # noqa: PLC0415

    manager = _manager(ctx)
    problem: str | None = None
    try:
        load_config(manager.config_path)
    except ConfigError as error:
        problem = str(error)
    statuses = manager.get_all_status()
    flood = flood_summary(manager.config_path) if problem is None else None
    if as_json:
        document = {
            "config": str(manager.config_path),
            "config_error": problem,
            "services": [status.to_dict() for status in statuses.values()],
            "flood": flood,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        output_console().print(_status_table(list(statuses.values())))
        if flood is not None:
            click.echo(describe_flood(flood))
        if problem is not None:
            hint = "`syft-bg init` writes one and signs you in; `syft-bg doctor` checks it"
            click.echo(f"error: {problem} (hint: {hint})", err=True)
    if problem is not None:
        return EXIT_USAGE
    if any(status.down for status in statuses.values()):
        return EXIT_FAILURE
    return EXIT_FAILING if any(status.failing for status in statuses.values()) else 0


def _status_table(statuses: list[ServiceStatus]) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False)
    for column in ("service", "state", "PID", "uptime", "last poll", "last error", "events"):
        table.add_column(column, no_wrap=column != "last error", overflow="fold")
    for status in statuses:
        if status.running and status.failing:
            state = "[yellow]failing[/yellow]"
        elif status.running:
            state = "[green]running[/green]"
        elif status.configured is False:
            state = "[dim]off[/dim]"
        else:
            state = "[red]stopped[/red]"
        table.add_row(
            status.name,
            state,
            str(status.pid) if status.pid else "-",
            _duration(status.uptime_seconds),
            _last_poll(status),
            escape(status.last_error) if status.last_error else "-",
            str(status.events_today) if status.events_today is not None else "-",
        )
    return table


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _last_poll(status: ServiceStatus) -> str:
    """How long ago the last poll was, saying so when an earlier process made it."""
    shown = _ago(status.last_poll_at)
    if status.last_poll_at is None or not status.running or status.uptime_seconds is None:
        return shown
    from syft_monitors.state.model import parse_timestamp  # noqa: PLC0415

    age = time.time() - parse_timestamp(status.last_poll_at).timestamp()
    # A second of slack: the uptime comes from the process start, the poll stamp from the clock.
    return f"{shown} (previous run)" if age > status.uptime_seconds + 1 else shown


def _ago(stamp: str | None) -> str:
    if stamp is None:
        return "-"
    from syft_monitors.state.model import parse_timestamp  # noqa: PLC0415

    seconds = time.time() - parse_timestamp(stamp).timestamp()
    return f"{_duration(max(0.0, seconds))} ago"


def show_overview(ctx: click.Context) -> int:
    """`syft-bg` alone: the status table (when there is a config) and the main commands."""
    path = config_path_of(ctx)
    code = 0
    if path.exists():
        code = show_status(ctx)
    else:
        click.echo(f"no config file at {path}")
    click.echo(
        "\nmain commands:\n"
        "  syft-bg init -e EMAIL     write a commented config file\n"
        "  syft-bg doctor            check config, tokens, Google, clock and disk\n"
        "  syft-bg start [SERVICE]   start notify (and approve when configured)\n"
        "  syft-bg status            this table (--json for scripts)\n"
        "  syft-bg logs -f           follow the services' logs\n"
        "  syft-bg stop [SERVICE]    stop services\n"
        "  syft-bg --help            every command"
    )
    return code


# --- logs / run ---------------------------------------------------------------------------


@click.command(name="logs")
@click.argument("service", type=SERVICE, required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=50, show_default=True)
@click.option("--errors", is_flag=True, help="Show the error log (WARNING and above).")
@click.pass_context
def logs_command(
    ctx: click.Context, service: str | None, follow: bool, lines: int, errors: bool
) -> None:
    """Print the last lines of SERVICE's log (default: every configured service); with -f,
    follow it across rotations. Several services' lines are prefixed with the service name."""
    from syft_monitors.cli.logs import show_logs  # noqa: PLC0415

    names = [service] if service else _configured_or_exit(ctx)
    manager = _manager(ctx)
    show_logs([manager.daemon(name) for name in names], follow=follow, lines=lines, errors=errors)


@click.command(name="run")
@click.argument("service", type=SERVICE)
@click.option("--once", is_flag=True, help="Poll once and exit (1 if the poll failed).")
@click.option("-i", "--interval", type=click.IntRange(min=1), help="Override the poll interval.")
@click.pass_context
def run_command(ctx: click.Context, service: str, once: bool, interval: int | None) -> None:
    """Run SERVICE in the foreground (containers, debugging): logs on stderr, no PID file.

    Logs are JSON lines when SYFT_LOG_FORMAT=json, or when it is unset and stderr is not a
    terminal inside a container; readable lines otherwise. SIGTERM or Ctrl-C stop after the
    current poll (press Ctrl-C twice to interrupt it); SIGHUP reloads the config file.
    """
    from syft_monitors.daemon.logsetup import configure_foreground_logging  # noqa: PLC0415
    from syft_monitors.daemon.registry import get_service  # noqa: PLC0415
    from syft_monitors.daemon.runner import ServiceRunner  # noqa: PLC0415
    from syft_monitors.interrupt import StopRequested  # noqa: PLC0415

    configure_foreground_logging()
    runner = ServiceRunner(get_service(service), config_path_of(ctx), interval=interval)
    runner.install_signal_handlers()
    try:
        runner.setup()
        ok = runner.run(once=once)
        if once:
            from syft_monitors.cli.summary import poll_summary  # noqa: PLC0415

            click.echo(poll_summary(service, runner.monitor, ok))
    except StopRequested:  # SIGTERM while start-up waited on the network
        ok = False
    finally:
        runner.close()
    if once and not ok:
        ctx.exit(EXIT_FAILURE)
