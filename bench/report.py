"""Regenerate the tables of bench/README.md from results.json (never edit them by hand).

Each table sits between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`; everything
outside the markers is prose and is left alone.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench import email_replies, heartbeat, operator_scale, pool

Render = Callable[[dict[str, Any]], list[str]]


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return lines


def _spread(values: Sequence[float | int], fmt: str = "{:g}") -> str:
    ordered = sorted(values)
    middle = ordered[len(ordered) // 2]
    if ordered[0] == ordered[-1]:
        return fmt.format(middle)
    return f"{fmt.format(middle)} ({fmt.format(ordered[0])}-{fmt.format(ordered[-1])})"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def _summary(s: dict[str, Any] | None, scale: float = 1.0, digits: int = 1) -> str:
    if not s:
        return "-"
    return (
        f"{s['median'] * scale:.{digits}f} [{s['min'] * scale:.{digits}f}-"
        f"{s['max'] * scale:.{digits}f}]"
    )


# --- per benchmark --------------------------------------------------------------------------


def render_machine(results: dict[str, Any]) -> list[str]:
    machine = results.get("machine", {})
    full = results.get("full_run") or {}
    latest = results.get("run", {})
    dirty = " (working tree with uncommitted changes)" if full.get("git_dirty") else ""
    rows: list[list[object]] = [
        ["CPU", f"{machine.get('cpu_model')} ({machine.get('cpus_usable')} usable cores)"],
        ["RAM", f"{machine.get('memory_mib')} MiB"],
        ["OS / Python", f"{machine.get('os')} / Python {machine.get('python')}"],
    ]
    if full:
        lanes = "two parallel lanes, then latency alone" if full.get("parallel_lanes") else "serial"
        rows += [
            ["full run (UTC)", full.get("date")],
            ["commit", f"`{full.get('git_commit')}`{dirty}"],
            ["command", f"`{full.get('command')}` ({lanes})"],
            ["full run wall time", f"{full.get('wall_s')} s"],
        ]
    if latest and latest is not full and latest.get("date") != full.get("date"):
        rows.append(["later partial run", f"`{latest.get('command')}` at {latest.get('date')}"])
    return table(["", ""], rows)


def render_poll_requests(entry: dict[str, Any]) -> list[str]:
    data = entry
    burst = data["params"]["burst"]
    key = f"new_{burst}"
    grouped: dict[tuple[int, int, str], list[dict[str, Any]]] = {}
    for row in data["rows"]:
        grouped.setdefault((row["peers"], row["jobs"], row["strategy"]), []).append(row)
    order = {"changes": 0, "list": 1, "upstream": 2}
    rows = []
    for (peers, jobs, strategy), runs in sorted(
        grouped.items(), key=lambda item: (item[0][0], item[0][1], order.get(item[0][2], 9))
    ):
        name = {
            "changes": "ours, changes feed",
            "list": "ours, `strategy=list`",
            "upstream": f"upstream {runs[0].get('version') or ''} (measured)",
        }[strategy]
        found = (
            f"{_found(runs, 'new_1')}/1, {_found(runs, key)}/{burst}, "
            f"{_found(runs, 'archived_1')}/1"
        )
        idle_methods = ", ".join(f"{m} {n}" for m, n in runs[0]["idle"]["by_method"].items())
        rows.append(
            [
                peers,
                jobs,
                name,
                _spread([r["idle"]["drive"] for r in runs]),
                _spread([r["new_1"]["drive"] for r in runs]),
                _spread([r[key]["drive"] for r in runs]),
                _spread([r["archived_1"]["drive"] for r in runs]),
                found,
                _spread([r["idle"]["wall_s"] * 1000 for r in runs], "{:.1f}"),
                idle_methods or "-",
            ]
        )
    lines = table(
        [
            "peers P",
            "jobs J",
            "poller",
            "idle poll",
            "+1 job",
            f"+{burst} jobs",
            "+1 job archived by the DO before the poll",
            f"jobs found (+1, +{burst}, archived)",
            "idle poll wall ms",
            "idle poll requests by method",
        ],
        rows,
    )
    upstream = data.get("upstream", {})
    if not upstream.get("available"):
        lines += ["", f"Upstream measured: **not run** — {upstream.get('reason')}."]
    lines += [
        "",
        "Upstream's documented formulas (**model, not measured**; D = N = P = peers):",
        "",
    ]
    lines += table(
        [
            "peers P",
            "old module idle (2 + D)",
            "+1",
            f"+{burst}",
            "syft-bg idle (3 + 2N + 2P)",
            "+1",
            f"+{burst}",
        ],
        [
            [
                m["peers"],
                m["old_module"]["idle"],
                m["old_module"]["new_1"],
                m["old_module"][key],
                m["syft_bg"]["idle"],
                m["syft_bg"]["new_1"],
                m["syft_bg"][key],
            ]
            for m in data["model"]
        ],
    )
    return lines


def _found(runs: list[dict[str, Any]], key: str) -> str:
    values = []
    for run in runs:
        events = run[key].get("events")
        values.append(
            events if isinstance(events, int) else run[key]["by_method"].get("files.get_media", 0)
        )
    return _spread(values)


def render_latency(entry: dict[str, Any]) -> list[str]:
    rows = []
    for row in entry["rows"]:
        latency = row.get("latency_s") or {}
        delay = row.get("archive_delay_s")
        rows.append(
            [
                f"{row['interval_s']:g} s",
                "yes" if row["archive"] else "no",
                row["jobs"],
                row["detected"],
                f"{latency.get('median', 0):.2f}" if latency else "-",
                f"{latency.get('p95', 0):.2f}" if latency else "-",
                f"{latency.get('max', 0):.2f}" if latency else "-",
                f"{delay['median']:.2f} / {delay['max']:.2f}" if delay else "-",
            ]
        )
    return table(
        [
            "interval",
            "DO sync archives",
            "jobs",
            "emailed",
            "p50 s",
            "p95 s",
            "max s",
            "archived after (p50 / max s)",
        ],
        rows,
    )


def render_resources(entry: dict[str, Any]) -> list[str]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in entry["rows"]:
        grouped.setdefault((row["world"], row["strategy"]), []).append(row)
    rows = []
    for (world, strategy), runs in grouped.items():
        first = runs[0]
        rows.append(
            [
                f"{world} (P={first['peers']}, J={first['jobs']})",
                strategy,
                _summary(first["cpu_per_idle_poll_s"], 1000, 2),
                _summary(first["wall_per_idle_poll_s"], 1000, 2),
                _spread([r["vmhwm_kib"] / 1024 for r in runs], "{:.1f}"),
                _spread([r["baseline_wall_s"] for r in runs], "{:.2f}"),
            ]
        )
    lines = table(
        [
            "world",
            "poller",
            "CPU ms per idle poll, median [min-max]",
            "wall ms per idle poll",
            "peak RSS MiB (VmHWM)",
            "first poll (baseline) s",
        ],
        rows,
    )
    lines += ["", "24 h of polls (time compressed, back to back):", ""]
    lines += table(
        [
            "polls",
            "new jobs (emailed)",
            "CPU s total",
            "CPU ms per poll",
            "wall s",
            "VmHWM MiB start → end",
            "VmRSS MiB start → end",
            "errors",
        ],
        [
            [
                d["polls"],
                f"{d['jobs']} ({d['jobs_emailed']})",
                d["cpu_s"],
                f"{d['cpu_per_poll_s'] * 1000:.2f}",
                d["wall_s"],
                f"{_mib(d['vmhwm_start_kib'])} → {_mib(d['vmhwm_end_kib'])}",
                f"{_mib(d['vmrss_start_kib'])} → {_mib(d['vmrss_end_kib'])}",
                d["errors"],
            ]
            for d in entry["day"]
        ],
    )
    return lines


def render_burst(entry: dict[str, Any]) -> list[str]:
    params = entry["params"]
    return table(
        [
            "jobs",
            "limit / 60 s",
            "simulated min to all DO emails",
            "to all emails",
            "DO / DS emails",
            "lost",
            "duplicated",
            "max sends in any 60 s (Gmail receive times)",
            f"shortest span of {params['per_minute'] + 1} sends",
            "real s",
            "polls",
        ],
        [
            [
                r["jobs"],
                params["per_minute"],
                r["minutes_to_all_do_emails"],
                r["minutes_to_all_emails"],
                f"{r['do_emails']} / {r['ds_emails']}",
                r["lost_do"] + r["lost_ds"],
                r["duplicates"],
                r["max_sends_in_any_window"],
                f"{r['min_span_of_limit_plus_one_sends_s']} s",
                r["process_wall_s"],
                r["polls"],
            ]
            for r in entry["runs"]
        ],
    )


def render_flood(entry: dict[str, Any]) -> list[str]:
    params = entry["params"]
    labels = {"today": "today (no flood control)", "flood_control": "flood control (defaults)"}
    rows = []
    for run in entry["runs"]:
        for mode, r in run.items():
            rows.append(
                [
                    labels.get(mode, mode),
                    r["strangers"],
                    r["emails_first_hour"],
                    r["owner_emails_first_hour"],
                    f"{r['flood_emails_total']} ({r['flood_owner_emails_total']} to the owner)",
                    r["digests"],
                    r["folded"],
                    f"{r['job_emails_sent']} / {params['jobs']}",
                    (
                        f"{r['job_latency_median_s']} / {r['job_latency_max_s']}"
                        if r["job_emails_sent"]
                        else "never sent"
                    ),
                    f"{r['budget_used']} of {params['gmail_daily_limit']}",
                    r["refused_sends"],
                    r["real_seconds"],
                ]
            )
    return table(
        [
            "mode",
            "strangers",
            "emails in first hour",
            "to the owner",
            "emails about the flood (2 h)",
            "digests",
            "folded",
            "job emails to the owner",
            "job to owner email, median / max s",
            "sends used of Gmail's daily limit",
            "sends refused (dailyLimitExceeded)",
            "real s",
        ],
        rows,
    )


def render_state_size(entry: dict[str, Any]) -> list[str]:
    jobs = entry["params"]["target_jobs"]
    step = entry["params"]["step_jobs"]
    sample = entry["sample"]
    json_file = entry["json_file"]
    configmap = entry["configmap"]
    rows: list[list[object]] = [
        [
            f"JSON file after the real burst of {sample['jobs']} jobs",
            sample["jobs"],
            sample["state_bytes"],
            "all",
            "-",
        ],
        ["JSON file", jobs, json_file["bytes"], "all", _ms(json_file["write_s_median"])],
    ]
    for label, found in (
        (f"ConfigMap, written {step} jobs at a time", configmap),
        ("ConfigMap, all in one write (migration)", configmap.get("at_once") or {}),
    ):
        if found.get("status") == "ok":
            limit = "under" if found["under_limit"] else "OVER"
            rows.append(
                [
                    f"{label} (compacts above {found['compact_above']} bytes)",
                    jobs,
                    f"{found['state_json_bytes']} (object {found['object_bytes']}, {limit} 1 MiB)",
                    f"{found['threads_kept']} job threads, {found['notified_kept']} emails, "
                    f"{found['seen_kept']} seen",
                    _ms(found["write_s_median"]),
                ]
            )
        else:
            rows.append([label, jobs, f"{found.get('status')}: {found.get('reason')}", "-", "-"])
    return table(["backend", "jobs", "bytes", "history kept", "ms per state write"], rows)


def _largest(rows: list[dict[str, Any]], strategy: str) -> dict[str, Any] | None:
    mine = [r for r in rows if r["strategy"] == strategy]
    return max(mine, key=lambda r: (r["peers"], r["jobs"])) if mine else None


def render_headline(results: dict[str, Any]) -> list[str]:
    """The few numbers the claims rest on, each pointing at its table."""
    benches = results.get("benchmarks", {})
    rows: list[list[object]] = []
    polls = benches.get("poll_requests")
    if polls and polls.get("status") == "ok":
        for strategy, label in (
            ("changes", "ours, changes feed"),
            ("list", "ours, `strategy=list`"),
            ("upstream", "upstream old module (measured)"),
        ):
            row = _largest(polls["rows"], strategy)
            if row is not None:
                archived = _found([row], "archived_1")
                rows.append(
                    [
                        f"Drive requests per idle poll, P={row['peers']} J={row['jobs']}",
                        label,
                        f"{row['idle']['drive']} (a job archived before the poll: found "
                        f"{archived}/1)",
                    ]
                )
        model = max(polls["model"], key=lambda m: m["peers"])
        rows.append(
            [
                f"Drive requests per sync cycle, P={model['peers']}",
                "syft-bg (model, not measured)",
                model["syft_bg"]["idle"],
            ]
        )
    latency = benches.get("latency")
    if latency and latency.get("status") == "ok":
        for row in latency["rows"]:
            summary = row.get("latency_s")
            if summary:
                rows.append(
                    [
                        f"detection latency, interval {row['interval_s']:g} s"
                        + (", DO sync archives first" if row["archive"] else ""),
                        "ours",
                        f"p50 {summary['median']:.2f} s, p95 {summary['p95']:.2f} s, "
                        f"max {summary['max']:.2f} s ({row['detected']}/{row['jobs']} emailed)",
                    ]
                )
    resources = benches.get("resources")
    if resources and resources.get("status") == "ok":
        for row in resources["rows"]:
            if row["strategy"] == "changes" and row["repeat"] == 0:
                rows.append(
                    [
                        f"monitor process, {row['world']}",
                        "ours, changes feed",
                        f"peak RSS {_mib(row['vmhwm_kib'])} MiB, CPU "
                        f"{row['cpu_per_idle_poll_s']['median'] * 1000:.2f} ms per idle poll",
                    ]
                )
        day = resources["day"][0]
        rows.append(
            [
                f"monitor process, {day['polls']} polls (24 h at 10 s)",
                "ours, changes feed",
                f"peak RSS {_mib(day['vmhwm_start_kib'])} → {_mib(day['vmhwm_end_kib'])} MiB",
            ]
        )
    burst = benches.get("burst")
    if burst and burst.get("status") == "ok":
        run = burst["runs"][0]
        rows.append(
            [
                f"{run['jobs']} jobs at once, {burst['params']['per_minute']} emails/min",
                "ours",
                f"all DO emails after {run['minutes_to_all_do_emails']} simulated min; "
                f"lost {run['lost_do'] + run['lost_ds']}, duplicated {run['duplicates']}",
            ]
        )
    state = benches.get("state_size")
    if state and state.get("status") == "ok":
        jobs = state["params"]["target_jobs"]
        text = f"JSON file {state['json_file']['bytes'] / 1024:.0f} KiB"
        configmap = state["configmap"]
        if configmap.get("status") == "ok":
            text += (
                f"; ConfigMap {configmap['object_bytes'] / 1024:.0f} KiB, keeping the last "
                f"{configmap['threads_kept']} jobs"
            )
        rows.append([f"state for {jobs} jobs", "ours", text])
    scale = benches.get("operator_scale")
    if scale and scale.get("status") == "ok":
        for size in sorted({row["monitors"] for row in scale["rows"]}):
            runs = [row for row in scale["rows"] if row["monitors"] == size]
            ready = statistics.median(row["all_ready_after_s"] for row in runs)
            per = statistics.median(row["creation"]["requests_per_monitor"] for row in runs)
            peak = max(row["operator"]["vmhwm_done_kib"] for row in runs)
            rows.append(
                [
                    f"{size} SyftMonitors created at once",
                    "ours, operator (test API server)",
                    f"all reconciled after {ready:.1f} s (median of {len(runs)}); "
                    f"{per:.1f} API requests per monitor; peak RSS {_mib(peak)} MiB",
                ]
            )
    if not rows:
        return ["_Not run yet._"]
    smoke = any(b.get("smoke") for b in benches.values())
    lines = table(["measure", "poller", "result"], rows)
    if smoke:
        lines += ["", "_**smoke sizes: not a measurement**_"]
    return lines


RENDERERS: dict[str, Render] = {
    "poll_requests": render_poll_requests,
    "latency": render_latency,
    "resources": render_resources,
    "burst": render_burst,
    "state_size": render_state_size,
    "flood": render_flood,
    "operator_scale": operator_scale.render,
    "heartbeat": heartbeat.render,
    "pool": pool.render,
    "email_replies": email_replies.render,
}


def render(name: str, results: dict[str, Any]) -> list[str]:
    if name == "machine":
        return render_machine(results)
    if name == "headline":
        return render_headline(results)
    entry = results.get("benchmarks", {}).get(name)
    if entry is None:
        return ["_Not run yet._"]
    status = entry.get("status")
    if status == "pending":
        return [f"_{entry.get('reason')}_"]
    if status != "ok":
        return [f"_{status}: {entry.get('reason')}_"]
    lines = RENDERERS[name](entry)
    note = f"_{entry['run']['date']}, `{entry['run']['command']}`, {entry['wall_s']} s"
    if entry.get("smoke"):
        note += ", **smoke sizes: not a measurement**"
    return [*lines, "", note + "_"]


_MARKER = re.compile(r"(<!-- bench:([a-z_]+):start -->\n)(.*?)(<!-- bench:\2:end -->)", re.DOTALL)


def regenerate_readme(path: Path, results: dict[str, Any]) -> None:
    text = path.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        body = "\n".join(render(match.group(2), results))
        return f"{match.group(1)}{body}\n{match.group(4)}"

    path.write_text(_MARKER.sub(replace, text), encoding="utf-8")
