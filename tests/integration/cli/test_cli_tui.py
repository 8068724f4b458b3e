"""`syft-bg tui` driven headless with Textual's pilot against real daemons: cards, the event
feed, the log viewer, start/stop keys; a slow status read never freezes the keys."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner
from daemon_testkit import DO, DS, DaemonWorld

from syft_monitors.cli.main import cli
from syft_monitors.cli.tui import Snapshot, SyftBgApp, read_snapshot
from syft_monitors.services.manager import ServiceManager

SIZE = (140, 40)


def screen(app: SyftBgApp) -> str:
    """The whole screen as text, as a person sees it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def until(pilot: Any, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def test_dashboard_shows_a_job_and_controls_the_daemon(world: DaemonWorld) -> None:
    manager = ServiceManager(world.config_path)
    assert CliRunner().invoke(cli, ["start"]).exit_code == 0
    world.wait_for_log("notify running")
    world.scientist(DS).request_peer(DO)
    world.scientist(DS).submit_job(DO, "row count", {"main.py": "print(1)\n"})
    world.wait_for_log("sent new_job email about job 'row count'")
    pid = manager.daemon("notify").get_pid()

    async def drive() -> None:
        app = SyftBgApp(manager, refresh_seconds=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "events today" in screen(app), "the first read")
            text = screen(app)
            assert "▶ notify  running" in text
            assert f"PID        {pid}" in text
            assert "approve  off" in text
            assert f"sent new_job email about job 'row count' from {DS} to the data owner" in text

            await pilot.press("l")
            await until(pilot, lambda: "notify log (l to hide)" in screen(app), "the log viewer")
            assert "notify running, polling every" in screen(app)

            await pilot.press("x")
            await until(pilot, lambda: "notify  stopped" in screen(app), "the stop key")
            assert not manager.daemon("notify").is_running()
            await pilot.press("s")
            await until(pilot, lambda: "notify  running" in screen(app), "the start key")
            await pilot.press("q")

    asyncio.run(drive())
    assert manager.daemon("notify").is_running()
    assert CliRunner().invoke(cli, ["stop"]).exit_code == 0


def test_a_slow_read_never_blocks_the_keys(world: DaemonWorld) -> None:
    manager = ServiceManager(world.config_path)
    release = threading.Event()
    calls: list[float] = []

    def slow_reader(manager: ServiceManager, selected: str | None, errors: bool) -> Snapshot:
        calls.append(time.monotonic())
        release.wait(30)  # a daemon that does not answer
        return read_snapshot(manager, selected, errors)

    async def drive() -> None:
        app = SyftBgApp(manager, reader=slow_reader, refresh_seconds=0.1)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: bool(calls), "the first read to start")
            started = time.monotonic()
            await pilot.press("tab")
            await until(pilot, lambda: "▶ approve" in screen(app), "the selection to move")
            await pilot.press("l")
            assert time.monotonic() - started < 5  # answered while the read still hangs
            await pilot.pause(0.5)
            assert len(calls) == 1  # no pile of blocked reads behind the hung one
            release.set()
            await until(pilot, lambda: app.refreshes >= 1, "the read to finish")
            await until(pilot, lambda: len(calls) >= 2, "refreshing to go on")
            await pilot.press("q")

    asyncio.run(drive())


def test_tui_is_plain_text_outside_a_terminal(world: DaemonWorld) -> None:
    result = CliRunner().invoke(cli, ["tui"])
    assert result.exit_code == 1, result.output  # as `syft-bg status`: notify is down
    assert "notify" in result.output
    assert "main commands:" in result.output
