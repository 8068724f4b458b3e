"""The TUI's event feed: which log lines are events, in time order, across services."""

from __future__ import annotations

from pathlib import Path

from syft_monitors.cli.tui import event_feed
from syft_monitors.services.manager import ServiceStatus


def status(name: str, log: Path) -> ServiceStatus:
    return ServiceStatus(
        name=name,
        description="",
        running=True,
        pid=1,
        uptime_seconds=1.0,
        configured=True,
        last_poll_at=None,
        last_error=None,
        events_today=0,
        log_file=log,
        error_log_file=log,
    )


def test_feed_merges_event_lines_of_every_service(tmp_path: Path) -> None:
    notify, approve = tmp_path / "notify.log", tmp_path / "approve.log"
    notify.write_text(
        "2026-12-07 10:00:01 - syft_monitors.daemon.child - INFO - notify starting (PID 7, c)\n"
        "2026-12-07 10:00:02 - syft_monitors.monitors.pipeline - INFO - poll done\n"
        "2026-12-07 10:00:05 - syft_monitors.runtime.delivery - INFO - sent new_job email "
        "about job 'x' from a@b.example to the data owner\n"
    )
    approve.write_text(
        "2026-12-07 10:00:03 - syft_monitors.approve.service - INFO - auto-approved job 'x' "
        "from a@b.example (rule 'r', current layout)\n"
        "2026-12-07 10:00:04 - syft_monitors.approve.service - WARNING - could not accept peer\n"
    )
    feed = event_feed([status("notify", notify), status("approve", approve)])
    assert feed == [
        "10:00:01 notify   notify starting (PID 7, c)",
        "10:00:03 approve  auto-approved job 'x' from a@b.example (rule 'r', current layout)",
        "10:00:04 approve  WARNING could not accept peer",
        "10:00:05 notify   sent new_job email about job 'x' from a@b.example to the data owner",
    ]
