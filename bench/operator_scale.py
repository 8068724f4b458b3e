"""Benchmark 5: SyftMonitors created at once, reconciled by the real operator.

For each size N, a fresh test Kubernetes API server (`tests.kubeapi`, in this process) gets the
CRD and a namespace `bench`; the real operator (`syft-operator --standalone --namespace bench`,
the console script) runs as a subprocess against it. Once it watches, N token Secrets and N
SyftMonitors are put into the server's store at once (through its Python API: same admission and
watch events as HTTP, and none of these writes appear in the request log, which then holds only
the operator's requests). Then:

- **reconciled**: the time until every SyftMonitor shows its conditions for the current
  generation (`SecretsResolved=True` and `WorkloadAvailable` reported, written after all its
  children; `Ready` stays False, as no controller here ever reports an available pod) and kopf
  has recorded its create handler as done (the `last-handled-configuration` annotation: a
  status refresh can write the conditions before the create handler has run), seen in-process
  in the store's change events as they happen (no listing); every child is then checked to
  exist: the config and state ConfigMaps, ServiceAccount, Role, RoleBinding and Deployment;
- **requests per SyftMonitor**: the operator's requests from the first put to that moment, by
  verb and by verb and resource, divided by N, and again up to its last write once the writes
  have stopped; the operator's own reconcile counter (its Prometheus `/metrics`, scraped on
  loopback) says how many reconciles that took;
- **operator CPU and memory**: `utime + stime` from /proc/PID/stat and `VmHWM` (peak resident
  set) from /proc/PID/status of the operator process;
- **idle resync**: after the writes have stopped, nothing changes for `idle_periods` status
  periods; the requests, CPU seconds and reconciles (refresh ticks) of that window give the cost of
  one idle tick per SyftMonitor. The status period (`SYFT_OPERATOR_STATUS_INTERVAL`, 60 s in
  production) is set short to compress time; the per-tick cost does not depend on it.

A size that is not reconciled within `deadline_s` is reported as such, and no larger size is run.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.context import BenchContext
from bench.harness import REPO
from bench.stats import summarize
from syft_operator import names

if TYPE_CHECKING:
    from tests.kubeapi import ApiRequest, KubeApiServer

NAMESPACE = "bench"
CRD_FILE = REPO / "deploy" / "crds" / "syftmonitors.syft.openmined.org.yaml"
#: kopf writes it when the create handler has succeeded. Ready alone can come first: a status
#: refresh may run the same reconcile while the create handler still waits for a thread.
HANDLED_ANNOTATION = f"{names.ANNOTATION_PREFIX}/last-handled-configuration"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
#: A well-formed authorized-user token (the operator checks the shape, never calls Google).
TOKEN = {
    "token": "ya29.bench-access",
    "refresh_token": "1//bench-refresh",
    "client_id": "bench-client.apps.googleusercontent.com",
    "client_secret": "bench-client-secret",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    monitors: tuple[int, ...]
    #: SYFT_OPERATOR_STATUS_INTERVAL per size: long enough for one sweep over all monitors.
    status_interval_s: dict[int, float]
    idle_periods: int
    #: Writes must have stopped this long before the idle window starts.
    quiet_s: float
    deadline_s: float


FULL = Sizes(
    monitors=(100, 1000),
    status_interval_s={100: 10.0, 1000: 30.0},
    idle_periods=2,
    quiet_s=5.0,
    deadline_s=300.0,
)
SMOKE = Sizes(
    monitors=(5,),
    status_interval_s={5: 1.0},
    idle_periods=2,
    quiet_s=0.5,
    deadline_s=60.0,
)


class OperatorGoneError(RuntimeError):
    """The operator process exited or never started watching."""


def run(ctx: BenchContext) -> dict[str, Any]:
    binary = Path(sys.executable).parent / "syft-operator"
    missing = _missing_operator(binary)
    if missing:
        return {"status": "pending", "reason": f"pending: {missing}"}
    sizes = SMOKE if ctx.smoke else FULL
    rows: list[dict[str, Any]] = []
    stopped_at: int | None = None
    for count in sizes.monitors:
        for repeat in range(ctx.repeat):
            folder = ctx.workdir / "operator_scale" / f"n{count}-{repeat}"
            row = measure(ctx, binary, count, repeat, sizes, folder)
            rows.append(row)
            ctx.progress(
                f"operator_scale N={count}: reconciled={row['reconciled']} after "
                f"{row['reconciled_after_s']} s, {row['creation']['requests_per_monitor']} "
                f"requests per SyftMonitor, peak RSS {row['operator']['vmhwm_end_kib']} KiB"
            )
            if not row["reconciled"]:
                stopped_at = count
                break
        if stopped_at is not None:
            break
    measured = [r["monitors"] for r in rows if r["reconciled"]]
    return {
        "params": {
            "monitors": list(sizes.monitors),
            "status_interval_s": {str(k): v for k, v in sizes.status_interval_s.items()},
            "production_status_interval_s": 60.0,
            "idle_periods": sizes.idle_periods,
            "quiet_s": sizes.quiet_s,
            "deadline_s": sizes.deadline_s,
            "namespace": NAMESPACE,
            "handler_threads": min(32, (os.cpu_count() or 1) + 4),
        },
        "rows": rows,
        "summary": [_summary(rows, n) for n in dict.fromkeys(r["monitors"] for r in rows)],
        "largest_reconciled": max(measured) if measured else None,
        "stopped_at": stopped_at,
    }


def _missing_operator(binary: Path) -> str | None:
    """Why the operator cannot be measured here, or None when it can."""
    try:
        import kopf  # noqa: F401, PLC0415
        import kubernetes  # noqa: F401, PLC0415

        import syft_operator.cli  # noqa: F401, PLC0415
        from tests.kubeapi import KubeApiServer  # noqa: F401, PLC0415
    except Exception as error:  # any import failure means the same: nothing to measure
        return f"operator or test API server not importable ({type(error).__name__})"
    if not binary.exists():
        return f"no `syft-operator` console script next to {sys.executable} (make venv)"
    return None


# --- one measurement -----------------------------------------------------------------------------


def measure(
    ctx: BenchContext, binary: Path, count: int, repeat: int, sizes: Sizes, folder: Path
) -> dict[str, Any]:
    from tests.kubeapi import KubeApiServer  # noqa: PLC0415 - test-only dependency, checked above

    folder.mkdir(parents=True, exist_ok=True)
    interval = sizes.status_interval_s[count]
    with KubeApiServer() as api, _operator(api, binary, folder, interval) as operator:
        _wait_quiet(api, quiet_s=0.5, limit_s=10.0)
        before = operator.sample()
        mark = len(api.requests)
        reconciles_before = operator.reconciles()
        server_cpu = _self_cpu()

        progress = _Progress(count)
        with api.listening(names.API_VERSION, names.PLURAL, NAMESPACE, progress):
            progress.started = time.perf_counter()
            _put_monitors(api, count)
            put_s = time.perf_counter() - progress.started
            progress.done.wait(sizes.deadline_s)
        ready_at, handled_at = dict(progress.ready_at), dict(progress.handled_at)
        done = operator.sample()
        done_mark = len(api.requests)
        reconciles_done = operator.reconciles()
        server_cpu = _self_cpu() - server_cpu
        reconciled = len(ready_at) == len(handled_at) == count
        children = _children_present(api, count)
        creation = _requests(api.requests[mark:done_mark], count)
        creation["reconciles"] = reconciles_done - reconciles_before
        creation["reconciles_per_monitor"] = round(creation["reconciles"] / count, 2)

        idle: dict[str, Any] | None = None
        settled: dict[str, Any] | None = None
        if reconciled:
            settled = _settle(api, operator, mark, count, interval, sizes)
            settled["reconciles"] -= reconciles_before
            ctx.progress(f"operator_scale N={count}: idle for {sizes.idle_periods} x {interval} s")
            idle = _idle_window(api, operator, count, interval, sizes)
        end = operator.sample()
        failed = [r for r in api.requests[mark:] if r.status >= 400]
        # Counted before the operator is stopped: what it logs while shutting down is not load.
        warnings = operator.log_count("[WARNING")
        errors = operator.log_count("[ERROR") + operator.log_count("[CRITICAL")
    return {
        "monitors": count,
        "repeat": repeat,
        "status_interval_s": interval,
        "put_s": round(put_s, 3),
        "reconciled": reconciled and all(v == count for v in children.values()),
        "ready": len(ready_at),
        "handled": len(handled_at),
        "reconciled_after_s": _last(ready_at, handled_at),
        "all_ready_after_s": _last(ready_at),
        "ready_after_s": summarize(list(ready_at.values()), digits=3) if ready_at else None,
        "handled_after_s": summarize(list(handled_at.values()), digits=3) if handled_at else None,
        "children_present": children,
        "creation": creation,
        "settled": settled,
        "idle": idle,
        "operator": {
            "cpu_s_startup": round(before["cpu_s"], 2),
            "cpu_s_creation": round(done["cpu_s"] - before["cpu_s"], 2),
            "cpu_s_total": round(end["cpu_s"], 2),
            "vmrss_before_kib": before["vmrss_kib"],
            "vmhwm_done_kib": done["vmhwm_kib"],
            "vmhwm_end_kib": end["vmhwm_kib"],
            "vmrss_end_kib": end["vmrss_kib"],
            "log_warnings": warnings,
            "log_errors": errors,
        },
        "server_process_cpu_s_creation": round(server_cpu, 2),
        "failed_requests": dict(Counter(f"{r.verb} {r.resource} {r.status}" for r in failed)),
    }


def _settle(
    api: KubeApiServer,
    operator: OperatorProcess,
    mark: int,
    count: int,
    interval: float,
    sizes: Sizes,
) -> dict[str, Any]:
    """Wait until the writes stop; the requests from the first put up to the last write."""
    waited = _wait_quiet(api, quiet_s=sizes.quiet_s, limit_s=max(30.0, 3 * interval), writes=True)
    log = api.requests[mark:]
    last = max((i for i, r in enumerate(log) if r.verb in WRITE_VERBS), default=-1)
    found = _requests(log[: last + 1], count)
    found["writes"] = sum(n for verb, n in found["by_verb"].items() if verb in WRITE_VERBS)
    found["writes_per_monitor"] = round(found["writes"] / count, 2)
    found["waited_s"] = round(waited, 2)
    # Scraped after the quiet wait: may include a few idle ticks past the last write.
    found["reconciles"] = operator.reconciles()
    return found


def _last(*times: dict[str, float]) -> float | None:
    found = [t for found in times for t in found.values()]
    return round(max(found), 2) if found else None


def _idle_window(
    api: KubeApiServer, operator: OperatorProcess, count: int, interval: float, sizes: Sizes
) -> dict[str, Any]:
    """Requests, CPU and refresh ticks over `idle_periods` status periods with nothing changing."""
    first = operator.sample()
    mark = len(api.requests)
    reconciles = operator.reconciles()
    started = time.perf_counter()
    time.sleep(sizes.idle_periods * interval)
    window_s = time.perf_counter() - started
    ticks = operator.reconciles() - reconciles
    last = operator.sample()
    found = _requests(api.requests[mark:], count)
    cpu_s = last["cpu_s"] - first["cpu_s"]
    per_tick = {verb: round(n / ticks, 2) for verb, n in found["by_verb"].items()} if ticks else {}
    return {
        "window_s": round(window_s, 2),
        "ticks": ticks,
        "ticks_per_monitor": round(ticks / count, 2),
        "requests": found["total"],
        "by_verb": found["by_verb"],
        "by_verb_resource": found["by_verb_resource"],
        "writes": sum(n for verb, n in found["by_verb"].items() if verb in WRITE_VERBS),
        "requests_per_tick": round(found["total"] / ticks, 2) if ticks else None,
        "requests_per_tick_by_verb": per_tick,
        "cpu_s": round(cpu_s, 3),
        "cpu_ms_per_tick": round(cpu_s * 1000 / ticks, 3) if ticks else None,
        "requests_per_s": round(found["total"] / window_s, 1),
        "cpu_share": round(cpu_s / window_s, 3),
    }


def _requests(requests: Sequence[ApiRequest], count: int) -> dict[str, Any]:
    by_verb = Counter(r.verb for r in requests)
    by_verb_resource = Counter(
        f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}" for r in requests
    )
    return {
        "total": len(requests),
        "requests_per_monitor": round(len(requests) / count, 2),
        "by_verb": dict(by_verb.most_common()),
        "per_monitor_by_verb": {v: round(n / count, 2) for v, n in by_verb.most_common()},
        "by_verb_resource": dict(by_verb_resource.most_common()),
    }


# --- the cluster side ----------------------------------------------------------------------------


def _name(index: int) -> str:
    return f"do-{index:04d}"


def _put_monitors(api: KubeApiServer, count: int) -> None:
    raw = base64.b64encode(json.dumps(TOKEN).encode()).decode()
    for index in range(count):
        name = _name(index)
        api.put_object(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{name}-token", "namespace": NAMESPACE},
                "type": "Opaque",
                "data": {"token.json": raw},
            }
        )
        ref = {"name": f"{name}-token", "key": "token.json"}
        api.put_object(
            {
                "apiVersion": names.API_VERSION,
                "kind": names.KIND,
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "doEmail": f"{name}@hospital.example.org",
                    "driveTokenSecretRef": ref,
                    "gmailTokenSecretRef": ref,
                },
            }
        )


def _is_ready(obj: dict[str, Any]) -> bool:
    """The operator has done its part: conditions for the current generation, Secrets found and
    the workload's availability reported. (Ready itself stays False here: no controller ever
    reports an available pod, and the operator no longer calls that Ready.)"""
    status = obj.get("status") or {}
    if status.get("observedGeneration") != (obj.get("metadata") or {}).get("generation"):
        return False
    found = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return found.get("SecretsResolved") == "True" and "WorkloadAvailable" in found


def _is_handled(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return HANDLED_ANNOTATION in annotations


class _Progress:
    """When each SyftMonitor was first seen reconciled, and handled, from the store's change
    events (called in the server's writing thread). Listing 1,000 SyftMonitors every few hundred
    milliseconds would copy them all under the store's lock, in the server's process: a
    measurement that slows down what it measures."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.started = time.perf_counter()
        self.ready_at: dict[str, float] = {}
        self.handled_at: dict[str, float] = {}
        self.done = threading.Event()

    def __call__(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        name = str((obj.get("metadata") or {}).get("name"))
        now = time.perf_counter() - self.started
        if name not in self.ready_at and _is_ready(obj):
            self.ready_at[name] = now
        if name not in self.handled_at and _is_handled(obj):
            self.handled_at[name] = now
        if len(self.ready_at) == len(self.handled_at) == self.count:
            self.done.set()


def _children_present(api: KubeApiServer, count: int) -> dict[str, int]:
    """How many of the N expected children of each kind exist."""
    wanted = {
        "ConfigMap (config)": ("v1", "configmaps", names.config_map_name),
        "ConfigMap (state)": ("v1", "configmaps", names.state_map_name),
        "ServiceAccount": ("v1", "serviceaccounts", names.workload_name),
        "Role": ("rbac.authorization.k8s.io/v1", "roles", names.workload_name),
        "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings", names.workload_name),
        "Deployment": ("apps/v1", "deployments", names.workload_name),
    }
    present: dict[str, int] = {}
    for label, (group_version, plural, child_name) in wanted.items():
        stored = {o["metadata"]["name"] for o in api.list_objects(group_version, plural, NAMESPACE)}
        present[label] = sum(child_name(_name(i)) in stored for i in range(count))
    return present


def _wait_quiet(
    api: KubeApiServer, *, quiet_s: float, limit_s: float, writes: bool = False
) -> float:
    """Wait until no request (or no write) has arrived for `quiet_s`; the seconds waited."""
    started = time.perf_counter()
    seen = len(api.requests)
    last_change = started
    while time.perf_counter() - started < limit_s:
        time.sleep(min(0.1, quiet_s / 2))
        log = api.requests
        fresh = log[seen:]
        seen = len(log)
        if any(r.verb in WRITE_VERBS for r in fresh) if writes else fresh:
            last_change = time.perf_counter()
        if time.perf_counter() - last_change >= quiet_s:
            break
    return time.perf_counter() - started


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the operator process ------------------------------------------------------------------------


@dataclasses.dataclass
class OperatorProcess:
    process: subprocess.Popen[bytes]
    metrics_url: str
    log_path: Path

    def sample(self) -> dict[str, Any]:
        """CPU seconds (user + system, all threads) and memory of the operator right now."""
        pid = self.process.pid
        if self.process.poll() is not None:
            raise OperatorGoneError(f"the operator exited with {self.process.returncode}")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        found: dict[str, Any] = {"cpu_s": (int(fields[11]) + int(fields[12])) / ticks}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[f"{key.lower()}_kib"] = int(value.split()[0])
        return found

    def reconciles(self) -> int:
        """The operator's own count of reconciles so far (all outcomes)."""
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            text = response.read().decode()
        pattern = re.compile(r"^syft_operator_reconciles_total\{[^}]*\} ([0-9.e+]+)$", re.M)
        return int(sum(float(value) for value in pattern.findall(text)))

    def log_count(self, needle: str) -> int:
        try:
            return self.log_path.read_text(errors="replace").count(needle)
        except OSError:
            return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _operator(
    api: KubeApiServer, binary: Path, folder: Path, interval: float
) -> Iterator[OperatorProcess]:
    api.create_namespace(NAMESPACE)
    api.apply_crd(CRD_FILE)
    kubeconfig = api.write_kubeconfig(folder / "kubeconfig", namespace=NAMESPACE)
    port = _free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "SYFT_OPERATOR_STATUS_INTERVAL": f"{interval:g}",
        "SYFT_OPERATOR_METRICS_PORT": str(port),
        "SYFT_OPERATOR_METRICS_HOST": "127.0.0.1",
    }
    log_path = folder / "operator.log"
    argv = [str(binary), "--standalone", "--namespace", NAMESPACE, "--liveness", ""]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*argv, "--log-format", "full"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        try:
            api.wait_for_watch(names.PLURAL, group=names.GROUP, timeout=60)
        except TimeoutError as error:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise OperatorGoneError(f"the operator never watched SyftMonitors: {tail}") from error
        yield OperatorProcess(process, f"http://127.0.0.1:{port}/metrics", log_path)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


# --- summary and table ---------------------------------------------------------------------------


def _median(values: Sequence[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(statistics.median(present)), 3) if present else None


def _summary(rows: Sequence[dict[str, Any]], count: int) -> dict[str, Any]:
    """Medians and ranges over the repeats of one size."""
    mine = [r for r in rows if r["monitors"] == count]
    idle = [r["idle"] for r in mine if r["idle"]]
    return {
        "monitors": count,
        "runs": len(mine),
        "reconciled_runs": sum(r["reconciled"] for r in mine),
        "reconciled_after_s": _range([r["reconciled_after_s"] for r in mine]),
        "all_ready_after_s": _range([r["all_ready_after_s"] for r in mine]),
        "requests_per_monitor": _range([r["creation"]["requests_per_monitor"] for r in mine]),
        "reconciles_per_monitor": _range([r["creation"]["reconciles_per_monitor"] for r in mine]),
        "settled_requests_per_monitor": _range(
            [r["settled"]["requests_per_monitor"] for r in mine if r["settled"]]
        ),
        "settled_writes_per_monitor": _range(
            [r["settled"]["writes_per_monitor"] for r in mine if r["settled"]]
        ),
        "cpu_s_creation": _range([r["operator"]["cpu_s_creation"] for r in mine]),
        "vmhwm_end_kib": _range([r["operator"]["vmhwm_end_kib"] for r in mine]),
        "idle_requests_per_tick": _range([i["requests_per_tick"] for i in idle]),
        "idle_cpu_ms_per_tick": _range([i["cpu_ms_per_tick"] for i in idle]),
        "idle_writes": _range([i["writes"] for i in idle]),
    }


def _range(values: Sequence[float | int | None]) -> dict[str, float | None]:
    present = [float(v) for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None}
    return {"median": _median(present), "min": min(present), "max": max(present)}


def _fmt(spread: dict[str, float | None], fmt: str = "{:g}", scale: float = 1.0) -> str:
    middle, low, high = spread["median"], spread["min"], spread["max"]
    if middle is None or low is None or high is None:
        return "-"
    text = fmt.format(middle * scale)
    low_text, high_text = fmt.format(low * scale), fmt.format(high * scale)
    if low_text != high_text:
        text += f" ({low_text}-{high_text})"
    return text


def _verbs(per_verb: dict[str, float], raw: dict[str, int] | None = None) -> str:
    """`get 9, create 7`; verbs too rare to show per SyftMonitor are given as window counts."""
    shown = [f"{verb} {n:g}" for verb, n in per_verb.items() if n >= 0.01]
    rare = [f"{verb} {raw[verb]}" for verb, n in per_verb.items() if n < 0.01 and raw]
    text = ", ".join(shown) or "-"
    return f"{text} (plus {', '.join(rare)} in the whole window)" if rare else text


def render(entry: dict[str, Any]) -> list[str]:
    """The README table (called by `bench.report`)."""
    # Imported here: bench.report imports this module to find this renderer.
    from bench.report import table  # noqa: PLC0415

    first = {r["monitors"]: r for r in entry["rows"] if r["repeat"] == 0}
    rows = []
    for summary in entry["summary"]:
        row = first[summary["monitors"]]
        done = f"{summary['reconciled_runs']}/{summary['runs']}"
        ready = row["ready_after_s"] or {}
        rows.append(
            [
                summary["monitors"],
                done if row["reconciled"] else f"{done} (first run: {row['ready']} reconciled)",
                _fmt(summary["all_ready_after_s"], "{:.2f}"),
                _fmt(summary["reconciled_after_s"], "{:.2f}"),
                f"{ready.get('median', 0):.2f} / {ready.get('max', 0):.2f}" if ready else "-",
                _fmt(summary["requests_per_monitor"], "{:.1f}"),
                _verbs(row["creation"]["per_monitor_by_verb"]),
                _fmt(summary["reconciles_per_monitor"], "{:.2f}"),
                f"{_fmt(summary['settled_requests_per_monitor'], '{:.1f}')} "
                f"({_fmt(summary['settled_writes_per_monitor'], '{:.1f}')} writes)",
                _fmt(summary["cpu_s_creation"], "{:.1f}"),
                _fmt(summary["vmhwm_end_kib"], "{:.1f}", 1 / 1024),
            ]
        )
    lines = table(
        [
            "SyftMonitors",
            "runs all reconciled",
            "all conditions written after s",
            "all reconciled after s (conditions written and create handler done)",
            "each conditions written after s (p50 / max)",
            "API requests per SyftMonitor, to all reconciled",
            "by verb, per SyftMonitor (first run)",
            "reconciles per SyftMonitor, to all reconciled",
            "API requests per SyftMonitor, to the last write",
            "operator CPU s (creation)",
            "operator peak RSS MiB (VmHWM)",
        ],
        rows,
    )
    idle_rows = []
    for summary in entry["summary"]:
        idle = first[summary["monitors"]]["idle"]
        if not idle:
            continue
        interval = first[summary["monitors"]]["status_interval_s"]
        idle_rows.append(
            [
                summary["monitors"],
                f"{interval:g} s",
                f"{idle['window_s']:.0f} s, {idle['ticks']} ticks",
                _fmt(summary["idle_requests_per_tick"], "{:.1f}"),
                _verbs(idle["requests_per_tick_by_verb"], idle["by_verb"]),
                _fmt(summary["idle_writes"]),
                _fmt(summary["idle_cpu_ms_per_tick"], "{:.2f}"),
                f"{idle['requests_per_s']:g} req/s, {idle['cpu_share'] * 100:.0f} % of a core",
            ]
        )
    if idle_rows:
        lines += ["", "Idle resync (nothing changes; the status refresh runs):", ""]
        lines += table(
            [
                "SyftMonitors",
                "status period (compressed; production 60 s)",
                "window (first run)",
                "requests per SyftMonitor per tick",
                "by verb (first run)",
                "writes in the window",
                "operator CPU ms per tick",
                "load at this period (first run)",
            ],
            idle_rows,
        )
    largest = entry.get("largest_reconciled")
    if entry.get("stopped_at") is not None:
        lines += [
            "",
            f"**{entry['stopped_at']} SyftMonitors were not all reconciled within "
            f"{entry['params']['deadline_s']:g} s; the largest size measured is {largest}.**",
        ]
    return lines
