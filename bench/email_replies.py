"""Benchmark 6: approving by email reply (issue 18) — Gmail requests per idle tick, and the time
from the owner's reply to the approval on disk.

One data owner, one data scientist, the sandbox over HTTP. The notify service (in this process)
sends each new-job email; the data owner answers "approve" in the thread through the official
Gmail client (`syft_sandbox.mail_actors.MailUser`); the approve service, built from a config file
with `approve.email_replies: true`, runs its own poll loop in a thread at `tick` seconds.

- Idle: after the baseline, `idle_ticks` ticks with nothing new; the sandbox's request log counts
  the data owner's Gmail requests per tick (the claim: exactly one `history.list`).
- Latency: for each job, the time from the reply's `messages.send` returning to `state.yaml`
  saying approved (polled every 10 ms). The claim: p95 within one tick plus one second.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import yaml
from google.oauth2.credentials import Credentials

from bench.context import BenchContext
from bench.stats import percentile

DO = "owner@hospital.example"
DS = "alice@uni.example"
MAIN_PY = b"print('rows', 42)\n"
RUN_SH = b"#!/bin/bash\nset -euo pipefail\ncd code\npython main.py\n"


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    replies: int
    tick: float
    idle_ticks: int


FULL = Sizes(replies=40, tick=1.0, idle_ticks=50)
SMOKE = Sizes(replies=2, tick=1.0, idle_ticks=5)


def _place_job(root: Path, name: str) -> Path:
    folder = root / DO / "app_data" / "job" / "inbox" / DS / name
    (folder / "code").mkdir(parents=True)
    config = {
        "name": name,
        "type": "python",
        "entrypoint": "main.py",
        "dependencies": ["syft-client==0.1.117"],
        "files": ["main.py"],
        "submitted_at": "2026-05-01T10:00:00+00:00",
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (folder / "run.sh").write_bytes(RUN_SH)
    (folder / "code" / "main.py").write_bytes(MAIN_PY)
    return root / DO / "app_data" / "job" / "review" / DS / name / "state.yaml"


def _approved(path: Path) -> bool:
    try:
        state = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        return False
    return isinstance(state, dict) and state.get("status") == "approved"


def run(ctx: BenchContext) -> dict[str, Any]:
    from syft_monitors.approve.service import ApproveMonitor  # noqa: PLC0415
    from syft_monitors.google.clients import build_gmail_service  # noqa: PLC0415
    from syft_monitors.monitors.seed_monitors import NotificationMonitor  # noqa: PLC0415
    from syft_sandbox import Sandbox  # noqa: PLC0415
    from syft_sandbox.mail_actors import MailUser  # noqa: PLC0415

    sizes = SMOKE if ctx.smoke else FULL
    work = ctx.workdir / "email_replies"
    work.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(seed=18)
    sandbox.add_user(DO)
    sandbox.add_user(DS)
    with sandbox.serve() as server:
        tokens = server.write_token_files(work / "tokens")
        root = work / "SyftBox"
        (root / DO).mkdir(parents=True, exist_ok=True)
        config_path = work / "config.yaml"
        config = {
            "do_email": DO,
            "syftbox_root": str(root),
            "gmail_token_path": str(tokens[DO]),
            "drive_token_path": None,
            "state_file": str(work / "state.json"),
            "google_api_root": server.url,
            "sender": "gmail",
            "flood": {"enabled": False},
            "approve": {"interval": 1, "email_replies": True},
        }
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        notify = NotificationMonitor.from_config(config_path)
        approve = ApproveMonitor.from_config(config_path)
        gmail = build_gmail_service(
            Credentials(sandbox.access_token(DO)),  # type: ignore[no-untyped-call]
            api_root=server.url,
        )
        owner = MailUser(DO, gmail)
        try:
            notify.check()
            approve.check()  # the baseline
            idle: list[int] = []
            operations: set[str] = set()
            for _ in range(sizes.idle_ticks):
                mark = sandbox.mark()
                approve.check()
                calls = [r.operation for r in sandbox.requests(mark, api="gmail", user=DO)]
                idle.append(len(calls))
                operations.update(calls)
            ctx.progress(f"email replies: idle ticks cost {max(idle)} Gmail request(s)")
            latencies: list[float] = []
            approve.start(interval=max(1, int(sizes.tick)))
            try:
                for index in range(sizes.replies):
                    state = _place_job(root, f"job {index:03d}")
                    notify.check()
                    [root_mail] = [
                        m
                        for m in sandbox.sent_mail(DO)
                        if m.message["Subject"] == f"Job: job {index:03d}"
                    ]
                    owner.reply(root_mail.thread_id, "approve")
                    sent = time.perf_counter()
                    deadline = sent + 30.0
                    while not _approved(state) and time.perf_counter() < deadline:
                        time.sleep(0.01)
                    if _approved(state):
                        latencies.append(time.perf_counter() - sent)
            finally:
                approve.stop()
        finally:
            notify.stop()
            gmail.close()
    ctx.progress(
        f"email replies: {len(latencies)}/{sizes.replies} approved, "
        f"p95 {percentile(latencies, 95):.2f} s"
        if latencies
        else "email replies: nothing approved"
    )
    return {
        "params": dataclasses.asdict(sizes),
        "idle_ticks": len(idle),
        "idle_requests_max": max(idle),
        "idle_requests_mean": sum(idle) / len(idle),
        "idle_operations": sorted(operations),
        "replies": sizes.replies,
        "approved": len(latencies),
        "latency_s": {
            "p50": round(percentile(latencies, 50), 3) if latencies else None,
            "p95": round(percentile(latencies, 95), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None,
        },
    }


def render(entry: dict[str, Any]) -> list[str]:
    params = entry["params"]
    latency = entry["latency_s"]
    budget = params["tick"] + 1.0
    return [
        "| measure | claim | result |",
        "|---|---|---|",
        f"| Gmail requests per idle approve tick ({entry['idle_ticks']} ticks) | 1 | "
        f"max {entry['idle_requests_max']}, mean {entry['idle_requests_mean']:.2f} "
        f"({', '.join(entry['idle_operations'])}) |",
        f"| reply to approval on disk, tick {params['tick']:g} s "
        f"({entry['approved']}/{entry['replies']} approved) | p95 ≤ {budget:g} s | "
        f"p50 {latency['p50']} s, p95 {latency['p95']} s, max {latency['max']} s |",
    ]
