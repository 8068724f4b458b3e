"""Shared plumbing: a served sandbox world, monitor processes, request counting."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.lineproto import LineProcess
from bench.world import World, build_world
from syft_sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def served_world(
    workdir: Path,
    *,
    peers: int,
    jobs: int,
    legacy: bool = False,
    sandbox: Sandbox | None = None,
) -> Iterator[World]:
    """A fresh sandbox on a free loopback port holding a world of `peers` and `jobs`."""
    box = sandbox or Sandbox()
    with box.serve() as server:
        yield build_world(box, server, workdir, peers=peers, jobs=jobs, legacy=legacy)


def monitor_config(world: World, workdir: Path, *, strategy: str, **extra: Any) -> dict[str, Any]:
    token = str(world.token_file(world.do_email))
    return {
        "do_email": world.do_email,
        "syftbox_root": None,
        "drive_token_path": token,
        "gmail_token_path": token,
        "state_file": str(workdir / "state.json"),
        "google_api_root": world.url,
        "strategy": strategy,
        **extra,
    }


def spawn_monitor(
    world: World,
    workdir: Path,
    *,
    strategy: str = "changes",
    virtual_limiter: bool = False,
    **extra: Any,
) -> LineProcess:
    """Our `NotificationMonitor` for the world's DO, in a child process (see `bench.child`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec = {
        "config": monitor_config(world, workdir, strategy=strategy, **extra),
        "virtual_limiter": virtual_limiter,
    }
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    return LineProcess(
        [sys.executable, "-m", "bench.child", str(spec_path)],
        log=workdir / "monitor.log",
        cwd=REPO,
    )


def drive_calls(sandbox: Sandbox, mark: int, user: str | None = None) -> Counter[str]:
    """Drive requests served since `mark`, by Google method name."""
    return Counter(r.operation for r in sandbox.requests(mark, api="drive", user=user))


def gmail_calls(sandbox: Sandbox, mark: int, user: str | None = None) -> Counter[str]:
    return Counter(r.operation for r in sandbox.requests(mark, api="gmail", user=user))
