"""A kill during a digest send neither loses nor repeats it (issue 20).

A digest is one work item with its own notification key, sent through the same intent / Sent-mail
lookup path as every email. Each trial stores a due digest (what flood control leaves when an
hourly window closes: its folded emails recorded as notified by it), starts a monitor process,
and SIGKILLs it at a random moment while Gmail sends are slowed; in the end every digest arrived
exactly once and the state holds neither the digest nor an intent.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from syft_monitors.notify.flood import BURST_GROUP, WINDOW_SECONDS, digest_key
from syft_monitors.state.json_file import JsonStateManager
from syft_monitors.state.model import (
    DigestItem,
    DigestRecord,
    NotifiedRecord,
    StateDocument,
    to_timestamp,
)
from syft_sandbox.demo_world import DO_EMAIL, DemoWorld
from syft_sandbox.faults import FaultRule
from tests.integration.reliability.test_crash_safety import (
    SEED,
    ChildMonitor,
    base_config,
    keys_sent,
    wait_for,
    write_config,
)

TRIALS = 8


def add_due_digest(state: JsonStateManager, trial: int) -> str:
    window = time.time() - time.time() % WINDOW_SECONDS - (TRIALS + 2 - trial) * WINDOW_SECONDS
    key = digest_key(BURST_GROUP, window)
    items = [
        DigestItem(
            key=f"new_peer:{DO_EMAIL}:s{trial}-{n}@spam.example:{role}",
            counterpart=f"s{trial}-{n}@spam.example",
            subject=f"New Peer Request from s{trial}-{n}@spam.example",
            to_owner=role == "do",
        )
        for n in range(3)
        for role in ("do", "ds")
    ]

    def write(doc: StateDocument) -> None:
        digests = dict(doc.flood.digests)
        digests[key] = DigestRecord(
            group=BURST_GROUP, do_email=DO_EMAIL, window_end=window + WINDOW_SECONDS, items=items
        )
        doc.flood = doc.flood.model_copy(update={"digests": digests})
        for item in items:
            doc.notified[item.key] = NotifiedRecord(sent_at=to_timestamp(), digest=key)

    state.update(write)
    return key


def test_sigkill_during_digest_send_loses_and_repeats_nothing(world: DemoWorld) -> None:
    world.sandbox.faults.add(
        FaultRule.slow(0.3, api="gmail", method="messages.send", probability=0.8)
    )
    config = {**base_config(world), "flood": {"enabled": True}}
    state_file = Path(config["state_file"])
    state = JsonStateManager(state_file)
    child = ChildMonitor(write_config(world, config), world.workdir / "digest-child.log")
    rng = random.Random(SEED)
    keys: list[str] = []
    child.start()
    try:
        assert wait_for(
            lambda: state_file.exists() and bool(json.loads(state_file.read_bytes())["cursors"]),
            30,
        ), child.log.read_text()
        for trial in range(TRIALS):
            child.kill()
            keys.append(add_due_digest(state, trial))
            child.start()
            time.sleep(rng.uniform(0.0, 0.8))  # often while the digest is being sent
        child.kill()
        child.start()
        assert wait_for(lambda: not state.load().flood.digests and not state.load().intents, 60), (
            child.log.read_text()[-3000:]
        )
        time.sleep(0.5)  # a duplicate, if any, would be sent by now
    finally:
        child.kill()
    sent = keys_sent(world)
    assert {key: sent[key] for key in keys} == dict.fromkeys(keys, 1), f"seed {SEED}"
    doc = state.load()
    assert all(doc.notified[key].provider_id for key in keys)
