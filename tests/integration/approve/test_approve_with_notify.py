"""The approve and notify services on one state file: every email exactly once, in either order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from approve_world import ALICE, DO, MAIN_PY, RUN_SH, ApproveWorld, rule

from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import FaultRule
from syft_sandbox.messages import encode_message, new_events_message
from tests.support import wait_for

APPROVAL_EMAILS = {
    (ALICE, f"Peer Request Accepted: {DO}"),
    (DO, "Job: train"),
    (ALICE, "Job Submitted: train"),
    (DO, "Re: Job: train"),
    (ALICE, "Job Approved: train"),
}


def publish_approval(world: ApproveWorld) -> None:
    """What the owner's client does on its next sync: the new state.yaml as an event."""
    rel = f"app_data/job/review/{ALICE}/train/state.yaml"
    content = (world.syftbox / DO / rel).read_bytes()
    message = new_events_message(DO, {rel: content})
    world.owner.upload(message.filename.name, world.owner.event_log(), encode_message(message))


@pytest.mark.parametrize("approve_first", [True, False], ids=["approve-first", "notify-first"])
def test_approval_emails_are_sent_once(world: ApproveWorld, approve_first: bool) -> None:
    world.write_config({"auto_approvals": [rule("train", {"main.py": MAIN_PY}, peers=(ALICE,))]})

    def both() -> None:
        first, second = (world.tick, world.notify.check)
        if not approve_first:
            first, second = second, first
        first()
        second()

    both()  # baselines
    world.scientists[ALICE].request_peer(DO)
    both()
    world.submit(ALICE, "train", {"main.py": MAIN_PY})
    both()
    publish_approval(world)
    both()
    both()

    keys = world.mail_keys()
    assert len(keys) == len(set(keys)), Counter(keys).most_common(3)
    sent = Counter(world.mail())
    assert all(count == 1 for count in sent.values()), sent
    assert set(sent) >= APPROVAL_EMAILS
    assert world.state_yaml(ALICE, "train") is not None


def _service(world: ApproveWorld, name: str) -> subprocess.Popen[str]:
    home = world.workdir / f"home-{name}"
    home.mkdir(exist_ok=True)
    command = ["run", name, "-i", "1"]
    return subprocess.Popen(
        [sys.executable, "-m", "syft_monitors.cli", "--config", str(world.config_path), *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SYFT_MONITOR_HOME": str(home), "SYFT_LOG_FORMAT": "text"},
    )


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1]


def test_notify_and_approve_processes_share_one_state_under_slow_lagging_gmail(
    world: ApproveWorld,
) -> None:
    """Both services send the new-job emails of an auto-approved job: as separate processes,
    with sends taking 0.25 s and Sent-mail search 2 s behind, each email still goes out once."""
    jobs = 12
    world.write_config(
        {
            "interval": 1,
            "auto_approvals": [
                rule("train", {"main.py": MAIN_PY}, peers=(ALICE,), run_sh=(RUN_SH,))
            ],
        },
        # Every email is counted by key: flood control would fold one sender's 36 emails.
        top_level={"flood": {"enabled": False}},
    )
    world.sandbox.mail.index_lag = 2.0
    world.sandbox.faults.add(FaultRule.slow(0.25, api="gmail", method="messages.send"))
    notify, approve = _service(world, "notify"), _service(world, "approve")
    errors = ""
    try:
        state = world.workdir / "state.json"
        # Both first polls done (their silent baselines taken) before anything is submitted.
        wait_for(
            lambda: (
                state.exists()
                and {"notify", "approve"} <= set(JsonStateManager(state).load().heartbeats)
            ),
            "both services' first polls",
        )
        world.scientists[ALICE].request_peer(DO)
        for n in range(jobs):
            world.submit(ALICE, f"train{n:02d}", {"main.py": MAIN_PY})
        wait_for(
            lambda: all(
                (world.state_yaml(ALICE, f"train{n:02d}") or {}).get("status") == "approved"
                for n in range(jobs)
            ),
            "every job approved",
            60,
        )
        wanted = {(DO, f"Job: train{n:02d}") for n in range(jobs)}
        wanted |= {(ALICE, f"Job Submitted: train{n:02d}") for n in range(jobs)}
        wait_for(lambda: wanted <= set(world.mail()), "the new-job emails", 40)
        wait_for(lambda: not JsonStateManager(state).load().intents, "no pending intent", 15)
    finally:
        errors = _stop(notify) + _stop(approve)
    keys = world.mail_keys()
    duplicates = {key: n for key, n in Counter(keys).items() if n > 1}
    assert not duplicates, (len(duplicates), errors[-3000:])
