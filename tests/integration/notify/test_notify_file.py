"""FileSender: .eml files, atomic, private."""

from __future__ import annotations

import email
import email.policy
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syft_monitors.errors import SendError
from syft_monitors.events import Event, EventKind, JobRef
from syft_monitors.notify.email import OutgoingEmail
from syft_monitors.notify.plan import NotifyConfig, plan_notifications
from syft_monitors.notify.senders.file import FileSender

FIXED = datetime(2026, 5, 14, 9, 30, 1, 123456, tzinfo=UTC)


def planned() -> list[OutgoingEmail]:
    job = JobRef("owner@datasite.org", "scientist@uni.edu", "analysis")
    event = Event(kind=EventKind.NEW_JOB, do_email="owner@datasite.org", job=job)
    return plan_notifications(event, config=NotifyConfig())


def test_writes_private_eml_files(tmp_path: Path) -> None:
    folder = tmp_path / "outbox" / "mail"
    sender = FileSender(folder, clock=lambda: FIXED)
    do_email, ds_email = planned()
    result = sender.send(do_email)
    sender.send(ds_email)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == sorted(
        f"20260514T093001123456Z-{e.notification_key.replace(':', '_')}.eml"
        for e in (do_email, ds_email)
    )
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert result.provider_id is not None
    assert (folder / result.provider_id).exists()
    assert result.message_id == do_email.message_id
    parsed = email.message_from_bytes(
        (folder / result.provider_id).read_bytes(), policy=email.policy.default
    )
    assert parsed["Message-ID"] == do_email.message_id
    assert parsed["To"] == "owner@datasite.org"
    assert parsed["Subject"] == "Job: analysis"
    assert parsed.get_content_type() == "multipart/alternative"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_text_format_and_sender_address(tmp_path: Path) -> None:
    sender = FileSender(tmp_path, email_format="text", sender_address="owner@datasite.org")
    result = sender.send(planned()[0])
    assert result.provider_id is not None
    parsed = email.message_from_bytes(
        (tmp_path / result.provider_id).read_bytes(), policy=email.policy.default
    )
    assert parsed.get_content_type() == "text/plain"
    assert parsed["From"] == "owner@datasite.org"


def test_find_sent_is_not_supported(tmp_path: Path) -> None:
    sender = FileSender(tmp_path)
    message = planned()[0]
    sender.send(message)
    assert sender.find_sent(message) is None
    assert FileSender.exactly_once is False


def test_hostile_key_cannot_escape_the_folder(tmp_path: Path) -> None:
    message = OutgoingEmail.build(
        to="owner@datasite.org",
        subject="s",
        text="t",
        html=None,
        notification_key="../../etc/passwd:x",
    )
    folder = tmp_path / "mail"
    result = FileSender(folder).send(message)
    assert result.provider_id is not None
    assert "/" not in result.provider_id
    assert [p.parent for p in folder.iterdir()] == [folder]


def test_unwritable_folder_is_a_send_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SendError, match="mail folder"):
        FileSender(blocker / "mail").send(planned()[0])


def test_seed_api(tmp_path: Path) -> None:
    sender = FileSender(tmp_path)
    assert sender.send_notification("scientist@uni.edu", "Hello", "text", "<p>html</p>")
    assert sender.send_notification("scientist@uni.edu", "Hello", "text")  # a second, distinct one
    assert len(list(tmp_path.iterdir())) == 2
    assert not sender.send_notification("not-an-address", "Hello", "text")
