"""The monitors end to end against the sandbox, through the official Google client."""

from __future__ import annotations

import email.policy
import json
from email import message_from_bytes
from pathlib import Path

import yaml

from syft_monitors.monitors.seed_monitors import JobMonitor, NotificationMonitor, PeerMonitor
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox.actors import SimulatedDataOwner
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DS_BOB, DS_CAROL, DemoWorld, run_scenario


def subjects(world: DemoWorld) -> list[tuple[str, str]]:
    return [
        (str(m.message["To"]), str(m.message["Subject"])) for m in world.sandbox.sent_mail(DO_EMAIL)
    ]


def test_scenario_sends_every_notification_once(world: DemoWorld) -> None:
    result = run_scenario(world, lambda title, emails: None)
    sent = subjects(world)
    expected = {
        (DO_EMAIL, f"New Peer Request from {DS_ALICE}"),
        (DS_BOB, f"Peer Request Sent to {DO_EMAIL}"),
        (DS_CAROL, f"Peer Request Accepted: {DO_EMAIL}"),
        (DO_EMAIL, "Job: train model"),
        (DS_ALICE, "Job Submitted: train model"),
        (DS_ALICE, "Job Approved: train model"),
        (DS_ALICE, "Job Completed: train model"),
        (DO_EMAIL, "Job: legacy_job"),
        (DS_CAROL, "Job Completed: legacy_job"),
        (DS_BOB, "Job Not Approved: stats <script>alert(1)<script>"),
        (DO_EMAIL, "Job: crashy"),
        (DS_ALICE, "Job Failed: crashy"),
    }
    assert expected <= set(sent)
    # Every notification key appears once: no duplicates across polls.
    keys = [m.message["X-Syft-Monitor-Key"] for m in world.sandbox.sent_mail(DO_EMAIL)]
    assert None not in keys
    assert len(keys) == len(set(keys)) == 31
    assert result.idle_poll_requests == 1
    assert len(list(result.output_dir.glob("*.eml"))) == len(result.emails)


def test_idle_poll_is_one_changes_request_whatever_the_size(world: DemoWorld) -> None:
    world.poll()  # baseline
    for index in range(5):
        ds = world.scientists[DS_ALICE]
        ds.submit_job(DO_EMAIL, f"job {index}", {"main.py": "print(1)\n"})
    world.poll()
    world.poll()  # settles anything the previous poll left
    state_file = world.workdir / "state.json"
    before = state_file.read_bytes()
    mark = world.sandbox.mark()
    world.monitor.check()
    calls = [r.operation for r in world.sandbox.requests(mark, api="drive")]
    assert calls == ["changes.list"]
    # The cursor did not move and nothing was found: only the heartbeat is rewritten.
    doc_before = json.loads(before)
    doc_after = json.loads(state_file.read_bytes())
    doc_before.pop("heartbeat")
    doc_after.pop("heartbeat")
    assert doc_after == doc_before


def test_no_email_for_data_that_existed_before_first_start(world: DemoWorld) -> None:
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    alice.submit_job(DO_EMAIL, "old job", {"main.py": "print(0)\n"})
    world.owner.accept_peer(DS_ALICE)
    assert world.poll() == []
    alice.submit_job(DO_EMAIL, "new job", {"main.py": "print(1)\n"})
    assert {e.subject for e in world.poll()} == {"Job: new job", "Job Submitted: new job"}


def test_job_archived_before_the_poll_is_still_notified(world: DemoWorld) -> None:
    world.poll()
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    world.owner.accept_peer(DS_ALICE)
    world.poll()
    alice.submit_job(DO_EMAIL, "fast", {"main.py": "print(1)\n"})
    assert world.owner.sync() == 1  # the DO's sync moved it to the archive folder first
    assert "Job: fast" in {e.subject for e in world.poll()}


def test_restart_with_same_state_sends_nothing_twice(world: DemoWorld, tmp_path: Path) -> None:
    run_scenario(world, lambda title, emails: None)
    before = len(world.sandbox.sent_mail(DO_EMAIL))
    restarted = NotificationMonitor(
        do_email=DO_EMAIL,
        sender=GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        state=JsonStateManager(world.workdir / "state.json"),
        config={},
        drive_token_path=world.token_files[DO_EMAIL],
        syftbox_root=None,
        google_api_root=world.server.url,
        strategy="changes",
        drive=None,
        metrics=None,
    )
    restarted.check()
    assert len(world.sandbox.sent_mail(DO_EMAIL)) == before


def test_do_thread_headers_link_replies_to_the_first_email(world: DemoWorld) -> None:
    run_scenario(world, lambda title, emails: None)
    mails = [m for m in world.sandbox.sent_mail(DO_EMAIL) if m.message["To"] == DO_EMAIL]
    root = next(m for m in mails if m.message["Subject"] == "Job: train model")
    replies = [m for m in mails if m.message["Subject"] == "Re: Job: train model"]
    assert len(replies) == 2
    for reply in replies:
        assert reply.thread_id == root.thread_id
        assert reply.message["In-Reply-To"] == root.message["Message-ID"]
        assert root.message["Message-ID"] in reply.message["References"]


def test_hostile_job_name_is_escaped_in_html(world: DemoWorld) -> None:
    run_scenario(world, lambda title, emails: None)
    mail = next(
        m for m in world.sandbox.sent_mail(DO_EMAIL) if "Not Approved" in str(m.message["Subject"])
    )
    parsed = message_from_bytes(mail.raw, policy=email.policy.default)
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()
    assert "<script>alert(1)" not in content
    assert "&lt;script&gt;" in content


def test_listing_strategy_detects_the_same_events(world: DemoWorld, tmp_path: Path) -> None:
    monitor = JobMonitor(
        None,
        DO_EMAIL,
        GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        JsonStateManager(tmp_path / "list-state.json"),
        {},
        world.token_files[DO_EMAIL],
        google_api_root=world.server.url,
        strategy="list",
    )
    monitor.check()
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    world.owner.accept_peer(DS_ALICE)
    alice.submit_job(DO_EMAIL, "listed", {"main.py": "print(1)\n"})
    world.owner.sync()  # archived: the listing must look in archive folders too
    mark = world.sandbox.mark()
    monitor.check()
    sent = {str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO_EMAIL)}
    assert "Job: listed" in sent
    assert {r.operation for r in world.sandbox.requests(mark, api="drive")} >= {"files.list"}


def test_peer_monitor_detects_requests_and_grants(world: DemoWorld, tmp_path: Path) -> None:
    monitor = PeerMonitor(
        DO_EMAIL,
        world.token_files[DO_EMAIL],
        GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        JsonStateManager(tmp_path / "peers.json"),
        {"notify_on_new_peer": True, "notify_on_peer_granted": True},
        google_api_root=world.server.url,
    )
    monitor.check()
    world.scientists[DS_BOB].request_peer(DO_EMAIL)
    world.scientists[DS_CAROL].request_peer(DO_EMAIL)  # legacy folder names
    monitor.check()
    world.owner.accept_peer(DS_BOB)
    monitor.check()
    sent = subjects(world)
    assert (DO_EMAIL, f"New Peer Request from {DS_BOB}") in sent
    assert (DO_EMAIL, f"New Peer Request from {DS_CAROL}") in sent
    assert (DS_BOB, f"Peer Request Accepted: {DO_EMAIL}") in sent
    assert (DS_CAROL, f"Peer Request Accepted: {DO_EMAIL}") not in sent


def test_toggles_disable_emails(world: DemoWorld, tmp_path: Path) -> None:
    monitor = PeerMonitor(
        DO_EMAIL,
        world.token_files[DO_EMAIL],
        GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        JsonStateManager(tmp_path / "peers.json"),
        {"notify_on_new_peer": False},
        google_api_root=world.server.url,
    )
    monitor.check()
    world.scientists[DS_BOB].request_peer(DO_EMAIL)
    monitor.check()
    assert world.sandbox.sent_mail(DO_EMAIL) == []


def test_local_disk_status_feeds_the_same_stream(world: DemoWorld, tmp_path: Path) -> None:
    root = tmp_path / "SyftBox"
    job = root / DO_EMAIL / "app_data/job/inbox" / DS_ALICE / "local job"
    (job / "code").mkdir(parents=True)
    (job / "config.yaml").write_text(yaml.safe_dump({"name": "local job", "type": "python"}))
    (job / "run.sh").write_text("#!/bin/bash\n")
    (job / "code/main.py").write_text("print(1)\n")
    monitor = JobMonitor(
        root,
        DO_EMAIL,
        GmailSender(world.token_files[DO_EMAIL], api_root=world.server.url),
        JsonStateManager(tmp_path / "jobs.json"),
        {},
        world.token_files[DO_EMAIL],
        google_api_root=world.server.url,
    )
    monitor.check()  # baseline: the existing job is not announced
    assert world.sandbox.sent_mail(DO_EMAIL) == []
    review = root / DO_EMAIL / "app_data/job/review" / DS_ALICE / "local job"
    review.mkdir(parents=True)
    (review / "state.yaml").write_text(yaml.safe_dump({"status": "approved"}))
    monitor.check()
    assert (DS_ALICE, "Job Approved: local job") in subjects(world)
    # The same approval arriving through the Drive event log is not sent again.
    SimulatedDataOwner(DO_EMAIL, world.owner.service).set_status(DS_ALICE, "local job", "approved")
    monitor.check()
    assert subjects(world).count((DS_ALICE, "Job Approved: local job")) == 1


def test_invalid_cursor_rebaselines_without_losing_or_repeating(world: DemoWorld) -> None:
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    world.poll()  # baseline
    alice.submit_job(DO_EMAIL, "before", {"main.py": "print(0)\n"})
    assert "Job: before" in {e.subject for e in world.poll()}
    state = world.monitor.state

    def corrupt(doc: object) -> None:
        doc.cursors["notify"] = "not-a-valid-token"  # type: ignore[attr-defined]

    state.update(corrupt)
    alice.submit_job(DO_EMAIL, "after", {"main.py": "print(1)\n"})
    subjects = [e.subject for e in world.poll()]
    assert "Job: after" in subjects
    assert "Job: before" not in subjects  # already seen: the full re-read does not repeat it
    assert state.load().cursors["notify"] != "not-a-valid-token"
