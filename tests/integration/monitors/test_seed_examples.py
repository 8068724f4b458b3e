"""The seed document's examples, run as written against the sandbox."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from syft_monitors import JobMonitor, JsonStateManager, PeerMonitor
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DemoWorld


def test_from_config_with_the_seed_keys(world: DemoWorld, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "syftbox_root": str(tmp_path / "SyftBox"),
                "do_email": DO_EMAIL,
                "drive_token_path": str(world.token_files[DO_EMAIL]),
                "gmail_token_path": str(world.token_files[DO_EMAIL]),
                "state_file": str(tmp_path / "state.json"),
                "notify_on_new_job": True,
                "notify_on_approved": True,
                "notify_on_executed": True,
                "google_api_root": world.server.url,
            }
        )
    )
    monitor = JobMonitor.from_config(config)
    monitor.check()  # single check: baseline
    world.scientists[DS_ALICE].request_peer(DO_EMAIL)
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "cfg job", {"main.py": "print(1)\n"})
    monitor.check(interval=1, duration=0.5)  # poll for a bounded time, as in the seed
    subjects = {str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO_EMAIL)}
    assert "Job: cfg job" in subjects


def test_from_client_and_background_thread(
    world: DemoWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SYFT_GOOGLE_API_ROOT", world.server.url)
    client = SimpleNamespace(
        email=DO_EMAIL,
        syftbox_folder=str(tmp_path / "SyftBox"),
        token_path=str(world.token_files[DO_EMAIL]),
    )
    monitor = PeerMonitor.from_client(client, gmail_token_path=str(world.token_files[DO_EMAIL]))
    monitor.check()
    thread = monitor.start(interval=1)
    assert thread.is_alive()
    world.scientists[DS_ALICE].request_peer(DO_EMAIL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(
            "New Peer Request" in str(m.message["Subject"])
            for m in world.sandbox.sent_mail(DO_EMAIL)
        ):
            break
        time.sleep(0.2)
    monitor.stop()
    assert not thread.is_alive()
    assert (tmp_path / ".syft-notifications" / "state.json").exists()
    assert monitor.notify_peer_granted(DS_ALICE) is True
    subjects = [str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO_EMAIL)]
    assert f"New Peer Request from {DS_ALICE}" in subjects
    assert subjects.count(f"Peer Request Accepted: {DO_EMAIL}") == 1
    # Calling it again does not send twice.
    monitor.notify_peer_granted(DS_ALICE)
    subjects = [str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO_EMAIL)]
    assert subjects.count(f"Peer Request Accepted: {DO_EMAIL}") == 1


def test_errors_in_a_check_never_end_the_loop(world: DemoWorld, tmp_path: Path) -> None:
    monitor = PeerMonitor(
        DO_EMAIL,
        tmp_path / "missing-token.json",
        None,
        JsonStateManager(tmp_path / "s.json"),
        {},
        google_api_root=world.server.url,
    )
    monitor.check(interval=0.05, duration=0.3)
    assert monitor.checks >= 2
    registry = monitor.metrics.registry
    assert (registry.get_sample_value("syft_monitor_errors_total", {"kind": "auth"}) or 0) >= 2
    assert (
        registry.get_sample_value(
            "syft_monitor_polls_total", {"monitor": "peers", "outcome": "error"}
        )
        == monitor.checks
    )
