"""OutgoingEmail and its MIME form: deterministic ids, formats, threading headers, injection."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from syft_monitors.errors import InvalidEmailError, UnsafeHeaderError
from syft_monitors.notify.email import (
    KEY_HEADER,
    MAX_SUBJECT_CHARS,
    OutgoingEmail,
    checked_bytes,
    email_package_is_fixed,
    is_message_id,
    message_id_for,
    reference_token,
    to_bytes,
    to_mime,
)


def make(**overrides: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "to": "do@example.org",
        "subject": "Job: analysis",
        "text": "plain body",
        "html": "<p>html body</p>",
        "notification_key": "new_job:0123abcd:do",
    }
    fields.update(overrides)
    return OutgoingEmail.build(**fields)  # type: ignore[arg-type]


def reparse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_message_id_is_deterministic_per_key() -> None:
    first = make()
    again = make(subject="another subject", text="other")
    other = make(notification_key="new_job:0123abcd:ds")
    assert first.message_id == again.message_id == message_id_for("new_job:0123abcd:do")
    assert other.message_id != first.message_id
    assert first.message_id.endswith("@syft-monitor.local>")
    assert is_message_id(first.message_id)


def test_reference_token_is_one_search_word() -> None:
    token = reference_token("new_job:0123abcd:do")
    assert token.isalnum()
    assert token == make().reference_token
    assert token != reference_token("new_job:0123abcd:ds")


def test_key_header_is_set() -> None:
    mime = reparse(to_mime(make()))
    assert mime[KEY_HEADER] == "new_job:0123abcd:do"
    assert mime["Message-ID"] == make().message_id
    assert mime["Auto-Submitted"] == "auto-generated"
    assert mime["From"] is None


@pytest.mark.parametrize("fmt", ["html", "both"])
def test_html_and_both_are_multipart_alternative_text_first(fmt: str) -> None:
    mime = reparse(to_mime(make(), "do@example.org", fmt))  # type: ignore[arg-type]
    assert mime.get_content_type() == "multipart/alternative"
    parts = list(mime.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == "plain body"
    assert parts[1].get_content().strip() == "<p>html body</p>"
    assert mime["From"] == "do@example.org"


def test_text_format_is_a_single_plain_part() -> None:
    mime = reparse(to_mime(make(), None, "text"))
    assert mime.get_content_type() == "text/plain"
    assert not mime.is_multipart()
    assert mime.get_content().strip() == "plain body"


def test_html_format_without_html_body_is_plain() -> None:
    mime = reparse(to_mime(make(html=None), None, "html"))
    assert mime.get_content_type() == "text/plain"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        to_mime(make(), None, "markdown")  # type: ignore[arg-type]


def test_threading_headers() -> None:
    root = message_id_for("new_job:0123abcd:do")
    mime = reparse(
        to_mime(
            make(
                notification_key="job_approved:0123abcd:do",
                in_reply_to=root,
                references=(root,),
                thread_key="0123abcd",
            )
        )
    )
    assert mime["In-Reply-To"] == root
    assert mime["References"] == root


def test_in_reply_to_is_added_to_references() -> None:
    older = message_id_for("a")
    parent = message_id_for("b")
    mime = reparse(to_mime(make(in_reply_to=parent, references=(older,))))
    assert mime["References"].split() == [older, parent]


@pytest.mark.parametrize(
    "hostile",
    ["<x@y>\r\nBcc: victim@example.com", "<=?utf-8?q?a=0D=0ABcc=3A_victim=40example.com?=@x.y>"],
)
def test_unsafe_thread_ids_are_dropped(hostile: str) -> None:
    mime = to_mime(make(in_reply_to=hostile, references=(hostile, "not-an-id")))
    assert mime["In-Reply-To"] is None
    assert mime["References"] is None
    assert b"Bcc" not in mime.as_bytes()


def test_invalid_message_id_is_refused() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        OutgoingEmail(
            to="do@example.org",
            subject="s",
            text="t",
            html=None,
            message_id="<a b@c>",
            notification_key="k",
        )


@pytest.mark.parametrize(
    "subject",
    [
        "Job: x\r\nBcc: victim@example.com",
        "Job: x\nBcc: victim@example.com",
        "Job: x\rBcc: victim@example.com",
        "Job: x\x00\x0bBcc: victim@example.com",
        "Job: x\u2028Bcc: victim@example.com",
        "Job: x\u0085Bcc: victim@example.com",
    ],
)
def test_subject_cannot_inject_headers(subject: str) -> None:
    message = make(subject=subject)
    raw = to_mime(message).as_bytes()
    parsed = reparse(to_mime(message))
    assert parsed["Bcc"] is None
    assert b"\nBcc:" not in raw
    assert "\n" not in message.subject
    assert "\r" not in message.subject
    assert "Bcc: victim@example.com" in parsed["Subject"]  # kept as harmless text


@pytest.mark.parametrize(
    "address",
    ["do@example.org\r\nBcc: victim@example.com", "do@example.org\n", "<do@example.org>", ""],
)
def test_hostile_recipient_is_refused(address: str) -> None:
    with pytest.raises(InvalidEmailError):
        make(to=address)


def test_hostile_sender_address_is_refused() -> None:
    with pytest.raises(InvalidEmailError):
        to_mime(make(), "do@example.org\r\nBcc: victim@example.com")


def test_extra_headers_are_sanitised_and_cannot_replace_ours() -> None:
    message = make(headers={"X-Extra": "a\r\nBcc: victim@example.com", "To": "victim@example.com"})
    parsed = reparse(to_mime(message))
    assert parsed["X-Extra"] == "a Bcc: victim@example.com"
    assert parsed.get_all("To") == ["do@example.org"]
    assert parsed["Bcc"] is None


def test_invalid_extra_header_name_is_refused() -> None:
    with pytest.raises(ValueError, match="header name"):
        make(headers={"X-Bad\r\nBcc": "x"})


def test_subject_is_capped_with_ellipsis() -> None:
    message = make(subject="Job: " + "a" * 500)
    assert len(message.subject) == MAX_SUBJECT_CHARS
    assert message.subject.endswith("\u2026")
    parsed = reparse(to_mime(message))
    assert parsed["Subject"] == message.subject


def test_bidi_and_zero_width_characters_leave_the_subject() -> None:
    message = make(subject="Job: invoice\u202efdp.exe\u200b\ufeff")
    assert message.subject == "Job: invoicefdp.exe"


def test_non_ascii_subject_is_encoded() -> None:
    message = make(subject="Job: análisis — 数据")
    raw = to_mime(message).as_bytes()
    raw.decode("ascii")  # headers are RFC 2047 encoded, bodies transfer-encoded
    assert reparse(to_mime(message))["Subject"] == "Job: análisis — 数据"


def test_lone_surrogates_do_not_break_encoding() -> None:
    message = make(subject="Job: bad\udcff", text="body \udcff")
    assert "\ufffd" in message.subject
    assert "body ?" in reparse(to_mime(message, None, "text")).get_content()


def test_to_bytes_reads_back_what_was_set() -> None:
    message = make(subject="Job: =?utf-8?q?a=0D=0ABcc=3A_m=40evil.example?=")
    raw = to_bytes(message, "do@example.org")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Job: = ?utf-8?q?a=0D=0ABcc=3A_m=40evil.example?="
    assert parsed.get_all("Bcc") is None
    assert parsed[KEY_HEADER] == message.notification_key


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # What sanitising prevents, set behind its back: the check alone must refuse it, on an
        # interpreter with or without the CVE-2024-6923 fix (which raises or encodes instead).
        ("Subject", "=?utf-8?q?a=0D=0ABcc=3A_m=40evil.example?="),
        ("X-Extra", "=?utf-8?b?YQ0KQmNjOiBtQGV2aWwuZXhhbXBsZQ0KDQpib2R5?="),
        ("Subject", "not the subject the email was planned with"),
    ],
)
def test_headers_that_do_not_read_back_are_refused(name: str, value: str) -> None:
    message = make()
    mime = to_mime(message)
    del mime[name]
    mime[name] = value
    with pytest.raises(UnsafeHeaderError, match=r"not sent|cannot be written"):
        checked_bytes(mime, message)


def test_the_interpreter_probe_agrees_with_the_fix_marker() -> None:
    # The fix (3.11.10, 3.12.5, distribution backports) added `verify_generated_headers`; the
    # probe judges by behaviour, and on the CPython 3.11.7 here it must see the injection.
    assert email_package_is_fixed() == hasattr(email.policy.compat32, "verify_generated_headers")
