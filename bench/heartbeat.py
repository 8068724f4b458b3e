"""Benchmark 5b: what an idle monitor writes to Kubernetes in an hour, before and after the
small heartbeat ConfigMap (issue 16).

One idle hour at the default poll interval (60 s) is 60 `record_poll` calls (as the notify
service's poll loop makes them, for its monitor `notify`) on the real
`ConfigMapStateManager` against the test Kubernetes API server, for a state document of a given
size (`seen` entries as the monitor writes them, up to the 512 KiB compaction threshold). Counted
from the server's request log: the write requests, the bytes of their bodies, and the bytes of
the object each write stores (what etcd writes and every watcher of the ConfigMap receives).
"Before" is the state ConfigMap alone (every poll rewrites it, as before issue 16); "after"
is the same with `heartbeat_name` set: the service's own key merge-patched into the heartbeat
ConfigMap, by an idle monitor once per `HEARTBEAT_PERIOD`. "Pod" is the monitor pod as the
operator runs it: the notify and approve services, each with its own state manager and its own
heartbeat key in the same ConfigMap, both polling for the hour. Both ConfigMaps are the operator's
(`syft_operator.render`: its labels, and an owner reference to the SyftMonitor), as stored in a
cluster.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from typing import Any

from bench.context import BenchContext
from syft_monitors.state.kube_keys import HEARTBEAT_PERIOD
from syft_operator import names
from syft_operator.render import render_heartbeat_map, render_state_map

POLLS_PER_HOUR = 60


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    #: Entries in the state document's `seen` map (about 110 bytes each).
    seen_entries: tuple[int, ...]


FULL = Sizes(seen_entries=(100, 1000, 4500))
SMOKE = Sizes(seen_entries=(10,))


def run(ctx: BenchContext) -> dict[str, Any]:
    try:
        from kubernetes.config import new_client_from_config  # noqa: PLC0415

        from syft_monitors.runtime.ledger import Ledger  # noqa: PLC0415
        from syft_monitors.state.configmap import ConfigMapStateManager  # noqa: PLC0415
        from tests.kubeapi.server import KubeApiServer  # noqa: PLC0415
    except Exception as error:  # the operator extra or the test server may be missing
        return {"status": "pending", "reason": f"not available: {type(error).__name__}: {error}"}
    sizes = SMOKE if ctx.smoke else FULL
    folder = ctx.workdir / "heartbeat"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    with KubeApiServer() as api:
        kubeconfig = api.write_kubeconfig(folder / "kubeconfig", namespace="default")
        client = new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        for entries in sizes.seen_entries:
            row: dict[str, Any] = {"seen_entries": entries}
            monitor = f"do-{entries}"
            variants = (
                ("before", None, ("notify",)),
                ("after", f"hb-{entries}", ("notify",)),
                ("pod", f"hb-pod-{entries}", ("notify", "approve")),
            )
            for label, beat, services in variants:
                name = f"state-{label}-{entries}"
                api.put_object(_as_operator_renders(render_state_map(monitor), name))
                if beat is not None:
                    api.put_object(_as_operator_renders(render_heartbeat_map(monitor), beat))
                states = [
                    ConfigMapStateManager(
                        name, "default", api_client=client, heartbeat_name=beat, max_staleness=0
                    )
                    for _ in services
                ]
                Ledger(states[0]).mark_seen([f"file:{n:040d}" for n in range(entries)], "drive")
                stored = api.get_object("v1", "configmaps", "default", name) or {}
                row["state_object_bytes"] = len(json.dumps(stored))
                mark = len(api.requests)
                start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
                for minute in range(POLLS_PER_HOUR):
                    for service, state in zip(services, states, strict=True):
                        state.record_poll(
                            True, now=start + dt.timedelta(minutes=minute), monitor=service
                        )
                writes = [r for r in api.requests[mark:] if r.verb in ("update", "patch", "create")]
                object_bytes = 0
                for request in writes:
                    obj = api.get_object("v1", "configmaps", "default", str(request.name)) or {}
                    object_bytes += len(json.dumps(obj))
                row[label] = {
                    "writes": len(writes),
                    "request_bytes": sum(len(json.dumps(r.body)) for r in writes),
                    # The object as stored after the hour (every write stored one of this size).
                    "object_bytes": object_bytes,
                    "targets": sorted({f"{r.verb} {r.name}" for r in writes}),
                }
            before, after = row["before"]["object_bytes"], row["after"]["object_bytes"]
            row["object_bytes_ratio"] = round(before / after, 1) if after else None
            rows.append(row)
            ctx.progress(
                f"heartbeat: {entries} seen entries, {before} -> {after} object bytes per idle hour"
            )
    return {
        "params": {**dataclasses.asdict(sizes), "heartbeat_period_s": HEARTBEAT_PERIOD},
        "rows": rows,
    }


def _as_operator_renders(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    """The operator's manifest under the benchmark's name, owned as the operator owns it."""
    meta = manifest["metadata"]
    owner = {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "name": meta["labels"][names.LABEL_INSTANCE],
        "uid": str(uuid.UUID(int=len(name))),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        **manifest,
        "metadata": {**meta, "name": name, "namespace": "default", "ownerReferences": [owner]},
    }


def render(entry: dict[str, Any]) -> list[str]:
    lines = [
        "| state document (`seen` entries) | state ConfigMap bytes | before: writes per idle hour "
        "| before: bytes stored per idle hour | after: writes per idle hour | after: bytes stored "
        "per idle hour | after: request bytes | fewer bytes | pod (notify + approve): writes, "
        "bytes stored per idle hour |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in entry.get("rows", []):
        before, after = row["before"], row["after"]
        pod = row.get("pod")
        pod_cell = f"{pod['writes']}, {pod['object_bytes']:,}" if pod else "n/a"
        lines.append(
            f"| {row['seen_entries']} | {row['state_object_bytes']:,} | {before['writes']} "
            f"({', '.join(before['targets'])}) | {before['object_bytes']:,} | {after['writes']} "
            f"({', '.join(after['targets'])}) | {after['object_bytes']:,} | "
            f"{after['request_bytes']:,} | {row['object_bytes_ratio']} times | {pod_cell} |"
        )
    return lines
