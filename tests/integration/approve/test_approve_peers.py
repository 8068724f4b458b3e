"""Peer requests against the sandbox: accepted by email and by domain, never by a look-alike."""

from __future__ import annotations

import json
import time

import yaml
from approve_world import ALICE, CAROL, DANA, DO, EVE, SUB, ApproveWorld

from syft_monitors.protocol.names import current_channel_name
from syft_monitors.protocol.peers import PeerState
from syft_sandbox.faults import FaultRule


def test_peer_listed_by_email_is_accepted_the_way_the_owner_client_does(
    world: ApproveWorld,
) -> None:
    world.write_config({"approved_peers": [ALICE]})
    world.tick()  # baseline: nothing waiting
    world.scientists[ALICE].request_peer(DO)
    report = world.tick()

    assert report.peers_accepted == 1
    assert world.owner_peers().state_of(ALICE) is PeerState.ACCEPTED
    folders = world.owner_folders()
    for direction in ("inbox", "outbox"):
        name = current_channel_name("0.1.117", ALICE, direction, DO)
        assert name in folders, sorted(folders)
        assert ALICE in folders[name].shared_with
    # The owner's sync only takes the peer's submissions where permission files allow it.
    jobs = world.syftbox / DO / "app_data" / "job"
    inbox_acl = yaml.safe_load((jobs / "inbox" / ALICE / "syft.pub.yaml").read_text())
    review_acl = yaml.safe_load((jobs / "review" / ALICE / "syft.pub.yaml").read_text())
    assert inbox_acl["rules"][0]["access"]["write"] == [ALICE]
    assert review_acl["rules"][0]["access"]["read"] == [ALICE]
    # The owner hears which setting accepted the peer; the peer hears they were accepted.
    assert world.mail() == [
        (DO, f"Peer Accepted Automatically: {ALICE}"),
        (ALICE, f"Peer Request Accepted: {DO}"),
    ]
    owner_email = world.sandbox.sent_mail(DO)[0].message
    assert "because it is listed in approved_peers" in str(owner_email)
    assert world.monitor.metrics.approvals.labels("peer", "approved")._value.get() == 1


def test_owner_version_file_is_shared_read_only_and_names_the_folders(
    world: ApproveWorld,
) -> None:
    root = world.owner.root()
    version = {
        "syft_client_version": "0.1.118",
        "min_supported_syft_client_version": "0.1.0",
        "protocol_version": "1.0.0",
        "min_supported_protocol_version": "1.0.0",
        "updated_at": "2026-05-01T10:00:00+00:00",
    }
    world.owner.upload("SYFT_version.json", root, json.dumps(version).encode(), "text/plain")
    world.write_config({"approved_peers": [ALICE]})
    world.scientists[ALICE].request_peer(DO)
    world.tick()

    version_file = world.sandbox.find(name="SYFT_version.json", owner=DO)[0]
    assert ALICE in version_file.shared_with
    assert current_channel_name("0.1.118", ALICE, "inbox", DO) in world.owner_folders()


def test_domain_accepts_exact_domain_only(world: ApproveWorld) -> None:
    world.write_config({"approved_domains": ["Example.COM"]})
    world.tick()
    for ds in (DANA, EVE, SUB):
        world.scientists[ds].request_peer(DO)
    report = world.tick()

    peers = world.owner_peers()
    assert report.peers_accepted == 1
    assert peers.state_of(DANA) is PeerState.ACCEPTED
    assert peers.state_of(EVE) is None  # evil-example.com is not example.com
    assert peers.state_of(SUB) is None  # x.example.com is not example.com
    assert world.mail() == [
        (DO, f"Peer Accepted Automatically: {DANA}"),
        (DANA, f"Peer Request Accepted: {DO}"),
    ]
    assert "because its domain example.com is in approved_domains" in str(
        world.sandbox.sent_mail(DO)[0].message
    )


def test_legacy_request_is_accepted_in_the_peers_file(world: ApproveWorld) -> None:
    world.write_config({"approved_domains": ["legacy.example"]})
    world.tick()
    world.scientists[CAROL].request_peer(DO)
    world.tick()

    assert world.owner_peers().state_of(CAROL) is PeerState.ACCEPTED
    # Legacy channels are both created by the data scientist: no mirror folders.
    assert not [name for name in world.owner_folders() if name.startswith("syft_datasite#")]


def test_requests_waiting_at_first_start_are_considered_once(world: ApproveWorld) -> None:
    world.scientists[ALICE].request_peer(DO)
    world.scientists[EVE].request_peer(DO)
    world.write_config({"approved_peers": [ALICE]})
    report = world.tick()

    assert report.baseline
    assert report.peers_accepted == 1
    assert world.owner_peers().state_of(ALICE) is PeerState.ACCEPTED
    assert world.owner_peers().state_of(EVE) is None
    mark = world.sandbox.mark()
    assert world.tick().peers_accepted == 0
    assert len(world.mail()) == 2  # the owner's and the peer's, once
    assert "files.list" not in world.drive_calls(mark)  # not listed again


def test_peer_the_owner_rejected_is_not_accepted(world: ApproveWorld) -> None:
    _, peers = world.owner.read_peers()
    world.owner.write_peers(peers.with_state(ALICE, PeerState.REJECTED))
    world.write_config({"approved_peers": [ALICE]})
    world.tick()
    world.scientists[ALICE].request_peer(DO)
    world.tick()

    assert world.owner_peers().state_of(ALICE) is PeerState.REJECTED
    assert world.mail() == []
    assert not [name for name in world.owner_folders() if ALICE in name]


def test_peers_named_in_rules_are_accepted(world: ApproveWorld) -> None:
    world.write_config(
        {
            "auto_approvals": [
                {
                    "name": "stats",
                    "peers": [ALICE],
                    "file_paths": ["main.py"],
                }
            ]
        }
    )
    world.tick()
    world.scientists[ALICE].request_peer(DO)
    world.tick()
    assert world.owner_peers().state_of(ALICE) is PeerState.ACCEPTED


def test_a_retry_stored_by_the_previous_version_is_kept_and_made(world: ApproveWorld) -> None:
    world.write_config({"approved_peers": [ALICE]})
    world.tick()
    world.scientists[ALICE].request_peer(DO)
    world.sandbox.faults.add(
        FaultRule(kind="status", api="drive", method="files.create", user=DO, status=400, times=1)
    )
    assert world.tick().peers_accepted == 0
    # Rewrite the state as the previous version stored it (schema 2, retries in free-form data)
    # and start a new process on it.
    path = world.workdir / "state.json"
    stored = json.loads(path.read_text(encoding="utf-8"))
    retries = stored.pop("approve_retries")
    assert list(retries) == [ALICE]
    stored["schema_version"] = 2
    stored["data"] = {"approve": {"peer_retries": retries}}
    path.write_text(json.dumps(stored), encoding="utf-8")
    world.restart()
    assert world.tick().peers_considered == 0  # the retry's backoff is kept too
    later = time.time() + 3600
    world.monitor.clock = lambda: later
    assert world.tick().peers_accepted == 1
    assert world.owner_peers().state_of(ALICE) is PeerState.ACCEPTED
    rewritten = json.loads(path.read_text(encoding="utf-8"))
    assert rewritten["approve_retries"] == {}
    assert rewritten["data"] == {}


def test_failed_acceptance_is_retried_after_its_backoff(world: ApproveWorld) -> None:
    world.write_config({"approved_peers": [ALICE]})
    world.tick()
    world.scientists[ALICE].request_peer(DO)
    # A creation refused once (not retryable in-call: creates are attempted once).
    world.sandbox.faults.add(
        FaultRule(kind="status", api="drive", method="files.create", user=DO, status=400, times=1)
    )
    assert world.tick().peers_accepted == 0
    assert world.monitor.metrics.approvals.labels("peer", "failed")._value.get() == 1
    assert world.tick().peers_considered == 0  # waiting for its backoff
    later = time.time() + 3600
    world.monitor.clock = lambda: later
    assert world.tick().peers_accepted == 1
    assert world.owner_peers().state_of(ALICE) is PeerState.ACCEPTED
    assert [name for name in world.owner_folders() if name.startswith("syft_datasite#")] == sorted(
        current_channel_name("0.1.117", ALICE, d, DO) for d in ("inbox", "outbox")
    )
    assert world.mail() == [
        (DO, f"Peer Accepted Automatically: {ALICE}"),
        (ALICE, f"Peer Request Accepted: {DO}"),
    ]
