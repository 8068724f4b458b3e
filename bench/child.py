"""A production `NotificationMonitor` in its own process, polled on command by the bench.

    python -m bench.child SPEC.json

SPEC holds the monitor's config (the same keys as a `config.yaml`) plus `virtual_limiter`: when
true, the Gmail rate limiter runs on a time-compressed clock (waits are skipped and counted), so
a benchmark that sends hundreds of emails does not sit out Gmail's per-minute quota.

Commands, one JSON object per line on stdin (answers on stdout, see `lineproto`):
  {"cmd": "poll", "n": N}            run N checks back to back
  {"cmd": "run", "interval": S, "duration": D}   the monitor's own loop (`check(interval=S)`)
  {"cmd": "stats"}                   memory of this process
  {"cmd": "quit"}
Every answer carries CPU seconds (user + system, all threads) and wall seconds of the command,
and how many ERROR log records the monitor wrote meanwhile.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import IO, Any

from bench.lineproto import Message, protocol_stream, send
from bench.vclock import VirtualClock
from syft_monitors.config import parse_config
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.ratelimit import RateLimiter
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.runtime.wiring import state_from_config


class ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def memory() -> dict[str, int]:
    """Peak and current resident set size of this process, in KiB."""
    found: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key.lower() + "_kib"] = int(value.split()[0])
    found["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return found


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_monitor(spec: dict[str, Any], clock: VirtualClock | None) -> NotificationMonitor:
    config = parse_config(spec["config"], source="bench spec")
    metrics = MonitorMetrics()
    limiter = (
        RateLimiter(config.rate_limit_per_minute, clock=clock.monotonic, sleep=clock.sleep)
        if clock is not None
        else None
    )
    sender = GmailSender(
        config.gmail_token_path,
        api_root=config.api_root(),
        email_format=config.email_format,
        rate_limit_per_minute=config.rate_limit_per_minute,
        rate_limiter=limiter,
        observer=metrics.observe_request,
    )
    return NotificationMonitor(
        do_email=config.do_email,
        sender=sender,
        state=state_from_config(config),
        config=config.model_dump(),
        drive_token_path=config.drive_token_path,
        syftbox_root=None,
        google_api_root=config.api_root(),
        strategy=config.strategy,
        drive=None,
        metrics=metrics,
    )


class Child:
    def __init__(self, monitor: NotificationMonitor, clock: VirtualClock | None) -> None:
        self.monitor = monitor
        self.clock = clock
        self.errors = ErrorCounter()
        logging.getLogger().addHandler(self.errors)

    def measured(self, action: Any) -> Message:
        errors = self.errors.count
        cpu = cpu_seconds()
        wall = time.perf_counter()
        action()
        report = self.monitor.last_report
        return {
            "cpu_s": cpu_seconds() - cpu,
            "wall_s": time.perf_counter() - wall,
            "errors": self.errors.count - errors,
            "checks": self.monitor.checks,
            "report": dataclasses.asdict(report) if report is not None else None,
            "skipped_s": self.clock.skipped if self.clock is not None else 0.0,
        }

    def handle(self, command: dict[str, Any]) -> Message:
        name = command.get("cmd")
        if name == "poll":
            count = int(command.get("n", 1))

            def polls() -> None:
                for _ in range(count):
                    self.monitor.check()

            return self.measured(polls)
        if name == "run":
            interval = float(command["interval"])
            duration = float(command["duration"])
            return self.measured(lambda: self.monitor.check(interval=interval, duration=duration))
        if name == "stats":
            return {**memory(), "cpu_s_total": cpu_seconds()}
        if name == "quit":
            return {"bye": True}
        return {"error": f"unknown command {name!r}"}


def serve(spec: dict[str, Any], stream: IO[str]) -> None:
    clock = VirtualClock() if spec.get("virtual_limiter") else None
    child = Child(build_monitor(spec, clock), clock)
    send(stream, {"ready": True, **memory()})
    for line in sys.stdin:
        command = json.loads(line)
        try:
            reply = child.handle(command)
        except Exception as error:  # the bench must see the failure, not a silent hang
            logging.getLogger(__name__).exception("command failed")
            reply = {"error": f"{type(error).__name__}: {error}"[:500]}
        send(stream, reply)
        if command.get("cmd") == "quit":
            return


def main(argv: list[str]) -> int:
    stream = protocol_stream()
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    serve(spec, stream)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
