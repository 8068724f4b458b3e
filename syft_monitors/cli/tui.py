"""`syft-bg tui` (and `syft-bg` alone in a terminal): a live dashboard of the services.

One card per service (state, PID, uptime, last poll, last error, events today), a feed of recent
events read from the services' logs, start/stop/restart keys and a log viewer. Everything that
touches the disk or a process (status, logs, start, stop) runs in a thread worker: a slow or hung
daemon never freezes the screen, and a refresh is skipped while the previous one still runs.
Untrusted text (job names in log lines, errors) is shown as plain text, never parsed as markup.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Log, Static

from syft_monitors.cli.service_cmds import _duration, _last_poll

if TYPE_CHECKING:
    from syft_monitors.services.manager import ServiceManager, ServiceStatus

REFRESH_SECONDS = 1.0
FEED_LINES = 40
LOG_VIEW_LINES = 200
#: Log lines worth a place in the event feed: emails, acceptances, approvals, starts, stops,
#: and every warning or error.
_EVENT = re.compile(
    r" - (?:WARNING|ERROR|CRITICAL) - |"
    r" - INFO - .*(?:sent \S+ email|auto-accepted|auto-approved|withdr|starting \(PID|stopping \()"
)
_LINE = re.compile(r"^(\d{4}-\d\d-\d\d (\d\d:\d\d:\d\d)),?\d* - [\w.]+ - (\w+) - (.*)$")


@dataclass(frozen=True)
class Snapshot:
    """What one refresh read: statuses, the merged event feed, the selected service's log."""

    statuses: list[ServiceStatus]
    feed: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    error: str | None = None


def event_feed(statuses: list[ServiceStatus], limit: int = FEED_LINES) -> list[str]:
    """The latest event lines of every service, oldest first: `HH:MM:SS service  message`."""
    from syft_monitors.daemon.logtail import tail_lines  # noqa: PLC0415

    found: list[tuple[str, str]] = []
    for status in statuses:
        for line in tail_lines(status.log_file, 400):
            if not _EVENT.search(line):
                continue
            match = _LINE.match(line)
            if match is None:
                continue
            stamp, clock, level, message = match.groups()
            marker = "" if level == "INFO" else f"{level} "
            found.append((stamp, f"{clock} {status.name:<8} {marker}{message}"))
    found.sort(key=lambda item: item[0])
    return [text for _, text in found[-limit:]]


def read_snapshot(manager: ServiceManager, selected: str | None, errors: bool) -> Snapshot:
    from syft_monitors.daemon.logtail import tail_lines  # noqa: PLC0415

    statuses = list(manager.get_all_status().values())
    log: list[str] = []
    for status in statuses:
        if status.name == selected:
            log = tail_lines(status.error_log_file if errors else status.log_file, LOG_VIEW_LINES)
    return Snapshot(statuses, event_feed(statuses), log)


def card_text(status: ServiceStatus, selected: bool) -> Text:
    if status.running:
        state, style = "running", "bold green"
    elif status.configured is False:
        state, style = "off", "dim"
    else:
        state, style = "stopped", "bold red"
    text = Text()
    text.append(("▶ " if selected else "  ") + status.name, style="bold")
    text.append("  ")
    text.append(state, style=style)
    text.append(f"\nPID        {status.pid or '-'}")
    text.append(f"\nuptime     {_duration(status.uptime_seconds)}")
    text.append(f"\nlast poll  {_last_poll(status)}")
    text.append("\nlast error ")
    text.append(status.last_error or "-", style="red" if status.last_error else "")
    events = status.events_today if status.events_today is not None else "-"
    text.append(f"\nevents today {events}")
    return text


class SyftBgApp(App[None]):
    """The dashboard. `reader` is how a refresh gets its data (tests give a slow one)."""

    TITLE = "syft-bg"
    CSS = """
    #cards { height: auto; }
    .card { width: 1fr; height: auto; border: round $primary-darken-2; padding: 0 1; }
    .card.selected { border: round $accent; }
    #feed-title, #log-title { height: 1; padding: 0 1; color: $text-muted; }
    #feed { height: 1fr; border: round $primary-darken-3; }
    #log { height: 1fr; border: round $primary-darken-3; display: none; }
    #log.shown { display: block; }
    #message { height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("left", "select(-1)", "Previous", show=False),
        Binding("right", "select(1)", "Next", show=False),
        # Priority: the screen's own tab (focus the next widget) would win otherwise.
        Binding("tab", "select(1)", "Next service", priority=True),
        Binding("s", "control('start')", "Start"),
        Binding("x", "control('stop')", "Stop"),
        Binding("r", "control('restart')", "Restart"),
        Binding("l", "toggle_log", "Log"),
        Binding("e", "toggle_errors", "Errors only"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        manager: ServiceManager,
        *,
        reader: Callable[[ServiceManager, str | None, bool], Snapshot] = read_snapshot,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        super().__init__()
        self.manager = manager
        self.reader = reader
        self.refresh_seconds = refresh_seconds
        self.services = manager.list_services()
        self.selected = self.services[0]
        self.show_errors = False
        self.snapshot: Snapshot | None = None
        self._reading = threading.Lock()
        self.refreshes = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="cards"):
            for name in self.services:
                yield Static(Text(f"  {name}\nreading…"), id=f"card-{name}", classes="card")
        with Vertical():
            yield Static("Recent events", id="feed-title")
            yield Log(id="feed", auto_scroll=True)
            yield Static("", id="log-title")
            yield Log(id="log", auto_scroll=True)
        yield Static("", id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.manager.config_path)
        self._mark_selected()
        self.refresh_data()
        self.set_interval(self.refresh_seconds, self.refresh_data)

    # --- reading (thread worker; skipped while one is still running) ------------------------

    def refresh_data(self) -> None:
        if not self._reading.acquire(blocking=False):
            return  # the previous read is still waiting on a slow daemon or disk
        self.run_worker(self._read, thread=True, group="read", exit_on_error=False)

    def _read(self) -> None:
        try:
            try:
                snapshot = self.reader(self.manager, self.selected, self.show_errors)
            except Exception as error:  # a broken config or file must not end the dashboard
                snapshot = Snapshot([], error=f"{type(error).__name__}: {error}")
            self.call_from_thread(self._show, snapshot)
        finally:
            self._reading.release()

    def _show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.refreshes += 1
        for status in snapshot.statuses:
            card = self.query_one(f"#card-{status.name}", Static)
            card.update(card_text(status, status.name == self.selected))
        feed = self.query_one("#feed", Log)
        lines = snapshot.feed or ["(no events yet)"]
        if list(feed.lines) != lines:
            feed.clear()
            feed.write_lines(lines)
        log = self.query_one("#log", Log)
        if list(log.lines) != snapshot.log:
            log.clear()
            log.write_lines(snapshot.log)
        kind = "error log" if self.show_errors else "log"
        self.query_one("#log-title", Static).update(
            Text(f"{self.selected} {kind} (l to hide)" if log.has_class("shown") else "")
        )
        if snapshot.error:
            self._say(f"cannot read the services: {snapshot.error}")

    # --- actions ------------------------------------------------------------------------------

    def action_select(self, step: int) -> None:
        index = (self.services.index(self.selected) + step) % len(self.services)
        self.selected = self.services[index]
        self._mark_selected()
        if self.snapshot is not None:
            self._show(self.snapshot)
        self.refresh_data()

    def action_toggle_log(self) -> None:
        self.query_one("#log", Log).toggle_class("shown")
        self.refresh_data()

    def action_toggle_errors(self) -> None:
        self.show_errors = not self.show_errors
        self.query_one("#log", Log).add_class("shown")
        self.refresh_data()

    def action_control(self, what: str) -> None:
        name = self.selected
        self._say(f"{name}: {what}ing…")
        self.run_worker(
            lambda: self._control(name, what), thread=True, group="control", exit_on_error=False
        )

    def _control(self, name: str, what: str) -> None:
        daemon = self.manager.daemon(name)
        try:
            if what == "start":
                ok = daemon.is_running() or daemon.start()
            elif what == "stop":
                ok = daemon.stop()
            else:
                ok = daemon.restart()
            message = (
                f"{name}: {what} done" if ok else f"{name}: {what} failed: {daemon.last_error}"
            )
        except Exception as error:  # shown, never raised into the app
            message = f"{name}: {what} failed: {type(error).__name__}: {error}"
        self.call_from_thread(self._say, message)
        self.call_from_thread(self.refresh_data)

    def _say(self, message: str) -> None:
        self.query_one("#message", Static).update(Text(message))

    def _mark_selected(self) -> None:
        for name in self.services:
            card = self.query_one(f"#card-{name}", Static)
            card.set_class(name == self.selected, "selected")
            if self.snapshot is None:  # still waiting for the first read
                mark = "▶ " if name == self.selected else "  "
                card.update(Text(f"{mark}{name}\nreading…"))


def run_tui(config_path: Path, **kwargs: Any) -> None:
    from syft_monitors.services.manager import ServiceManager  # noqa: PLC0415

    SyftBgApp(ServiceManager(config_path), **kwargs).run()
