"""HTML bodies escape every user string; text bodies keep them inert and visible."""

from __future__ import annotations

import jinja2
import pytest

from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.notify.email import OutgoingEmail
from syft_monitors.notify.plan import NotifyConfig, ThreadInfo, plan_notifications
from syft_monitors.notify.render import Renderer, format_interval, format_when, make_environment

DO = "owner@datasite.org"
DS = "scientist@uni.edu"
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "report\u202egnp.exe",
    "a\u2066b\u2069c\u200fd",
]
THREAD = ThreadInfo(message_id="<root@syft-monitor.local>")


def every_job_email(value: str) -> list[OutgoingEmail]:
    job = JobRef(datasite=DO, submitter=DS, name=value)
    details = JobDetails(
        files={value: "0" * 64},
        code={value: value.encode(), "ok.py": f"# {value}\n".encode()},
        approved_by=value,
        approval_method=value,
        return_code=1,
        stderr_tail=value,
        reason=value,
        submitted_at=value,
    )
    emails: list[OutgoingEmail] = []
    for kind in EventKind:
        if kind.is_job:
            event = Event(kind=kind, do_email=DO, job=job, details=details)
            # The submitter's failure email with stderr shared: every hostile field rendered.
            config = NotifyConfig(share_stderr_with_ds=True)
            emails += plan_notifications(event, config=config, thread=THREAD)
    return emails


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_are_escaped_in_html(value: str) -> None:
    emails = every_job_email(value)
    assert len(emails) == 11
    for email in emails:
        assert email.html is not None
        assert "<script>" not in email.html
        assert "<img" not in email.html
        assert "onerror=alert(1)>" not in email.html


@pytest.mark.parametrize("value", HOSTILE)
def test_invisible_controls_never_reach_a_body(value: str) -> None:
    for email in every_job_email(value):
        for body in (email.text, email.html or ""):
            assert not any(ch in body for ch in "\u202e\u2066\u2069\u200f")
    emails = every_job_email("report\u202egnp.exe")
    assert "report[U+202E]gnp.exe" in emails[0].text
    assert "report[U+202E]gnp.exe" in (emails[0].html or "")


def test_script_text_is_visible_in_html_as_text() -> None:
    html = every_job_email("<script>alert(1)</script>")[0].html or ""
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_peer_addresses_are_escaped() -> None:
    # Events carry addresses the protocol layer validated, but the templates must not rely on it.
    event = Event(kind=EventKind.NEW_PEER, do_email=DO, peer='x"><b>@evil.org')
    emails = plan_notifications(event, config=NotifyConfig())
    assert [e.to for e in emails] == [DO]
    assert "<b>" not in (emails[0].html or "")
    assert "&lt;b&gt;" in (emails[0].html or "")


def test_text_templates_do_not_escape() -> None:
    text = every_job_email("a < b & c")[0].text
    assert "a < b & c" in text
    assert "&lt;" not in text


def test_autoescape_by_extension() -> None:
    env = make_environment()
    assert env.get_template("new_job_do.html.j2").environment.autoescape
    html = env.from_string("{{ v }}").render(v="<b>")
    assert html == "&lt;b&gt;"  # strings default to escaping too


def test_context_strings_are_cleaned_even_if_the_caller_forgot() -> None:
    body = Renderer().render(
        "new_peer_ds",
        {
            "title": "t\u202e",
            "account": "a",
            "reference": "r",
            "do_email": "evil\x1b[2J\u202e@x.org",
            "ds_email": "s",
        },
    )
    assert "\x1b" not in body.text
    assert "\u202e" not in body.text
    assert "[U+202E]" in body.text
    assert body.html is not None
    assert "\u202e" not in body.html


def test_missing_context_fails_loudly() -> None:
    with pytest.raises(jinja2.UndefinedError):
        Renderer().render("new_peer_ds", {})


def test_broken_html_template_falls_back_to_text() -> None:
    env = make_environment()
    env.loader = jinja2.DictLoader(
        {"x.txt.j2": "hello {{ name }}", "x.html.j2": "{{ name.missing.attr }}"}
    )
    body = Renderer(env).render("x", {"name": "n"})
    assert body.text == "hello n\n"
    assert body.html is None


def test_filters() -> None:
    assert format_when("2026-05-14T09:30:00Z") == "May 14, 2026 at 09:30 UTC"
    assert format_when("2026-05-14T11:30:00+02:00") == "May 14, 2026 at 09:30 UTC"
    assert format_when("yesterday\u202e") == "yesterday[U+202E]"
    assert format_interval(86400 * 2) == "2d"
    assert format_interval(0) == "0s"
    assert format_interval("x") == "0s"
