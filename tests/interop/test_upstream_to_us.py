"""Upstream writes, we read: every message and job folder of syft-client 0.1.117, read exactly.

`upstream_writer.py` drives the real upstream library (in `.venv-interop`) through job
submissions, the data owner's sync, approvals, rejections and runs, and records in
`manifest.json` what upstream itself reads back. Our CLI runs as a black box on the same files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from interop_support import UpstreamOutput, run_syft_bg

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]

DO = "data.owner@hospital.example.org"
DS1 = "first_last+tag@uni-x.edu"
DS2 = "ds_two@lab.example.com"
ALL_STATUSES = {"received", "pending", "approved", "rejected", "running", "done", "failed"}
PROPOSAL_LABELS = {
    "python job",
    "python job, second submitter",
    "folder job with binary file and params.json",
    "unicode job name",
    "job with an invalid folder shape",
    "bash job, name with spaces",
    "bash job, default name",
    "bash job that stays running",
    "plain file sync",
    "job the data owner has not listed yet",
    "deletion proposed by a data scientist",
}


def expected_document(entry: dict[str, Any]) -> dict[str, Any]:
    """The `inspect message --json` document the manifest entry implies."""
    return {
        "file": entry["file"],
        "kind": entry["kind"],
        "sender": entry["sender"],
        "datasite": entry["datasite"],
        "layout": entry["layout"],
        "changes": [
            {key: change[key] for key in ("path", "deleted", "binary", "sha256")}
            for change in entry["changes"]
        ],
        "jobs": sorted_jobs(entry["jobs"]),
    }


def sorted_jobs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Which job a message lists first is not part of the contract; everything else is.
    return sorted(jobs, key=lambda job: (job["submitter"], job["name"]))


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Readable differences; lists are compared item by item so one bad change stands out."""
    found = []
    for key in sorted(set(expected) | set(actual)):
        want, got = expected.get(key), actual.get(key)
        if want == got:
            continue
        if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
            for index, (item_want, item_got) in enumerate(zip(want, got, strict=True)):
                if item_want != item_got:
                    found.append(f"  {key}[{index}]: upstream {item_want!r}\n    ours {item_got!r}")
        else:
            found.append(f"  {key}: upstream {want!r}\n    ours {got!r}")
    return found


def check_messages(output: UpstreamOutput, kind: str) -> int:
    entries = [m for m in output.manifest["messages"] if m["kind"] == kind]
    failures = []
    for entry in entries:
        actual = run_syft_bg("inspect", "message", str(output.messages_dir / entry["file"]))
        actual["jobs"] = sorted_jobs(actual.get("jobs", []))
        diff = differences(expected_document(entry), actual)
        if diff:
            failures.append(f"{entry['file']} ({entry['label'] or 'events'}):\n" + "\n".join(diff))
    shown = "\n".join(failures[:5]) + ("\n  ..." if len(failures) > 5 else "")
    assert not failures, f"{len(failures)} of {len(entries)} {kind} messages differ:\n{shown}"
    return len(entries)


def test_upstream_scenario_covers_every_case(upstream_output: UpstreamOutput) -> None:
    """Guards the oracle: the comparisons below are only as good as what upstream wrote."""
    manifest = upstream_output.manifest
    assert manifest["upstream"] == {"syft-client": "0.1.117", "syft-job": "0.1.39"}
    messages = manifest["messages"]
    proposals = [m for m in messages if m["kind"] == "proposed_changes"]
    events = [m for m in messages if m["kind"] == "events"]
    assert {m["label"] for m in proposals} == PROPOSAL_LABELS
    assert len(events) >= 10
    changes = [(m, c) for m in messages for c in m["changes"]]
    assert any(c["binary"] for m, c in changes if m["kind"] == "proposed_changes")
    assert any(c["binary"] for m, c in changes if m["kind"] == "events")
    assert any(c["deleted"] for m, c in changes if m["kind"] == "proposed_changes")
    assert any(c["deleted"] for m, c in changes if m["kind"] == "events")
    assert any(c["path"].endswith("/params.json") for _, c in changes)
    assert {m["sender"] for m in proposals} == {DS1, DS2}
    plain = next(m for m in proposals if m["label"] == "plain file sync")
    assert plain["jobs"] == []
    assert plain["layout"] is None
    job_names = {job["name"] for job in manifest["jobs"]}
    assert {"Ünïcödé ジョブ", "job with spaces", "python job"} <= job_names
    assert any(name.startswith("Job - ") for name in job_names)
    assert {job["status"] for job in manifest["jobs"]} == ALL_STATUSES
    statuses_in_events = {
        job["status"] for m in events for job in m["jobs"] if job["status"] is not None
    }
    assert statuses_in_events == ALL_STATUSES - {"received"}
    # Two data scientists, one job name.
    assert sorted(j["submitter"] for j in manifest["jobs"] if j["name"] == "python job") == [
        DS2,
        DS1,
    ]


def test_inspect_message_reads_upstream_proposals_exactly(
    upstream_output: UpstreamOutput,
) -> None:
    assert check_messages(upstream_output, "proposed_changes") == len(PROPOSAL_LABELS)


def test_inspect_message_reads_upstream_events_exactly(upstream_output: UpstreamOutput) -> None:
    assert check_messages(upstream_output, "events") >= 10


def parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no time zone"
    return parsed


def test_jobs_lists_the_owner_folder_like_upstream(upstream_output: UpstreamOutput) -> None:
    root = upstream_output.do_root
    listing = run_syft_bg("jobs", "--root", str(root), "--email", DO)
    assert listing["rejected"] == []

    expected = {(job["submitter"], job["name"]): job for job in upstream_output.manifest["jobs"]}
    actual = {(job["submitter"], job["name"]): job for job in listing["jobs"]}
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        got = actual[key]
        for field in ("name", "submitter", "datasite", "layout", "status"):
            assert got[field] == want[field], f"{key} {field}: ours {got[field]!r}"
        assert parse_time(got["submitted_at"]) == parse_time(want["submitted_at"]), key
        job_dir = root / want["path"]
        assert Path(got["path"]).resolve() == job_dir.resolve(), key
        # updated_at reflects the folder's files: not before the submission's config.yaml was
        # written, not after the newest file of the job.
        updated = parse_time(got["updated_at"]).timestamp()
        files = [p for p in job_dir.rglob("*") if p.is_file()]
        if want["state_file"]:
            files += [p for p in (root / want["state_file"]).parent.rglob("*") if p.is_file()]
        newest = max(p.stat().st_mtime for p in files)
        assert (job_dir / "config.yaml").stat().st_mtime - 1e-3 <= updated <= newest + 1e-3, key

    # Newest submission first, as upstream's own job list sorts.
    order = [(job["submitter"], job["name"]) for job in listing["jobs"]]
    assert order == sorted(
        expected, key=lambda k: parse_time(expected[k]["submitted_at"]), reverse=True
    )
