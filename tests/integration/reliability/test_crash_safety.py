"""Crash safety: kill the monitor at random moments while jobs arrive; with the Gmail sender no
email is lost and none is sent twice, and the stored state is never corrupt.

Three ways to die, each against the sandbox (in this process) with the monitor in a child process
talking HTTP, as in production:
- SIGKILL of a foreground monitor (`NotificationMonitor.from_config(...).check(...)`), JSON state;
- the same with the ConfigMap state backend on the test Kubernetes API server while another
  writer keeps bumping the ConfigMap, so most state writes first lose a 409 and retry;
- the daemon's own stop path: `DaemonManager.stop()` (SIGTERM: finish the poll, save, exit 0).
Gmail sends are slowed so kills often land between "intent recorded" and "result recorded".
Trials: 30 / 10 / 8 here; `SYFT_SOAK=1` (make soak) runs 300 / 100 / 50 with a fresh seed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from syft_monitors.daemon.manager import DaemonManager
from syft_monitors.state.json_file import JsonStateManager
from syft_monitors.state.model import StateDocument
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DS_BOB, DemoWorld
from syft_sandbox.faults import FaultRule
from tests.integration.reliability.figures import record
from tests.kubeapi.server import KubeApiServer

SOAK = os.environ.get("SYFT_SOAK") == "1"
SEED = int(os.environ.get("SYFT_CRASH_SEED", str(time.time_ns() if SOAK else 20261126)))
JOBS_PER_TRIAL = 2
pytestmark = pytest.mark.timeout(7200 if SOAK else 300)

CHILD = """
import logging, sys
from syft_monitors.monitors.seed_monitors import NotificationMonitor
logging.basicConfig(level=logging.INFO)
NotificationMonitor.from_config(sys.argv[1]).check(interval=0.05)
"""


def base_config(world: DemoWorld) -> dict[str, Any]:
    return {
        "do_email": DO_EMAIL,
        "syftbox_root": None,
        "drive_token_path": str(world.token_files[DO_EMAIL]),
        "gmail_token_path": str(world.token_files[DO_EMAIL]),
        "state_file": str(world.workdir / "crash-state.json"),
        "google_api_root": world.server.url,
        # Every email on its own, counted by key: 30 jobs an hour from one scientist would
        # otherwise be folded into a digest (see test_digest_crash.py for digests under kills).
        "flood": {"enabled": False},
    }


def write_config(world: DemoWorld, config: dict[str, Any]) -> Path:
    path = world.workdir / "crash-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def keys_sent(world: DemoWorld) -> Counter[str]:
    return Counter(str(m.message["X-Syft-Monitor-Key"]) for m in world.sandbox.sent_mail(DO_EMAIL))


def wait_for(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def drained(world: DemoWorld, expected: int, stall: float = 45.0) -> bool:
    """Wait until `expected` emails are out, as long as the count keeps moving: the backlog after
    hundreds of kills takes minutes to send, and only a stall means something is stuck."""
    last, moved = -1, time.monotonic()
    while time.monotonic() - moved < stall:
        count = len(keys_sent(world))
        if count >= expected:
            return True
        if count != last:
            last, moved = count, time.monotonic()
        time.sleep(0.2)
    return False


def prepare(world: DemoWorld) -> None:
    for ds in (DS_ALICE, DS_BOB):
        world.scientists[ds].request_peer(DO_EMAIL)
        world.owner.accept_peer(ds)
    world.sandbox.faults.add(
        FaultRule.slow(0.15, api="gmail", method="messages.send", probability=0.7)
    )


def submit(world: DemoWorld, trial: int, count: int) -> int:
    for index in range(JOBS_PER_TRIAL):
        ds = (DS_ALICE, DS_BOB)[(count + index) % 2]
        world.scientists[ds].submit_job(
            DO_EMAIL, f"job {trial}-{count + index}", {"main.py": f"print({count + index})\n"}
        )
    return count + JOBS_PER_TRIAL


def check_outcome(
    world: DemoWorld, submitted: int, doc: StateDocument, log: str, *, name: str, trials: int
) -> None:
    expected = 2 * submitted  # "Job: ..." to the owner, "Job Submitted: ..." to the scientist
    sent = keys_sent(world)
    assert len(sent) >= expected, f"seed {SEED}: {len(sent)} of {expected}\n{log[-3000:]}"
    duplicates = {key: n for key, n in sent.items() if n > 1}
    assert not duplicates, f"seed {SEED}: duplicates {duplicates}"
    assert len(sent) == expected, f"seed {SEED}"
    assert doc.intents == {}
    assert sum(key.startswith("new_job:") for key in doc.notified) == expected
    record(
        name,
        seed=SEED,
        trials=trials,
        jobs=submitted,
        emails=len(sent),
        duplicates=len(duplicates),
        lost=expected - len(sent),
        recovered_from_sent_mail=log.count("had been sent before a restart"),
    )


class ChildMonitor:
    """A foreground monitor process that the test kills with SIGKILL."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config, self.log, self.env = config, log, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(self.config)],
                stdout=sink,
                stderr=sink,
                env={**os.environ, **(self.env or {})},
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def run_sigkill_trials(
    world: DemoWorld,
    child: ChildMonitor,
    trials: int,
    baselined: Callable[[], bool],
    read_state: Callable[[], StateDocument],
) -> tuple[int, StateDocument]:
    rng = random.Random(SEED)
    child.start()
    submitted = 0
    try:
        assert wait_for(baselined, 30), child.log.read_text()
        for trial in range(trials):
            submitted = submit(world, trial, submitted)
            time.sleep(rng.uniform(0.0, 0.6))  # often mid-send
            child.kill()
            read_state()  # the stored state is whole after every kill
            child.start()
        expected = 2 * submitted
        assert drained(world, expected), (
            f"seed {SEED}: {len(keys_sent(world))} of {expected}\n{child.log.read_text()[-3000:]}"
        )
        # Let the last process settle its intents before it is stopped for good.
        assert wait_for(lambda: not read_state().intents, 30)
        time.sleep(0.3)  # a duplicate, if any, would be sent by now
    finally:
        child.kill()
    return submitted, read_state()


def test_sigkill_at_random_moments_loses_and_repeats_nothing(world: DemoWorld) -> None:
    prepare(world)
    config = base_config(world)
    state_file = Path(config["state_file"])
    child = ChildMonitor(write_config(world, config), world.workdir / "child.log")
    trials = 300 if SOAK else 30
    submitted, doc = run_sigkill_trials(
        world,
        child,
        trials,
        lambda: state_file.exists() and bool(json.loads(state_file.read_bytes()).get("cursors")),
        lambda: JsonStateManager(state_file).load(),
    )
    check_outcome(
        world, submitted, doc, child.log.read_text(), name="sigkill_json_state", trials=trials
    )
    # The crash window was really hit: some emails were found in Sent mail after a restart.
    assert "had been sent before a restart" in child.log.read_text() or not SOAK


def test_sigkill_with_configmap_state_under_write_conflicts(
    world: DemoWorld, kube_api: KubeApiServer, kubeconfig: Path
) -> None:
    from syft_monitors.state.configmap import ConfigMapStateManager  # noqa: PLC0415

    prepare(world)
    kube_api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "alice-state", "namespace": "default"},
            "data": {},
        }
    )
    config = {
        **base_config(world),
        "state_backend": "configmap",
        "state_configmap": {"name": "alice-state", "namespace": "default"},
    }
    child = ChildMonitor(
        write_config(world, config),
        world.workdir / "child.log",
        env={"KUBECONFIG": str(kubeconfig)},
    )
    stop = threading.Event()

    def conflict_maker() -> None:
        # Another writer (the operator adopting, a human labelling) bumps the resourceVersion.
        tick = 0
        while not stop.wait(0.02):
            current = kube_api.get_object("v1", "configmaps", "default", "alice-state")
            if current is None:
                continue
            current["metadata"].setdefault("labels", {})["touched"] = str(tick)
            kube_api.put_object(current)
            tick += 1

    def read() -> StateDocument:
        return ConfigMapStateManager(
            "alice-state", "default", kubeconfig=kubeconfig, max_staleness=0
        ).load()

    writer = threading.Thread(target=conflict_maker, daemon=True)
    writer.start()
    trials = 100 if SOAK else 10
    try:
        submitted, doc = run_sigkill_trials(
            world, child, trials, lambda: bool(read().cursors), read
        )
    finally:
        stop.set()
        writer.join(5)
    check_outcome(
        world, submitted, doc, child.log.read_text(), name="sigkill_configmap_409", trials=trials
    )
    conflicts = [r for r in kube_api.requests if r.resource == "configmaps" and r.status == 409]
    assert conflicts, "the conflict maker never made a state write lose"


def test_daemon_sigterm_at_random_moments_loses_and_repeats_nothing(
    world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(world)
    home = world.workdir / "home"
    monkeypatch.setenv("SYFT_MONITOR_HOME", str(home))
    config = {**base_config(world), "interval": 1}
    manager = DaemonManager(write_config(world, config), "notify")
    state_file = Path(config["state_file"])
    rng = random.Random(SEED)
    submitted = 0
    assert manager.start()
    try:
        assert wait_for(
            lambda: (
                state_file.exists() and bool(json.loads(state_file.read_bytes()).get("cursors"))
            ),
            30,
        )
        trials = 50 if SOAK else 8
        for trial in range(trials):
            submitted = submit(world, trial, submitted)
            time.sleep(rng.uniform(0.0, 1.2))
            assert manager.stop()  # SIGTERM: the current poll finishes, state is saved
            JsonStateManager(state_file).load()
            assert manager.start()
        expected = 2 * submitted
        assert drained(world, expected)
        assert wait_for(lambda: not JsonStateManager(state_file).load().intents, 30)
        time.sleep(0.3)
    finally:
        manager.stop()
    log = (home / "syft-notify.log").read_text()
    check_outcome(
        world,
        submitted,
        JsonStateManager(state_file).load(),
        log,
        name="daemon_sigterm",
        trials=trials,
    )
    # Every stop was graceful: no SIGKILL fallback was needed.
    assert "killed" not in log.lower() or "SIGKILL" not in log
