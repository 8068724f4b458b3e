"""State loaded once per poll (issue 15): an idle poll reads the state document once and writes
nothing, on the real backends: the ConfigMap one against the Kubernetes API test server (its
request log shows one GET of the state ConfigMap per idle poll, no write of it) and the JSON
file one (the file is not rewritten)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from syft_monitors.approve.service import ApproveMonitor
from syft_monitors.approve_rules import ApproveSettings
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.runtime.wiring import drive_api
from syft_monitors.state.base import StateManager
from syft_monitors.state.configmap import ConfigMapStateManager
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DS_BOB, DemoWorld
from tests.kubeapi import KubeApiServer

STATE = "owner-state"
BEAT = "owner-heartbeat"
IDLE_POLLS = 3


@pytest.fixture
def configmap_state(kube_api: KubeApiServer, kube_client: Any) -> StateManager:
    for name in (STATE, BEAT):
        kube_api.put_object(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default"},
                "data": {},
            }
        )
    # No reuse of a recent read: every read of the backend is a GET the log shows.
    return ConfigMapStateManager(
        STATE, "default", api_client=kube_client, heartbeat_name=BEAT, max_staleness=0
    )


def notify_monitor(world: DemoWorld, state: StateManager) -> NotificationMonitor:
    syftbox = world.workdir / "SyftBox"
    syftbox.mkdir(exist_ok=True)  # the local scan runs too
    return NotificationMonitor(
        do_email=DO_EMAIL,
        sender=GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        state=state,
        config={},
        drive_token_path=world.token_files[DO_EMAIL],
        syftbox_root=syftbox,
        google_api_root=world.server.url,
        strategy="changes",
        drive=None,
        metrics=MonitorMetrics(),
    )


def approve_monitor(world: DemoWorld, state: StateManager) -> ApproveMonitor:
    metrics = MonitorMetrics()
    return ApproveMonitor(
        DO_EMAIL,
        ApproveSettings.model_validate({"approved_peers": [DS_BOB]}),
        state=state,
        sender=GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        drive=drive_api(world.token_files[DO_EMAIL], api_root=world.server.url, metrics=metrics),
        syftbox_root=None,
        metrics=metrics,
    )


def with_history(world: DemoWorld, monitor: NotificationMonitor) -> None:
    """A baseline, then a peer request and a job that are emailed: a state with records."""
    monitor.check()
    world.scientists[DS_ALICE].request_peer(DO_EMAIL)
    monitor.check()
    world.owner.accept_peer(DS_ALICE)
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "train", {"main.py": "print(1)\n"})
    monitor.check()
    assert len(world.sandbox.sent_mail(DO_EMAIL)) >= 3
    monitor.check()  # settles what the last poll left (the peers file, the job's files)


def state_requests(kube_api: KubeApiServer) -> list[str]:
    return [r.verb for r in kube_api.requests if r.name == STATE]


def test_an_idle_notify_poll_gets_the_state_configmap_once_and_writes_nothing(
    world: DemoWorld, kube_api: KubeApiServer, configmap_state: StateManager
) -> None:
    monitor = notify_monitor(world, configmap_state)
    with_history(world, monitor)
    kube_api.clear_requests()
    for _ in range(IDLE_POLLS):
        assert monitor.check() is None
        assert monitor.health_problem is None
    assert state_requests(kube_api) == ["get"] * IDLE_POLLS


def test_a_poll_with_a_new_job_writes_its_batch_once_and_each_send_twice(
    world: DemoWorld, kube_api: KubeApiServer, configmap_state: StateManager
) -> None:
    monitor = notify_monitor(world, configmap_state)
    with_history(world, monitor)
    kube_api.clear_requests()
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "second", {"main.py": "print(2)\n"})
    monitor.check()
    report = monitor.last_report
    assert report is not None
    assert (report.work_added, report.work_done, report.events, report.emails) == (1, 1, 1, 2)
    writes = [verb for verb in state_requests(kube_api) if verb != "get"]
    # The batch with the cursor; per email its intent before the send and its result (with the
    # flood counters) after; the work item done with the events it delivered.
    assert writes == ["update"] * (1 + 2 * report.emails + 1)


def test_an_idle_approve_tick_gets_the_state_configmap_once_and_writes_nothing(
    world: DemoWorld, kube_api: KubeApiServer, configmap_state: StateManager
) -> None:
    notify = notify_monitor(world, configmap_state)
    with_history(world, notify)
    monitor = approve_monitor(world, configmap_state)
    monitor.check()  # its baseline: takes its own cursor
    world.scientists[DS_BOB].request_peer(DO_EMAIL)
    assert monitor.tick().peers_accepted == 1
    monitor.check()  # the folders and peers file it wrote come back through its feed
    kube_api.clear_requests()
    for _ in range(IDLE_POLLS):
        monitor.check()
        assert monitor.last_report is not None
        assert monitor.last_report.changes == 0
    assert state_requests(kube_api) == ["get"] * IDLE_POLLS


def _stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def test_idle_polls_do_not_rewrite_the_state_file(world: DemoWorld, tmp_path: Path) -> None:
    path = tmp_path / "own-state.json"
    state = JsonStateManager(path)
    notify = notify_monitor(world, state)
    with_history(world, notify)
    approve = approve_monitor(world, state)
    approve.check()
    approve.check()
    before = _stamp(path)
    for _ in range(IDLE_POLLS):
        notify.check()
        approve.check()
    assert _stamp(path) == before
