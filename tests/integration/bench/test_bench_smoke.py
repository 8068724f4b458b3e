"""`python -m bench --smoke` runs every benchmark end to end and writes well-formed results.

Only the harness is under test: tiny sizes, no timing assertions. The request counts and the
email bookkeeping are deterministic, so those are checked; durations are not.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.operator_scale import WRITE_VERBS, render
from bench.registry import BENCHMARKS
from syft_monitors.state.kube_keys import HEARTBEAT_PERIOD

pytestmark = pytest.mark.timeout(150)

REPO = Path(__file__).resolve().parents[3]
README = REPO / "bench" / "README.md"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    readme_before = README.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # A run with --out never rewrites the tables of the committed README.
    assert README.read_bytes() == readme_before
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_results_describe_the_machine_and_the_run(results: dict[str, Any]) -> None:
    assert results["schema"] == 1
    machine = results["machine"]
    assert machine["cpu_model"]
    assert machine["cpu_cores"] >= 1
    assert machine["python"].startswith("3.")
    run = results["run"]
    assert run["date"]
    assert "--smoke" in run["command"]
    assert set(results["benchmarks"]) == {b.name for b in BENCHMARKS}


def test_every_benchmark_ran_or_says_why_not(results: dict[str, Any]) -> None:
    for name, entry in results["benchmarks"].items():
        assert entry["smoke"] is True
        assert entry["repeat"] == 1
        assert entry["status"] == "ok", (name, entry.get("reason"))


def test_request_counts_side_by_side(results: dict[str, Any]) -> None:
    entry = results["benchmarks"]["poll_requests"]
    rows = entry["rows"]
    assert {r["strategy"] for r in rows} >= {"changes", "list"}
    for row in rows:
        for poll in ("baseline", "idle", "new_1", f"new_{entry['params']['burst']}"):
            assert isinstance(row[poll]["drive"], int)
            assert sum(row[poll]["by_method"].values()) == row[poll]["drive"]
    changes = [r for r in rows if r["strategy"] == "changes"]
    assert all(r["idle"]["by_method"] == {"changes.list": 1} for r in changes)
    assert entry["upstream"]["available"] in (True, False)
    assert entry["upstream"]["reason"]
    assert entry["model"]
    assert all("syft_bg" in m for m in entry["model"])


def test_latency_and_resources_have_their_statistics(results: dict[str, Any]) -> None:
    latency = results["benchmarks"]["latency"]
    assert len(latency["rows"]) == 4
    for row in latency["rows"]:
        assert 0 <= row["detected"] <= row["jobs"]
        if row["detected"]:
            assert set(row["latency_s"]) >= {"median", "p95", "max", "min", "n"}
    resources = results["benchmarks"]["resources"]
    for row in resources["rows"]:
        assert row["vmhwm_kib"] > 0
        assert set(row["cpu_per_idle_poll_s"]) >= {"median", "min", "max"}
    assert resources["day"][0]["polls"] == resources["params"]["day_polls"]


def test_burst_loses_and_repeats_nothing(results: dict[str, Any]) -> None:
    for run in results["benchmarks"]["burst"]["runs"]:
        assert run["lost_do"] == 0
        assert run["lost_ds"] == 0
        assert run["duplicates"] == 0
        assert run["do_emails"] == run["jobs"]
        assert isinstance(run["max_sends_in_any_window"], int)
    state = results["benchmarks"]["state_size"]
    assert state["json_file"]["bytes"] > 0
    assert state["configmap"]["status"] in ("ok", "pending")


def test_operator_reconciles_every_monitor_and_idles_without_writes(
    results: dict[str, Any],
) -> None:
    entry = results["benchmarks"]["operator_scale"]
    assert entry["largest_reconciled"] == entry["params"]["monitors"][-1]
    assert entry["stopped_at"] is None
    for row in entry["rows"]:
        count = row["monitors"]
        assert row["reconciled"] is True
        assert row["ready"] == row["handled"] == count
        assert set(row["children_present"].values()) == {count}
        creation = row["creation"]
        assert sum(creation["by_verb"].values()) == creation["total"] > 0
        # At least one create per child (config and state ConfigMaps, SA, Role, RoleBinding,
        # Deployment) and the Event of the Ready transition; more when two reconciles race (409).
        assert creation["per_monitor_by_verb"]["create"] >= 7
        assert creation["reconciles"] >= count
        assert row["settled"]["writes"] >= creation["by_verb"]["create"]
        idle = row["idle"]
        assert idle["ticks"] > 0
        assert idle["writes"] == 0
        assert not WRITE_VERBS & set(idle["by_verb"])
        # Reconciled from the watch cache: no GET and no LIST in an idle window (issue 16).
        assert not {"get", "list"} & set(idle["by_verb"])
        operator = row["operator"]
        assert operator["vmhwm_end_kib"] >= operator["vmrss_before_kib"] > 0
        assert operator["log_errors"] == 0
    lines = render(entry)
    assert lines[0].startswith("| SyftMonitors |")
    assert any("Idle resync" in line for line in lines)


def test_idle_heartbeats_leave_the_state_configmap_alone(results: dict[str, Any]) -> None:
    entry = results["benchmarks"]["heartbeat"]
    for row in entry["rows"]:
        before, after = row["before"], row["after"]
        assert before["writes"] == 60
        # An idle monitor writes its heartbeat once per period: 6 times an hour at 600 s.
        assert after["writes"] == math.ceil(3600 / HEARTBEAT_PERIOD)
        assert all(t.startswith("update state-") for t in before["targets"])
        assert all(t.startswith("patch hb-") for t in after["targets"])
        assert after["object_bytes"] < before["object_bytes"]
        # Notify and approve in one pod: each writes its own key once per period.
        assert row["pod"]["writes"] == 2 * math.ceil(3600 / HEARTBEAT_PERIOD)
        assert all(t.startswith("patch hb-pod-") for t in row["pod"]["targets"])


def test_flood_control_bounds_the_flood_and_keeps_job_mail(results: dict[str, Any]) -> None:
    entry = results["benchmarks"]["flood"]
    strangers, jobs = entry["params"]["strangers"], entry["params"]["jobs"]
    for run in entry["runs"]:
        today, controlled = run["today"], run["flood_control"]
        assert today["flood_emails_total"] == 2 * strangers
        assert today["digests"] == 0
        assert controlled["job_emails_sent"] == jobs
        assert controlled["digests"] == 1
        assert controlled["flood_owner_emails_total"] == 11  # 10 one by one, then the digest
        assert controlled["folded"] == strangers - 10


def test_pool_and_single_owner_processes_cost_one_drive_request_per_idle_poll(
    results: dict[str, Any],
) -> None:
    entry = results["benchmarks"]["pool"]
    modes = {row["mode"] for row in entry["rows"]}
    assert modes == {"pool", "single"}
    for row in entry["rows"]:
        assert row["idle_polls"] > 0
        assert row["idle_drive_methods"] == {"changes.list": row["idle_drive_requests"]}
        # A poll under way when the window closes may be counted on one side only.
        assert 0.5 <= row["drive_requests_per_idle_poll"] <= 1.5
        assert row["detected"] == row["jobs"]
        assert row["vmhwm_kib"] > 0
        assert len(row["load_avg_start"]) == 3


def test_an_idle_email_reply_tick_costs_one_gmail_request(results: dict[str, Any]) -> None:
    entry = results["benchmarks"]["email_replies"]
    assert entry["idle_requests_max"] == 1
    assert entry["idle_operations"] == ["history.list"]
    assert entry["approved"] == entry["replies"]
