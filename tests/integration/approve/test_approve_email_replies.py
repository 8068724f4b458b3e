"""Approve or deny a job by replying to its email: end to end through the sandbox.

The notify service sends the new-job email (with the review and the reply instructions), the data
owner answers in the thread from their own account through the official Gmail client, and the
approve service reads the answer from Gmail's history feed on its tick and writes the decision.
Flood control is off: these tests count every email exactly.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest
import yaml
from approve_world import ALICE, BOB, DO, EVE, MAIN_PY, ApproveWorld
from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_gmail_service
from syft_monitors.notify.preview import MAX_FILE_BYTES
from syft_monitors.protocol.messages import ProposedChangesMessage, decode_message
from syft_sandbox import FaultRule
from syft_sandbox.mail_actors import MailUser

NAME = "census"


def gmail_for(world: ApproveWorld, email: str) -> Any:
    return build_gmail_service(
        Credentials(world.sandbox.access_token(email)),  # type: ignore[no-untyped-call]
        api_root=world.server.url,
    )


@pytest.fixture
def owner(world: ApproveWorld) -> Any:
    world.write_config({"email_replies": True}, top_level={"flood": {"enabled": False}})
    service = gmail_for(world, DO)
    yield MailUser(DO, service)
    service.close()


def new_job_email(world: ApproveWorld, ds: str = ALICE, name: str = NAME) -> str:
    """A job lands on the owner's disk; the notify service emails it. Returns its thread id."""
    world.place_job(ds, name, {"main.py": MAIN_PY})
    world.notify.check()
    [root] = [m for m in world.sandbox.sent_mail(DO) if m.message["Subject"] == f"Job: {name}"]
    return root.thread_id


def baseline(world: ApproveWorld) -> None:
    world.notify.check()
    report = world.tick()
    assert report.replies is not None
    assert report.replies.baseline


def decisions(world: ApproveWorld) -> Counter[tuple[str, str]]:
    """The emails our services sent (the owner's own replies are in Sent mail too)."""
    return Counter(
        (str(m.message["To"]), str(m.message["Subject"]))
        for m in world.sandbox.sent_mail(DO)
        if m.message["X-Syft-Monitor-Key"] is not None
    )


def test_approve(world: ApproveWorld, owner: MailUser) -> None:
    baseline(world)
    thread = new_job_email(world)
    [root] = world.sandbox.mail_thread(DO, thread)
    body = root.message.get_body(("plain",))
    assert body is not None
    assert "reply to this email with one of these" in str(body.get_content())
    owner.reply(thread, "Approve")
    report = world.tick()
    assert report.replies is not None
    assert report.replies.decisions == 1
    state = world.state_yaml(ALICE, NAME)
    assert state is not None
    assert state["status"] == "approved"
    assert state["approval_method"] == "manual"
    assert state["approved_by"] == DO
    assert state["approved_hashes"]["code/main.py"]
    assert state["decided_by_reply"]
    sent = decisions(world)
    assert sent[(DO, f"Re: Job: {NAME}")] == 1  # the confirmation, in the thread
    assert sent[(ALICE, f"Job Approved: {NAME}")] == 1
    confirmation = world.sandbox.mail_thread(DO, thread)[-1]
    assert "Approved" in str(confirmation.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    world.notify.check()
    world.tick()
    assert decisions(world) == sent  # the notify service sees the approval: nothing twice


def test_deny_with_a_reason(world: ApproveWorld, owner: MailUser) -> None:
    baseline(world)
    thread = new_job_email(world)
    owner.reply(thread, "deny: it reads every row, please aggregate")
    world.tick()
    state = world.state_yaml(ALICE, NAME)
    assert state is not None
    assert state["status"] == "rejected"
    assert state["rejected_by"] == DO
    assert state["review_reason"] == "it reads every row, please aggregate"
    [ds_mail] = [
        m
        for m in world.sandbox.sent_mail(DO)
        if (m.message["To"], m.message["Subject"]) == (ALICE, f"Job Not Approved: {NAME}")
    ]
    assert "please aggregate" in str(ds_mail.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_auto_approve_then_an_identical_job_is_approved_by_the_rule(
    world: ApproveWorld, owner: MailUser
) -> None:
    baseline(world)
    thread = new_job_email(world)
    owner.reply(thread, "auto-approve")
    world.tick()
    state = world.state_yaml(ALICE, NAME)
    assert state is not None
    assert state["status"] == "approved"
    config = yaml.safe_load(world.config_path.read_text())
    [rule] = config["approve"]["auto_approvals"]
    assert rule["peers"] == [ALICE]
    assert rule["job"]["entrypoint"] == "main.py"
    world.place_job(ALICE, "census again", {"main.py": MAIN_PY})
    world.tick()
    world.tick()
    again = world.state_yaml(ALICE, "census again")
    assert again is not None
    assert again["status"] == "approved"
    assert again["approval_method"] == "auto"
    assert "decided_by_reply" not in again
    # The rule is for this scientist and this code only.
    world.place_job(BOB, "census", {"main.py": MAIN_PY})
    world.tick()
    assert world.state_yaml(BOB, "census") is None


def test_an_unknown_command_gets_help_and_changes_nothing(
    world: ApproveWorld, owner: MailUser
) -> None:
    baseline(world)
    thread = new_job_email(world)
    owner.reply(thread, "approved? looks fine to me")
    world.tick()
    world.tick()
    assert world.state_yaml(ALICE, NAME) is None
    help_reply = world.sandbox.mail_thread(DO, thread)[-1]
    assert help_reply.message["To"] == DO
    assert "SENT" in help_reply.label_ids
    text = str(help_reply.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "not understood" in text
    assert "deny [reason]" in text
    assert len(world.sandbox.mail_thread(DO, thread)) == 3  # email, reply, help: once


def test_a_forged_reply_from_another_account_is_ignored(
    world: ApproveWorld, owner: MailUser, caplog: pytest.LogCaptureFixture
) -> None:
    baseline(world)
    thread = new_job_email(world)
    [root] = world.sandbox.mail_thread(DO, thread)
    before = decisions(world)
    attacker = gmail_for(world, EVE)
    forged = MailUser(EVE, attacker).forge_reply(
        DO, str(root.message["Message-ID"]), f"Job: {NAME}", "approve"
    )
    attacker.close()
    assert forged["threadId"] != thread  # the attacker's own copy; the owner's is in the thread
    with caplog.at_level(logging.WARNING):
        report = world.tick()
    assert report.replies is not None
    assert report.replies.refused == 1
    assert report.replies.decisions == 0
    assert world.state_yaml(ALICE, NAME) is None
    assert decisions(world) == before
    assert "no SENT label" in caplog.text
    refused = world.monitor.metrics.email_replies.labels("refused")._value.get()
    assert refused == 1
    world.tick()
    assert world.monitor.metrics.email_replies.labels("refused")._value.get() == 1


def test_a_reply_to_a_decided_job_is_answered_and_changes_nothing(
    world: ApproveWorld, owner: MailUser
) -> None:
    baseline(world)
    thread = new_job_email(world)
    owner.reply(thread, "approve")
    world.tick()
    approved = world.state_yaml(ALICE, NAME)
    owner.reply(thread, "deny changed my mind")
    world.tick()
    assert world.state_yaml(ALICE, NAME) == approved
    last = world.sandbox.mail_thread(DO, thread)[-1]
    assert "already approved" in str(last.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert decisions(world)[(ALICE, f"Job Not Approved: {NAME}")] == 0


def test_a_job_changed_since_its_email_is_not_approved(
    world: ApproveWorld, owner: MailUser
) -> None:
    baseline(world)
    thread = new_job_email(world)
    job = world.syftbox / DO / "app_data" / "job" / "inbox" / ALICE / NAME
    (job / "code" / "main.py").write_text("import os; os.system('curl evil')\n")
    owner.reply(thread, "approve")
    world.tick()
    assert world.state_yaml(ALICE, NAME) is None
    last = world.sandbox.mail_thread(DO, thread)[-1]
    assert "changed since its email" in str(last.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_a_job_larger_than_the_scanner_reads_is_not_offered_a_reply(
    world: ApproveWorld, owner: MailUser
) -> None:
    """Ten files of exactly the size the email shows whole fill what the local scanner reads
    (500 KiB); the eleventh is never read. The email must not offer a reply for a job it does
    not show whole, and a reply gets "not reviewable", not "changed"."""
    baseline(world)
    files: dict[str, bytes | str] = {f"part{n:02}.py": b"x" * MAX_FILE_BYTES for n in range(10)}
    files["zz_unread.py"] = "import os; os.system('curl evil')\n"
    world.place_job(ALICE, NAME, files)
    world.notify.check()
    [root] = [m for m in world.sandbox.sent_mail(DO) if m.message["Subject"] == f"Job: {NAME}"]
    assert root.message["X-Syft-Monitor-Review"] is None
    body = str(root.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "cannot be approved by replying to this email" in body
    assert "too large to show whole" in body
    owner.reply(root.thread_id, "approve")
    report = world.tick()
    assert report.replies is not None
    assert report.replies.decisions == 0
    assert world.state_yaml(ALICE, NAME) is None
    last = str(
        world.sandbox.mail_thread(DO, root.thread_id)[-1].message.get_body(("plain",)).get_content()
    )  # type: ignore[union-attr]
    assert "cannot be approved by reply" in last
    assert "changed" not in last


def test_an_expired_history_id_loses_no_reply(world: ApproveWorld, owner: MailUser) -> None:
    baseline(world)
    thread = new_job_email(world)
    world.tick()
    owner.reply(thread, "approve")
    world.sandbox.expire_gmail_history(DO)
    report = world.tick()
    assert report.replies is not None
    assert report.replies.expired
    state = world.state_yaml(ALICE, NAME)
    assert state is not None
    assert state["status"] == "approved"
    world.tick()  # from the new baseline: idle
    assert decisions(world)[(ALICE, f"Job Approved: {NAME}")] == 1


def test_an_idle_tick_costs_one_gmail_request(world: ApproveWorld, owner: MailUser) -> None:
    baseline(world)
    new_job_email(world)
    world.tick()
    mark = world.sandbox.mark()
    world.tick()
    calls = [r.operation for r in world.sandbox.requests(mark, api="gmail", user=DO)]
    assert calls == ["history.list"]


def test_a_kill_between_the_decision_and_its_record(world: ApproveWorld, owner: MailUser) -> None:
    """The process dies right after writing the approval: nothing recorded, nothing sent."""
    baseline(world)
    thread = new_job_email(world)
    world.tick()
    state_file = world.workdir / "state.json"
    at_kill = state_file.read_bytes()  # what state holds when the approval has just been written
    owner.reply(thread, "approve")
    fault = world.sandbox.faults.add(
        FaultRule("status", api="gmail", method="messages.send", user=DO, status=400)
    )
    world.tick()  # decides; every email fails (and is kept in memory only)
    first = world.state_yaml(ALICE, NAME)
    assert first is not None
    assert first["status"] == "approved"
    world.sandbox.faults.remove(fault)
    world.monitor.stop()
    world._monitor = None
    state_file.write_bytes(at_kill)  # the kill: no record of the reply, the feed not advanced
    world.tick()
    world.tick()
    assert world.state_yaml(ALICE, NAME) == first  # no second decision
    sent = decisions(world)
    assert sent[(ALICE, f"Job Approved: {NAME}")] == 1
    assert sent[(DO, f"Re: Job: {NAME}")] == 1
    world.notify.check()
    assert decisions(world) == sent


def test_an_email_from_the_drive_message_is_approvable_once_the_job_is_on_disk(
    world: ApproveWorld, owner: MailUser
) -> None:
    """The notify service emails the job from the data scientist's message (Drive) before the
    owner's client extracted it: what the email showed is what lands on disk."""
    baseline(world)
    message_id = world.scientists[ALICE].submit_job(DO, NAME, {"main.py": MAIN_PY})
    world.notify.check()
    [root] = [m for m in world.sandbox.sent_mail(DO) if m.message["Subject"] == f"Job: {NAME}"]
    assert root.message["X-Syft-Monitor-Review"]
    decoded = decode_message(world.sandbox.content(message_id))
    assert isinstance(decoded, ProposedChangesMessage)
    for change in decoded.changes:  # what the owner's SyftBox client does
        assert change.content is not None
        target = world.syftbox / DO / change.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(change.content)
    owner.reply(root.thread_id, "approve", html_only=True)
    world.tick()
    state = world.state_yaml(ALICE, NAME)
    assert state is not None
    assert state["status"] == "approved"


def test_a_forward_to_someone_else_is_not_a_reply(world: ApproveWorld, owner: MailUser) -> None:
    baseline(world)
    thread = new_job_email(world)
    owner.reply(thread, "approve", to=BOB)  # "approve?" sent on to a colleague, in the thread
    report = world.tick()
    assert report.replies is not None
    assert report.replies.refused == 1
    assert world.state_yaml(ALICE, NAME) is None


def test_email_replies_switched_on_by_a_config_reload(world: ApproveWorld) -> None:
    world.write_config({}, top_level={"flood": {"enabled": False}})
    world.notify.check()
    assert world.tick().replies is None  # off: not a single Gmail read
    thread = new_job_email(world)
    world.write_config({"email_replies": True}, top_level={"flood": {"enabled": False}})
    report = world.tick()
    assert report.replies is not None
    assert report.replies.baseline
    service = gmail_for(world, DO)
    MailUser(DO, service).reply(thread, "approve")
    service.close()
    world.tick()
    state = world.state_yaml(ALICE, NAME)
    assert state is not None
    assert state["status"] == "approved"
