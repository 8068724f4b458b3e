"""Benchmark 3b: state size per 10,000 jobs, as a JSON file and as a Kubernetes ConfigMap.

Running 10,000 jobs through the monitor would take most of an hour of rewriting a growing state
file, so the document is built from real records instead: a burst of jobs goes through the
production pipeline (the burst benchmark's, when it ran in the same process; else one of
`sample_jobs`), and every state entry it added (`notified`, `seen`, `threads`) is copied until the
document holds 10,000 jobs, with every id in a copy (job keys, Drive ids, Message-IDs, Gmail ids)
replaced by a fresh one of the same length, the same one wherever it recurs.

Sizes are measured through the real backends:
- `JsonStateManager`: the whole document written once (the file is never trimmed by size), bytes
  on disk and the time of one state write at that size (each email costs a few);
- `ConfigMapStateManager` against the test Kubernetes API server, written as a monitor writes it:
  100 jobs at a time, so it compacts (above 512 KiB) as it grows; the bytes stored and how much
  history survives. Also the whole document in one write (a migration from a state file).
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bench.burst import BurstRun, execute
from bench.burst import Sizes as BurstSizes
from bench.context import BenchContext
from syft_monitors.errors import StateError
from syft_monitors.state.base import StateManager
from syft_monitors.state.json_file import JsonStateManager
from syft_monitors.state.model import NotifiedRecord, SeenRecord, StateDocument, ThreadRecord

CONFIGMAP_LIMIT = 1024 * 1024
_HEX = re.compile(r"[0-9a-f]{16,}")
_DRIVE_ID = re.compile(r"(?<=file:)[A-Za-z0-9_-]{20,}")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
R = TypeVar("R", NotifiedRecord, SeenRecord, ThreadRecord)


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    sample_jobs: int
    target_jobs: int
    step_jobs: int


FULL = Sizes(sample_jobs=200, target_jobs=10_000, step_jobs=100)
SMOKE = Sizes(sample_jobs=4, target_jobs=40, step_jobs=4)


@dataclasses.dataclass(slots=True)
class Chunk:
    """The entries of about `jobs` jobs, ready to add to a document."""

    jobs: int
    notified: dict[str, NotifiedRecord]
    seen: dict[str, SeenRecord]
    threads: dict[str, ThreadRecord]

    def add_to(self, doc: StateDocument) -> None:
        doc.notified.update(self.notified)
        doc.seen.update(self.seen)
        doc.threads.update(self.threads)


def run(ctx: BenchContext) -> dict[str, Any]:
    sizes = SMOKE if ctx.smoke else FULL
    folder = ctx.workdir / "state_size"
    # The burst benchmark's run, when it ran in this process, is the best sample there is.
    sample = ctx.shared.get("burst")
    if not isinstance(sample, BurstRun):
        sample = execute(
            ctx,
            BurstSizes(jobs=sizes.sample_jobs, peers=10, existing_jobs=0, per_minute=150),
            folder / "sample",
        )
    chunks, per_job = replicate(sample.before, sample.after, sizes.target_jobs, sizes.step_jobs)
    document = sample.before.working_copy()
    for chunk in chunks:
        chunk.add_to(document)
    json_result = _json_file(document, folder / "json")
    configmap = _configmap(sample.before, chunks, document, folder / "kube")
    ctx.progress(
        f"state size: {json_result['bytes']} bytes as JSON for {sizes.target_jobs} jobs; "
        f"ConfigMap {configmap.get('status')}"
    )
    return {
        "params": dataclasses.asdict(sizes),
        "sample": {
            "jobs": sample.result["jobs"],
            "lost_do": sample.result["lost_do"],
            "duplicates": sample.result["duplicates"],
            "state_bytes": sample.result["state_bytes"],
            "entries_per_job": per_job,
        },
        "entries": {
            "notified": len(document.notified),
            "seen": len(document.seen),
            "threads": len(document.threads),
        },
        "json_file": json_result,
        "configmap": configmap,
    }


def replicate(
    before: StateDocument, after: StateDocument, target_jobs: int, step_jobs: int
) -> tuple[list[Chunk], dict[str, float]]:
    """The entries the sample added, copied (fresh ids) up to `target_jobs` jobs, in chunks of
    about `step_jobs` jobs in the order they were recorded (the first copy keeps the real ids)."""
    notified = [(k, v) for k, v in after.notified.items() if k not in before.notified]
    seen = [(k, v) for k, v in after.seen.items() if k not in before.seen]
    threads = [(k, v) for k, v in after.threads.items() if k not in before.threads]
    sample_jobs = len(threads)
    if sample_jobs == 0:
        raise RuntimeError("the sample burst recorded no job threads")
    pieces = max(1, round(sample_jobs / step_jobs))
    rng = random.Random(7)
    chunks: list[Chunk] = []
    for copy in range(max(1, round(target_jobs / sample_jobs))):
        # One mapping per copy: a job key stays the same in its notified, seen and thread
        # entries, so compaction still sees which thread belongs to which emails.
        mapping: dict[str, str] | None = None if copy == 0 else {}
        for piece in range(pieces):
            chunks.append(
                Chunk(
                    jobs=len(_slice(threads, piece, pieces)),
                    notified=_copied(_slice(notified, piece, pieces), NotifiedRecord, rng, mapping),
                    seen=_copied(_slice(seen, piece, pieces), SeenRecord, rng, mapping),
                    threads=_copied(_slice(threads, piece, pieces), ThreadRecord, rng, mapping),
                )
            )
    counts = {"notified": len(notified), "seen": len(seen), "threads": sample_jobs}
    return chunks, {name: round(count / sample_jobs, 2) for name, count in counts.items()}


def _slice(items: list[tuple[str, R]], piece: int, pieces: int) -> list[tuple[str, R]]:
    size = len(items)
    return items[piece * size // pieces : (piece + 1) * size // pieces]


def _copied(
    items: list[tuple[str, R]],
    model: type[R],
    rng: random.Random,
    mapping: dict[str, str] | None,
) -> dict[str, R]:
    if mapping is None:
        return dict(items)
    copied: dict[str, R] = {}
    for key, record in items:
        raw = json.dumps(record.model_dump(mode="json"))
        copied[_fresh(key, rng, mapping)] = model.model_validate(
            json.loads(_fresh(raw, rng, mapping))
        )
    return copied


def _fresh(text: str, rng: random.Random, mapping: dict[str, str]) -> str:
    """`text` with every id replaced by its stand-in in `mapping` (made on first sight)."""

    def swap(alphabet: str) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            old = match.group()
            if old not in mapping:
                mapping[old] = "".join(rng.choice(alphabet) for _ in old)
            return mapping[old]

        return replace

    return _DRIVE_ID.sub(swap(_ALNUM), _HEX.sub(swap("0123456789abcdef"), text))


def _store(state: StateManager, document: StateDocument) -> None:
    def replace(doc: StateDocument) -> None:
        for name in ("notified", "seen", "threads", "folders", "peers", "cursors"):
            current = getattr(doc, name)
            current.clear()
            current.update(getattr(document, name))

    state.update(replace)


def _timed_writes(state: StateManager, count: int) -> list[float]:
    """Seconds per state update that changes one small value (what every email costs)."""
    times = []
    for index in range(count):
        started = time.perf_counter()
        state.set_data("bench-write", index)
        times.append(time.perf_counter() - started)
    return times


def _json_file(document: StateDocument, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "state.json"
    state = JsonStateManager(path)
    _store(state, document)
    size = path.stat().st_size
    writes = _timed_writes(state, 5)
    report = state.compact()
    return {
        "bytes": size,
        "write_s_median": round(statistics.median(writes), 4),
        "compaction_default_dropped": report.dropped_seen + report.dropped_notified,
        "bytes_after_default_compaction": path.stat().st_size,
    }


def _configmap(
    base: StateDocument, chunks: list[Chunk], document: StateDocument, folder: Path
) -> dict[str, Any]:
    """Store through the real ConfigMap backend against the test API server, if both exist."""
    try:
        from kubernetes.config import new_client_from_config  # noqa: PLC0415

        from syft_monitors.state.configmap import ConfigMapStateManager  # noqa: PLC0415
        from tests.kubeapi.server import KubeApiServer  # noqa: PLC0415
    except Exception as error:  # either piece may still be in progress
        return {"status": "pending", "reason": f"not available: {type(error).__name__}: {error}"}
    folder.mkdir(parents=True, exist_ok=True)
    with KubeApiServer() as api:
        kubeconfig = api.write_kubeconfig(folder / "kubeconfig", namespace="default")

        def measure(name: str, write: Callable[[StateManager], None]) -> dict[str, Any]:
            client = new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig)
            )
            state = ConfigMapStateManager(name, "default", api_client=client, create_missing=True)
            started = time.perf_counter()
            try:
                write(state)
            except StateError as error:  # a finding, not a crash: the backend cannot hold it
                return {"status": "refused", "reason": str(error)}
            seconds = time.perf_counter() - started
            stored = api.get_object("v1", "configmaps", "default", name) or {}
            payload = (stored.get("data") or {}).get("state.json", "")
            kept = StateDocument.model_validate_json(payload)
            whole = len(json.dumps(stored).encode("utf-8"))
            return {
                "status": "ok",
                "state_json_bytes": len(payload.encode("utf-8")),
                "object_bytes": whole,
                "under_limit": whole < CONFIGMAP_LIMIT,
                "compact_above": state.compact_above,
                "notified_kept": len(kept.notified),
                "seen_kept": len(kept.seen),
                "threads_kept": len(kept.threads),
                "write_seconds_total": round(seconds, 2),
                "write_s_median": round(statistics.median(_timed_writes(state, 5)), 4),
            }

        def grow(state: StateManager) -> None:
            _store(state, base)
            for chunk in chunks:
                state.update(chunk.add_to)

        result = measure("syft-state", grow)
        result["writes"] = len(chunks) + 1
        result["at_once"] = measure("syft-state-at-once", lambda s: _store(s, document))
        return result
