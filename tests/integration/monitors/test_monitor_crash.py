"""SIGKILL a real monitor process at random moments while jobs arrive: with the Gmail sender no
email is lost and none is sent twice, and the state file is never corrupt.

The sandbox runs in this process; the monitor runs in a child process from a config file, as a
daemon would, and talks to the sandbox over HTTP. Gmail sends are slowed down so that kills often
land between "intent recorded" and "result recorded", the window the Sent-mail lookup covers.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from syft_monitors.demo import DO_EMAIL, DS_ALICE, DS_BOB, DemoWorld
from syft_monitors.sandbox.faults import FaultRule
from syft_monitors.state.json_file import JsonStateManager

TRIALS = 8
JOBS_PER_TRIAL = 2
SEED = int(os.environ.get("SYFT_CRASH_SEED", "20261126"))

CHILD = """
import logging, sys
from syft_monitors.monitors.monitors import NotificationMonitor
logging.basicConfig(level=logging.INFO)
NotificationMonitor.from_config(sys.argv[1]).check(interval=0.05)
"""


def write_config(world: DemoWorld) -> Path:
    config = {
        "do_email": DO_EMAIL,
        "syftbox_root": None,
        "drive_token_path": str(world.token_files[DO_EMAIL]),
        "gmail_token_path": str(world.token_files[DO_EMAIL]),
        "state_file": str(world.workdir / "crash-state.json"),
        "google_api_root": world.server.url,
    }
    path = world.workdir / "crash-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(config)], stdout=sink, stderr=sink
        )


def keys_sent(world: DemoWorld) -> Counter[str]:
    return Counter(str(m.message["X-Syft-Monitor-Key"]) for m in world.sandbox.sent_mail(DO_EMAIL))


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_at_random_moments_loses_and_repeats_nothing(world: DemoWorld) -> None:
    rng = random.Random(SEED)
    for ds in (DS_ALICE, DS_BOB):
        world.scientists[ds].request_peer(DO_EMAIL)
        world.owner.accept_peer(ds)
    config = write_config(world)
    state_file = world.workdir / "crash-state.json"
    log = world.workdir / "child.log"
    world.sandbox.faults.add(
        FaultRule.slow(0.15, api="gmail", method="messages.send", probability=0.7)
    )

    process = start(config, log)
    try:
        # First start baselines: wait for the cursor before any job may count as new.
        assert wait_for(
            lambda: state_file.exists() and json.loads(state_file.read_bytes()).get("cursors"),
            30,
        ), log.read_text()
        submitted = 0
        kills = 0
        for trial in range(TRIALS):
            for _ in range(JOBS_PER_TRIAL):
                ds = (DS_ALICE, DS_BOB)[submitted % 2]
                world.scientists[ds].submit_job(
                    DO_EMAIL, f"job {trial}-{submitted}", {"main.py": f"print({submitted})\n"}
                )
                submitted += 1
            # Kill at a random moment after the new jobs land, often mid-send.
            time.sleep(rng.uniform(0.0, 0.9))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            kills += 1
            # The state file is whole after every kill.
            JsonStateManager(state_file).load()
            process = start(config, log)

        expected = 2 * submitted  # "Job: ..." to the owner, "Job Submitted: ..." to the DS
        assert wait_for(lambda: len(keys_sent(world)) >= expected, 60), (
            f"seed {SEED}: {len(keys_sent(world))} of {expected} emails\n{log.read_text()}"
        )
        time.sleep(0.5)  # a duplicate, if any, would be sent by now
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    sent = keys_sent(world)
    duplicates = {key: n for key, n in sent.items() if n > 1}
    assert not duplicates, f"seed {SEED}: duplicates {duplicates}"
    assert len(sent) == expected, f"seed {SEED}"
    assert kills == TRIALS
    doc = JsonStateManager(state_file).load()
    assert doc.intents == {}
    assert len([k for k in doc.notified if k.startswith(("new_job:", "job_submitted:"))]) == (
        expected
    )
