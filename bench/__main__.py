"""`python -m bench [--smoke] [--only NAME ...] [--repeat N] [--out PATH] [--serial]`.

Writes the results JSON (default `bench/results.json`). With the default output path the tables
in `bench/README.md` are regenerated from it; `--only` keeps the other benchmarks' earlier
results in that file, so the README always shows the latest run of each.

To fit the full run in 20 minutes on 2 cores, benchmarks whose results do not depend on timing
run in two parallel processes ("lanes"); the latency benchmark always runs alone. `--serial`
runs everything one after the other in this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench.context import BenchContext
from bench.harness import REPO
from bench.machine import machine_info, run_info
from bench.registry import BENCHMARKS, by_name
from bench.report import regenerate_readme

DEFAULT_OUT = REPO / "bench" / "results.json"
README = REPO / "bench" / "README.md"
SCHEMA = 1
#: Stages run one after the other; the lanes of a stage run at the same time, each in its own
#: process. Request counts, CPU seconds, peak memory and simulated minutes do not depend on what
#: else runs; the latency benchmark does, so it has a stage to itself.
STAGES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("poll_requests", "flood"), ("resources", "burst", "state_size")),
    (("latency",),),
    (("operator_scale",), ("heartbeat",)),
    # CPU per idle minute and detection latency depend on what else runs: alone.
    (("pool",),),
    # A latency too: alone.
    (("email_replies",),),
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the harness")
    parser.add_argument(
        "--only",
        action="append",
        choices=[b.name for b in BENCHMARKS],
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="repeat each measured run N times")
    parser.add_argument("--out", type=Path, default=None, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--no-upstream", action="store_true", help="do not run upstream")
    parser.add_argument("--serial", action="store_true", help="no parallel lanes")
    parser.add_argument(
        "--readme-only", action="store_true", help="only regenerate the README tables"
    )
    parser.add_argument("--lane", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def load_previous(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else {}


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    args = parse_args(arguments)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    out: Path = args.out or DEFAULT_OUT
    if args.readme_only:
        regenerate_readme(README, load_previous(out))
        return 0
    selected = [b.name for b in BENCHMARKS if not args.only or b.name in args.only]
    previous = load_previous(out) if args.only and args.lane is None else {}
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "machine": machine_info(),
        "run": run_info(REPO, arguments),
        "benchmarks": dict(previous.get("benchmarks", {})),
    }
    if args.only and previous.get("full_run"):
        results["full_run"] = previous["full_run"]  # the last run of everything, kept
    workdir = Path(tempfile.mkdtemp(prefix="syft-bench-"))
    ctx = BenchContext(
        smoke=args.smoke,
        repeat=args.repeat,
        workdir=workdir,
        upstream_allowed=not args.no_upstream,
        tag=f":{args.lane}" if args.lane else "",
    )
    started = time.perf_counter()
    try:
        if args.serial or args.lane is not None:
            failed = run_inline(ctx, selected, results, out, args, arguments)
        else:
            failed = run_stages(ctx, selected, results, out, args, arguments)
    finally:
        if args.keep:
            ctx.progress(f"scratch kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["run"]["wall_s"] = round(time.perf_counter() - started, 1)
    results["run"]["parallel_lanes"] = not (args.serial or args.lane is not None)
    if not args.only:
        results["full_run"] = results["run"]
    _write(out, results)
    if args.out is None and args.lane is None:
        regenerate_readme(README, results)
        ctx.progress(f"wrote {out.relative_to(REPO)} and the tables of {README.relative_to(REPO)}")
    return 1 if failed else 0


def run_inline(
    ctx: BenchContext,
    names: list[str],
    results: dict[str, Any],
    out: Path,
    args: argparse.Namespace,
    arguments: list[str],
) -> bool:
    """Run `names` one after the other in this process; True when one failed."""
    failed = False
    for name in names:
        bench = by_name(name)
        ctx.progress(f"--- {bench.name}: {bench.title}")
        begun = time.perf_counter()
        entry: dict[str, Any] = {
            "title": bench.title,
            "smoke": args.smoke,
            "repeat": args.repeat,
            "run": run_info(REPO, arguments),
        }
        try:
            entry.update(bench.run(ctx))
            entry.setdefault("status", "ok")
        except Exception as error:  # one broken benchmark must not hide the others
            failed = True
            traceback.print_exc()
            entry["status"] = "failed"
            entry["reason"] = f"{type(error).__name__}: {error}"[:500]
        entry["wall_s"] = round(time.perf_counter() - begun, 1)
        results["benchmarks"][bench.name] = entry
        ctx.progress(f"--- {bench.name}: {entry['status']} in {entry['wall_s']} s")
        _write(out, results)
    return failed


def run_stages(
    ctx: BenchContext,
    names: list[str],
    results: dict[str, Any],
    out: Path,
    args: argparse.Namespace,
    arguments: list[str],
) -> bool:
    """Run the stages in order; a stage with several lanes runs each in a child process."""
    if {"poll_requests", "resources"} & set(names):
        ctx.upstream()  # install once, before lanes that use it start
    failed = False
    for stage in STAGES:
        lanes = [[n for n in lane if n in names] for lane in stage]
        lanes = [lane for lane in lanes if lane]
        if len(lanes) <= 1:
            for lane in lanes:
                failed |= run_inline(ctx, lane, results, out, args, arguments)
            continue
        children = []
        for index, lane in enumerate(lanes):
            lane_out = ctx.workdir / f"lane-{index}.json"
            command = [sys.executable, "-m", "bench", "--lane", str(index + 1), "--out"]
            command += [str(lane_out), "--repeat", str(args.repeat)]
            command += ["--smoke"] * args.smoke + ["--no-upstream"] * args.no_upstream
            for name in lane:
                command += ["--only", name]
            ctx.progress(f"lane {index + 1}: {', '.join(lane)}")
            children.append((lane, lane_out, subprocess.Popen(command, cwd=REPO)))
        for lane, lane_out, child in children:
            code = child.wait()
            found = load_previous(lane_out).get("benchmarks", {})
            for name in lane:
                entry = found.get(name) or {
                    "title": by_name(name).title,
                    "status": "failed",
                    "reason": f"its lane exited with status {code} before writing a result",
                }
                # Keep when the lane ran it, but name the command that was typed.
                entry["run"] = {**entry.get("run", {}), "command": results["run"]["command"]}
                entry["lane"] = lanes.index(lane) + 1
                failed |= entry.get("status") == "failed" or code != 0
                results["benchmarks"][name] = entry
            _write(out, results)
    return failed


def _write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    temporary.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
