"""The notification catalogue: recipients, subjects, toggles and threading for every event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from syft_monitors.errors import InvalidEmailError
from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.notify.email import message_id_for
from syft_monitors.notify.plan import (
    HEARTBEAT_SUBJECT,
    NotifyConfig,
    ThreadInfo,
    plan_heartbeat,
    plan_notifications,
    rejection_text,
)

DO = "owner@datasite.org"
DS = "scientist@uni.edu"
JOB = JobRef(datasite=DO, submitter=DS, name="analysis")
ALL_ON = NotifyConfig()
THREAD = ThreadInfo(message_id=message_id_for(f"new_job:{JOB.key}:do"), thread_id="thr-1")


def job_event(kind: EventKind, **details: object) -> Event:
    return Event(kind=kind, do_email=DO, job=JOB, details=JobDetails(**details))  # type: ignore[arg-type]


def peer_event(kind: EventKind, peer: str = DS) -> Event:
    return Event(kind=kind, do_email=DO, peer=peer)


def summary(emails: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(e.to, e.subject) for e in emails]


CATALOGUE = [
    (EventKind.NEW_JOB, [(DO, "Job: analysis"), (DS, "Job Submitted: analysis")]),
    (EventKind.JOB_APPROVED, [(DO, "Re: Job: analysis"), (DS, "Job Approved: analysis")]),
    (EventKind.JOB_EXECUTED, [(DO, "Re: Job: analysis"), (DS, "Job Completed: analysis")]),
    (EventKind.JOB_FAILED, [(DO, "Re: Job: analysis"), (DS, "Job Failed: analysis")]),
    (EventKind.JOB_REJECTED, [(DO, "Re: Job: analysis"), (DS, "Job Not Approved: analysis")]),
    (EventKind.JOB_RUNNING, []),
]


@pytest.mark.parametrize(("kind", "expected"), CATALOGUE)
def test_job_catalogue_with_thread(kind: EventKind, expected: list[tuple[str, str]]) -> None:
    thread = None if kind is EventKind.NEW_JOB else THREAD
    emails = plan_notifications(job_event(kind), config=ALL_ON, thread=thread)
    assert summary(emails) == expected
    roles = ["do", "ds"][: len(emails)]
    assert [e.notification_key for e in emails] == [f"{kind.value}:{JOB.key}:{r}" for r in roles]


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        (EventKind.JOB_APPROVED, "Job: analysis"),
        (EventKind.JOB_EXECUTED, "Job: analysis"),
        (EventKind.JOB_REJECTED, "Job: analysis"),
        (EventKind.JOB_FAILED, "Job Failed: analysis"),
    ],
)
def test_do_status_without_thread_stands_alone(kind: EventKind, subject: str) -> None:
    do_email = plan_notifications(job_event(kind), config=ALL_ON, thread=None)[0]
    assert do_email.to == DO
    assert do_email.subject == subject
    assert do_email.in_reply_to is None
    assert do_email.references == ()
    assert do_email.thread_key == JOB.key


def test_new_job_starts_the_thread() -> None:
    do_email, ds_email = plan_notifications(job_event(EventKind.NEW_JOB), config=ALL_ON)
    assert do_email.thread_key == JOB.key
    assert do_email.in_reply_to is None
    assert do_email.message_id == message_id_for(f"new_job:{JOB.key}:do")
    assert ds_email.thread_key is None


@pytest.mark.parametrize(
    "kind", [EventKind.JOB_APPROVED, EventKind.JOB_EXECUTED, EventKind.JOB_FAILED]
)
def test_do_replies_carry_threading_headers(kind: EventKind) -> None:
    emails = plan_notifications(job_event(kind), config=ALL_ON, thread=THREAD)
    do_email = emails[0]
    assert do_email.in_reply_to == THREAD.message_id
    assert do_email.references == (THREAD.message_id,)
    assert do_email.thread_key == JOB.key
    for ds_email in emails[1:]:
        assert ds_email.in_reply_to is None
        assert ds_email.thread_key is None


def test_peer_catalogue() -> None:
    new_peer = plan_notifications(peer_event(EventKind.NEW_PEER), config=ALL_ON)
    assert summary(new_peer) == [
        (DO, f"New Peer Request from {DS}"),
        (DS, f"Peer Request Sent to {DO}"),
    ]
    granted = plan_notifications(peer_event(EventKind.PEER_GRANTED), config=ALL_ON)
    assert summary(granted) == [(DS, f"Peer Request Accepted: {DO}")]
    assert all(e.thread_key is None and e.in_reply_to is None for e in new_peer + granted)
    assert granted[0].notification_key.startswith("peer_granted:")


TOGGLES = [
    ("notify_on_new_job", job_event(EventKind.NEW_JOB)),
    ("notify_on_approved", job_event(EventKind.JOB_APPROVED)),
    ("notify_on_executed", job_event(EventKind.JOB_EXECUTED)),
    ("notify_on_failed", job_event(EventKind.JOB_FAILED)),
    ("notify_on_rejected", job_event(EventKind.JOB_REJECTED)),
    ("notify_on_new_peer", peer_event(EventKind.NEW_PEER)),
    ("notify_on_peer_granted", peer_event(EventKind.PEER_GRANTED)),
]


@pytest.mark.parametrize(("toggle", "event"), TOGGLES, ids=[t for t, _ in TOGGLES])
def test_each_toggle_silences_only_its_event(toggle: str, event: Event) -> None:
    off = NotifyConfig.model_validate({toggle: False})
    assert plan_notifications(event, config=off, thread=THREAD) == []
    assert plan_notifications(event, config=ALL_ON, thread=THREAD) != []
    for other_toggle, other in TOGGLES:
        if other_toggle != toggle:
            assert plan_notifications(other, config=off, thread=THREAD) != []


def test_every_kind_is_handled() -> None:
    for kind in EventKind:
        event = job_event(kind) if kind.is_job else peer_event(kind)
        plan_notifications(event, config=ALL_ON, thread=THREAD)  # no KeyError, no crash


def test_config_defaults_and_validation() -> None:
    config = NotifyConfig()
    assert config.email_format == "html"
    assert config.heartbeat_enabled is False
    assert config.heartbeat_interval == 86400
    assert (
        NotifyConfig.model_validate({"notify_on_job_approved": False}).notify_on_approved is False
    )
    with pytest.raises(ValidationError):
        NotifyConfig.model_validate({"notify_on_aproved": False})
    with pytest.raises(ValidationError):
        NotifyConfig.model_validate({"email_format": "markdown"})
    with pytest.raises(ValidationError):
        config.notify_on_new_job = False


def test_text_format_plans_no_html() -> None:
    config = NotifyConfig(email_format="text")
    emails = plan_notifications(job_event(EventKind.NEW_JOB), config=config)
    assert emails
    assert all(e.html is None for e in emails)
    assert all(e.html for e in plan_notifications(job_event(EventKind.NEW_JOB), config=ALL_ON))


def test_approval_names_who_and_how() -> None:
    manual = job_event(EventKind.JOB_APPROVED, approved_by=DO, approval_method="manual")
    do_email = plan_notifications(manual, config=ALL_ON, thread=THREAD)[0]
    assert f"Job approved by {DO} (manual)." in do_email.text
    assert "auto-approved" not in do_email.text.lower()
    unknown = plan_notifications(job_event(EventKind.JOB_APPROVED), config=ALL_ON, thread=THREAD)
    assert "Job approved." in unknown[0].text


def test_failure_reports_return_code_and_stderr_tail() -> None:
    event = job_event(EventKind.JOB_FAILED, return_code=2, stderr_tail="Traceback\nValueError: x")
    do_email, _ds_email = plan_notifications(event, config=ALL_ON, thread=THREAD)
    assert "return code 2" in do_email.text
    assert "ValueError: x" in do_email.text
    assert "only the last" not in do_email.text
    assert do_email.html is not None
    assert "ValueError: x" in do_email.html


def test_long_stderr_is_cut_with_a_note() -> None:
    stderr = "first line\n" + "x" * (60 * 1024) + "\nlast line"
    event = job_event(EventKind.JOB_FAILED, return_code=1, stderr_tail=stderr)
    do_email, _ds_email = plan_notifications(event, config=ALL_ON, thread=THREAD)
    assert "last line" in do_email.text
    assert "first line" not in do_email.text
    assert "only the last 50.0 KB of 60.0 KB" in do_email.text


def test_rejection_tells_the_scientist_why() -> None:
    event = job_event(EventKind.JOB_REJECTED, reason="hash mismatch on main.py")
    do_email, ds_email = plan_notifications(event, config=ALL_ON, thread=THREAD)
    assert "differs from the version the data owner approved" in ds_email.text
    assert "hash mismatch on main.py" in ds_email.text
    assert "Reason: hash mismatch on main.py" in do_email.text


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (None, "did not give a reason"),
        ("  ", "did not give a reason"),
        ("Unknown peer x@y.z", "not accepted you as a peer"),
        ("unapproved file data.py", "not approved to run"),
        ("No Python files", "no Python file"),
        ("too big", "Your job was not approved: too big"),
    ],
)
def test_rejection_texts(reason: str | None, expected: str) -> None:
    assert expected in rejection_text(reason)


def test_invalid_scientist_address_skips_only_that_email() -> None:
    job = JobRef(datasite=DO, submitter="not an address\r\nBcc: x@y.z", name="analysis")
    event = Event(kind=EventKind.NEW_JOB, do_email=DO, job=job)
    emails = plan_notifications(event, config=ALL_ON)
    assert [e.to for e in emails] == [DO]
    assert "\n" not in emails[0].text.split("From:")[1].split("\n")[0]


def test_long_job_names_keep_reply_subjects_matching() -> None:
    job = JobRef(datasite=DO, submitter=DS, name="n" * 400)
    first = plan_notifications(Event(kind=EventKind.NEW_JOB, do_email=DO, job=job), config=ALL_ON)
    reply = plan_notifications(
        Event(kind=EventKind.JOB_EXECUTED, do_email=DO, job=job), config=ALL_ON, thread=THREAD
    )
    assert reply[0].subject == "Re: " + first[0].subject
    assert len(reply[0].subject) <= 200


def test_keys_and_ids_are_stable_across_plans() -> None:
    one = plan_notifications(job_event(EventKind.NEW_JOB), config=ALL_ON)
    two = plan_notifications(job_event(EventKind.NEW_JOB), config=ALL_ON)
    assert [e.message_id for e in one] == [e.message_id for e in two]
    assert len({e.message_id for e in one}) == 2


def test_heartbeat() -> None:
    now = datetime(2026, 5, 14, 9, 30, tzinfo=UTC)
    beat = plan_heartbeat(DO, 86400, now)
    assert beat.subject == HEARTBEAT_SUBJECT == "heartbeat: syft-bg still running, token is active"
    assert beat.to == DO
    assert "2026-05-14 09:30:00 UTC" in beat.text
    assert "Next heartbeat in: 1d" in beat.text
    assert "syft-bg status" in beat.text
    assert beat.thread_key is None
    same = plan_heartbeat(DO, 86400, now.astimezone(timezone(timedelta(hours=2))))
    assert same.message_id == beat.message_id
    assert plan_heartbeat(DO, 86400, now + timedelta(days=1)).message_id != beat.message_id


@pytest.mark.parametrize(
    ("seconds", "shown"), [(86400, "1d"), (7200, "2h"), (300, "5m"), (90, "90s")]
)
def test_heartbeat_interval_is_compact(seconds: int, shown: str) -> None:
    beat = plan_heartbeat(DO, seconds, datetime(2026, 1, 1, tzinfo=UTC))
    assert f"Next heartbeat in: {shown}" in beat.text


def test_heartbeat_needs_a_valid_owner() -> None:
    with pytest.raises(InvalidEmailError):
        plan_heartbeat("nobody", 86400, datetime(2026, 1, 1, tzinfo=UTC))


def test_the_scientist_is_told_their_job_failed_without_the_owners_stderr() -> None:
    event = job_event(EventKind.JOB_FAILED, return_code=3, stderr_tail="/home/owner/secret.csv")
    _do_email, ds_email = plan_notifications(event, config=ALL_ON, thread=THREAD)
    assert ds_email.to == DS
    assert ds_email.subject == "Job Failed: analysis"
    assert "It stopped with exit code 3." in ds_email.text
    assert "Status:     Failed" in ds_email.text
    assert "secret.csv" not in ds_email.text
    assert ds_email.html is not None
    assert "secret.csv" not in ds_email.html
    assert "stays with the data owner" in ds_email.text


def test_the_owner_may_share_stderr_with_the_scientist() -> None:
    event = job_event(EventKind.JOB_FAILED, return_code=1, stderr_tail="ValueError: bad column")
    config = NotifyConfig(share_stderr_with_ds=True)
    _do_email, ds_email = plan_notifications(event, config=config, thread=THREAD)
    assert "ValueError: bad column" in ds_email.text
    assert ds_email.html is not None
    assert "ValueError: bad column" in ds_email.html


def test_failure_email_to_the_scientist_has_its_toggle() -> None:
    event = job_event(EventKind.JOB_FAILED, return_code=1)
    off = NotifyConfig(notify_ds_on_failed=False)
    assert summary(plan_notifications(event, config=off, thread=THREAD)) == [
        (DO, "Re: Job: analysis")
    ]


def test_the_owner_is_told_when_a_rule_accepted_a_peer() -> None:
    event = Event(
        kind=EventKind.PEER_GRANTED,
        do_email=DO,
        peer=DS,
        details=JobDetails(reason="its domain uni.edu is in approved_domains"),
        source="approve",
    )
    do_email, ds_email = plan_notifications(event, config=ALL_ON)
    assert (do_email.to, do_email.subject) == (DO, f"Peer Accepted Automatically: {DS}")
    assert "because its domain uni.edu is in approved_domains" in do_email.text
    assert f"syft-bg remove-peer {DS}" in do_email.text
    assert (ds_email.to, ds_email.subject) == (DS, f"Peer Request Accepted: {DO}")
    # Each has its own toggle; a peer accepted by the owner themselves gets no owner email.
    only_ds = NotifyConfig(notify_on_peer_accepted_by_rule=False)
    assert summary(plan_notifications(event, config=only_ds)) == [(DS, ds_email.subject)]
    only_do = NotifyConfig(notify_on_peer_granted=False)
    assert summary(plan_notifications(event, config=only_do)) == [(DO, do_email.subject)]
    by_owner = peer_event(EventKind.PEER_GRANTED)
    assert summary(plan_notifications(by_owner, config=ALL_ON)) == [(DS, ds_email.subject)]
