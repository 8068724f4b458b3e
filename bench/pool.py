"""Benchmark: one pool process serving N data owners, beside N single-owner processes (issue 19).

For each N the sandbox (in the bench process) holds N owners, each with an accepted scientist;
`syft-bg pool --owners DIR` serves them in one child process, every owner polling every
`interval` seconds (its first poll spread over one interval, as the pool does by default).
Measured from outside the child, through /proc:

- peak RSS (`VmHWM`) of the pool process, total and per owner; the marginal cost per owner is
  (peak at the largest N - peak at the smallest N) / (difference in owners);
- CPU (user + system, all threads) per idle minute, over an idle window of whole intervals;
- Drive requests per owner per idle poll: Drive requests the sandbox served in the idle window
  divided by the polls the pool counted (`syft_monitor_polls_total`), and their methods;
- detection latency: jobs submitted to random owners at random moments of a window; latency is
  from the upload to the moment the owner's "Job:" email is in the sandbox's sent mail;
- the machine's load average at the start and end of each measurement (2 cores, shared).

The same figures for N single-owner processes (`NotificationMonitor.from_config(...).check(...)`,
what a pod runs) are measured at the smallest N; their per-process figures times N is the
single-owner cost of the larger Ns.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench.context import BenchContext
from bench.harness import REPO
from bench.stats import summarize
from syft_sandbox import Sandbox
from syft_sandbox.pool_world import PoolWorld, owners_world

TICKS = os.sysconf("SC_CLK_TCK")
POLLS_OK = re.compile(
    r'^syft_monitor_polls_total\{monitor="[^"]+",outcome="ok"\} (\S+)$', re.MULTILINE
)
SINGLE = """
import logging, sys
from syft_monitors.monitors.seed_monitors import NotificationMonitor
logging.basicConfig(level=logging.WARNING)
NotificationMonitor.from_config(sys.argv[1]).check(interval=float(sys.argv[2]))
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    owners: tuple[int, ...]
    singles: int
    interval: int
    idle_intervals: int
    jobs: int
    job_window: float
    workers: int
    #: Seconds between the last baseline and the idle window (the baselines' writes settle).
    settle: float


FULL = Sizes(
    owners=(10, 100, 1000),
    singles=10,
    interval=30,
    idle_intervals=2,
    jobs=40,
    job_window=60.0,
    workers=8,
    settle=5.0,
)
SMOKE = Sizes(
    owners=(2,),
    singles=2,
    interval=1,
    idle_intervals=2,
    jobs=2,
    job_window=1.0,
    workers=2,
    settle=0.0,
)


def run(ctx: BenchContext) -> dict[str, Any]:
    sizes = SMOKE if ctx.smoke else FULL
    rows: list[dict[str, Any]] = []
    for count in sizes.owners:
        rows.append(_measure(ctx, sizes, count, pooled=True))
        if count == sizes.singles:
            rows.append(_measure(ctx, sizes, count, pooled=False))
    if sizes.singles not in sizes.owners:
        rows.append(_measure(ctx, sizes, sizes.singles, pooled=False))
    pooled = sorted((r for r in rows if r["mode"] == "pool"), key=lambda r: r["owners"])
    marginal = None
    if len(pooled) > 1 and pooled[-1]["owners"] > pooled[0]["owners"]:
        grew = pooled[-1]["vmhwm_kib"] - pooled[0]["vmhwm_kib"]
        marginal = round(grew / (pooled[-1]["owners"] - pooled[0]["owners"]), 1)
    return {
        "params": dataclasses.asdict(sizes),
        "rows": rows,
        "marginal_kib_per_owner": marginal,
    }


# --- one measurement ------------------------------------------------------------------------


def _measure(ctx: BenchContext, sizes: Sizes, count: int, *, pooled: bool) -> dict[str, Any]:
    mode = "pool" if pooled else "single"
    folder = ctx.workdir / "pool" / f"{mode}-{count}"
    sandbox = Sandbox()
    with sandbox.serve() as server:
        started = time.perf_counter()
        world = owners_world(
            sandbox,
            server,
            folder / "owners",
            count,
            scientists=min(10, count),
            config={"interval": sizes.interval},
        )
        ctx.progress(f"pool {mode} N={count}: world in {time.perf_counter() - started:.1f}s")
        load_start = os.getloadavg()
        with _processes(world, folder, sizes, pooled=pooled) as group:
            # Every owner's first poll (its baseline) falls within one interval.
            _wait_baselined(world, timeout=sizes.interval * 3 + 60 + count * 0.1)
            time.sleep(sizes.settle)
            idle = _idle_window(sandbox, group, sizes)
            ctx.progress(f"pool {mode} N={count}: idle {idle}")
            latency = _latency(world, sizes)
            ctx.progress(f"pool {mode} N={count}: latency {latency['latency_s']}")
            memory = group.memory()
        load_end = os.getloadavg()
    return {
        "mode": mode,
        "owners": count,
        "processes": 1 if pooled else count,
        **memory,
        "kib_per_owner": round(memory["vmhwm_kib"] / count, 1),
        **idle,
        **latency,
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in load_end],
    }


class _Group:
    """The monitor processes of one measurement (one pool, or one process per owner)."""

    def __init__(self, processes: list[subprocess.Popen[bytes]], ports: list[int]):
        self.processes = processes
        self.ports = ports

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        return total

    def memory(self) -> dict[str, int]:
        found = {"vmhwm_kib": 0, "vmrss_kib": 0}
        for process in self.processes:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    found[key.lower() + "_kib"] += int(value.split()[0])
        return found

    def polls(self) -> int:
        """Successful polls so far, from each process's /metrics (`syft_monitor_polls_total`)."""
        total = 0.0
        for port in self.ports:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=30) as reply:
                text = reply.read().decode()
            total += sum(float(m.group(1)) for m in POLLS_OK.finditer(text))
        return int(total)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _processes(world: PoolWorld, folder: Path, sizes: Sizes, *, pooled: bool) -> Iterator[_Group]:
    processes: list[subprocess.Popen[bytes]] = []
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ports: list[int] = []
    try:
        if pooled:
            port = _free_port()
            ports.append(port)
            command = [
                sys.executable,
                "-c",
                "from syft_monitors.cli.main import main; main()",
                "pool",
                "--owners",
                str(world.folder),
                "--workers",
                str(sizes.workers),
                "--spread",
                str(sizes.interval),
                "--metrics-port",
                str(port),
                "--metrics-host",
                "127.0.0.1",
                "--api-root",
                world.server.url,
            ]
            processes.append(_spawn(command, logs / "pool.log", {"SYFT_LOG_LEVEL": "WARNING"}))
        else:
            for index in range(len(world.owners)):
                port = _free_port()
                ports.append(port)
                config = _single_config(world, index, port)
                command = [sys.executable, "-c", SINGLE, str(config), str(sizes.interval)]
                processes.append(_spawn(command, logs / f"single-{index}.log", {}))
                # Spread the starts over one interval, as the pool spreads first polls.
                time.sleep(sizes.interval / max(1, len(world.owners)))
        yield _Group(processes, ports)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)


def _spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            command, stdout=sink, stderr=sink, cwd=REPO, env={**os.environ, **env}
        )


def _single_config(world: PoolWorld, index: int, port: int) -> Path:
    """The same owner as a single-owner process sees it (explicit token and state paths)."""
    folder = world.owner_folder(index)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config.update(
        {
            "drive_token_path": str(folder / "drive_token.json"),
            "gmail_token_path": str(folder / "gmail_token.json"),
            "state_file": str(folder / "state.json"),
            "metrics_port": port,
        }
    )
    path = folder / "single.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_baselined(world: PoolWorld, timeout: float) -> None:
    from syft_monitors.state.json_file import JsonStateManager  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    pending = set(range(len(world.owners)))
    while pending and time.monotonic() < deadline:
        for index in list(pending):
            path = world.owner_folder(index) / "state.json"
            if path.exists() and JsonStateManager(path).load().cursors:
                pending.discard(index)
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"{len(pending)} owners never polled (see the logs)")


def _idle_window(sandbox: Sandbox, group: _Group, sizes: Sizes) -> dict[str, Any]:
    """CPU and Drive requests over whole idle intervals."""
    seconds = sizes.interval * sizes.idle_intervals
    mark = sandbox.mark()
    cpu_before = group.cpu_seconds()
    polls_before = group.polls()
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu = group.cpu_seconds() - cpu_before
    polls = group.polls() - polls_before
    methods = Counter(r.operation for r in sandbox.requests(mark, api="drive"))
    drive = sum(methods.values())
    return {
        "idle_window_s": round(elapsed, 1),
        "cpu_s_per_idle_minute": round(cpu * 60 / elapsed, 3),
        "idle_polls": polls,
        "idle_drive_requests": drive,
        "drive_requests_per_idle_poll": round(drive / polls, 3) if polls > 0 else None,
        "idle_drive_methods": dict(methods),
    }


def _latency(world: PoolWorld, sizes: Sizes) -> dict[str, Any]:
    """Jobs to random owners at random moments; seconds until each owner's "Job:" email."""
    rng = random.Random(19)
    count = len(world.owners)
    targets = (
        rng.sample(range(count), min(sizes.jobs, count))
        if sizes.jobs <= count
        else [rng.randrange(count) for _ in range(sizes.jobs)]
    )
    moments = sorted(rng.uniform(0, sizes.job_window) for _ in targets)
    submitted: dict[int, list[tuple[str, float]]] = {}
    detected: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for index, jobs in list(submitted.items()):
                for record in world.sandbox.sent_mail(world.owners[index]):
                    subject = str(record.message["Subject"])
                    for job, _at in jobs:
                        if job not in detected and subject.startswith("Job:") and job in subject:
                            detected[job] = time.monotonic()
            stop.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    for number, (index, moment) in enumerate(zip(targets, moments, strict=True)):
        time.sleep(max(0.0, started + moment - time.monotonic()))
        job = f"lat{number:03d}"
        at = time.monotonic()
        world.submit(index, job)
        submitted.setdefault(index, []).append((job, at))
    deadline = time.monotonic() + sizes.interval * 2 + 30
    while len(detected) < len(targets) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    watcher.join(5)
    latencies = [
        detected[job] - at for jobs in submitted.values() for job, at in jobs if job in detected
    ]
    return {
        "jobs": len(targets),
        "detected": len(latencies),
        "latency_s": summarize(latencies, digits=2) if latencies else None,
    }


# --- the README table -----------------------------------------------------------------------


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def _latency_cell(row: dict[str, Any]) -> str:
    found = row.get("latency_s")
    if not found:
        return f"- ({row['detected']}/{row['jobs']})"
    return f"{found['median']:.1f} / {found['p95']:.1f} ({row['detected']}/{row['jobs']})"


def _load(row: dict[str, Any]) -> str:
    return f"{row['load_avg_start'][0]:.1f} → {row['load_avg_end'][0]:.1f}"


def _measured_row(row: dict[str, Any]) -> str:
    how = "one pool process" if row["mode"] == "pool" else "one process per owner (measured)"
    methods = ", ".join(f"{m} {n}" for m, n in sorted(row["idle_drive_methods"].items()))
    cells = (
        row["owners"],
        how,
        row["processes"],
        _mib(row["vmhwm_kib"]),
        f"{row['kib_per_owner'] / 1024:.2f}",
        row["cpu_s_per_idle_minute"],
        f"{row['drive_requests_per_idle_poll']} ({methods})",
        _latency_cell(row),
        _load(row),
    )
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _scaled_row(base: dict[str, Any], count: int) -> str:
    """N single-owner processes: the measured per-process figures times N."""
    per_process = base["vmhwm_kib"] / base["processes"]
    cpu = base["cpu_s_per_idle_minute"] / base["processes"]
    return (
        f"| {count} | one process per owner (N = {base['owners']} measured x "
        f"{count // base['owners']}) | {count} | {_mib(per_process * count)} | "
        f"{per_process / 1024:.2f} | {cpu * count:.2f} | 1 | - | - |"
    )


def render(entry: dict[str, Any]) -> list[str]:
    """The table of bench/README.md: measured rows, then single-owner processes x N."""
    interval = entry["params"]["interval"]
    header = [
        "owners N",
        "how",
        "processes",
        "peak RSS total (MiB)",
        "per owner (MiB)",
        "CPU s per idle minute",
        "Drive requests per idle poll",
        f"detection p50 / p95 (s), interval {interval} s",
        "load avg (1 min) start → end",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = sorted(entry["rows"], key=lambda r: (r["owners"], r["mode"]))
    singles = [r for r in rows if r["mode"] == "single"]
    base = singles[0] if singles else None
    for count in sorted({r["owners"] for r in rows}):
        for row in (r for r in rows if r["owners"] == count):
            lines.append(_measured_row(row))
        if base is not None and not any(
            r["owners"] == count and r["mode"] == "single" for r in rows
        ):
            lines.append(_scaled_row(base, count))
    marginal = entry.get("marginal_kib_per_owner")
    if marginal is not None:
        lines += [
            "",
            f"Each additional owner in a pool: {marginal / 1024:.3f} MiB of peak RSS "
            f"({marginal:.0f} KiB), from the smallest to the largest pool measured.",
        ]
    return lines
