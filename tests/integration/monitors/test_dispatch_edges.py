"""Sending edges: no Sent-mail settle wait after a send that certainly did not leave, and log
lines that say which job and which peer an email is about (never a token)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from syft_monitors import JobMonitor
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DemoWorld


def test_missing_gmail_token_does_not_wait_for_sent_mail_to_settle(
    world: DemoWorld, tmp_path: Path
) -> None:
    gmail_token = tmp_path / "later" / "gmail_token.json"
    monitor = JobMonitor(
        None,
        DO_EMAIL,
        GmailSender(gmail_token, api_root=world.server.url),
        JsonStateManager(tmp_path / "state.json"),
        {},
        world.token_files[DO_EMAIL],
        google_api_root=world.server.url,
    )
    monitor.check()  # baseline
    world.scientists[DS_ALICE].request_peer(DO_EMAIL)
    world.scientists[DS_ALICE].submit_job(DO_EMAIL, "row count", {"main.py": "print(1)\n"})
    monitor.check()
    assert world.sandbox.sent_mail(DO_EMAIL) == []
    assert "re-authorize" in (monitor._last_error or "")
    state = json.loads((tmp_path / "state.json").read_text())
    assert state.get("intents", {}) == {}, "a send that never left is not pending"

    gmail_token.parent.mkdir()
    shutil.copy(world.token_files[DO_EMAIL], gmail_token)
    monitor.check()  # right away: no 60 s wait for an email that cannot be in Sent mail
    subjects = [str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO_EMAIL)]
    assert "Job: row count" in subjects
    monitor.stop()


def test_log_lines_name_the_job_and_the_peer_and_no_token(
    world: DemoWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.poll()  # baseline
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    alice.submit_job(DO_EMAIL, "row count", {"main.py": "print(1)\n"})
    with caplog.at_level(logging.INFO, logger="syft_monitors"):
        world.poll()
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sent ")]
    assert f"sent new_peer email about peer {DS_ALICE} to the data owner" in sent, sent
    # The job's name quoted (and made printable: a hostile name cannot forge a log line).
    assert f"sent new_job email about job 'row count' from {DS_ALICE} to the data owner" in sent
    assert f"sent new_job email about job 'row count' from {DS_ALICE} to the data scientist" in (
        sent
    )
    token = json.loads(world.token_files[DO_EMAIL].read_text())
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (token["token"], token["refresh_token"]):
        assert secret not in everything


def test_the_scientist_hears_their_job_failed_without_the_owners_stderr(
    world: DemoWorld,
) -> None:
    world.poll()  # baseline
    alice = world.scientists[DS_ALICE]
    alice.request_peer(DO_EMAIL)
    alice.submit_job(DO_EMAIL, "row count", {"main.py": "print(1)\n"})
    world.poll()
    world.owner.set_status(DS_ALICE, "row count", "failed", return_code=2, stderr="/srv/x.csv")
    sent = world.poll()
    (failed,) = [m for m in sent if m.to == DS_ALICE and m.subject == "Job Failed: row count"]
    message = failed.record.message
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "It stopped with exit code 2." in text
    assert "/srv/x.csv" not in message.as_string()
    assert "/srv/x.csv" not in text
    # The owner still gets the whole story in the job's thread.
    assert any(m.to == DO_EMAIL and m.subject == "Re: Job: row count" for m in sent)
