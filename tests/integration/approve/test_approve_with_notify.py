"""The approve and notify services on one state file: every email exactly once, in either order."""

from __future__ import annotations

from collections import Counter

import pytest
from approve_world import ALICE, DO, MAIN_PY, ApproveWorld, rule

from syft_monitors.protocol.messages import encode_message, new_events_message

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
