"""The reply grammar: the first line the owner wrote, never what the reply quotes."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syft_monitors.approve.reply_commands import (
    MAX_REASON_CHARS,
    CommandKind,
    html_to_text,
    parse_command,
    parse_reply,
)

A, D, AA, U, E = (
    CommandKind.APPROVE,
    CommandKind.DENY,
    CommandKind.AUTO_APPROVE,
    CommandKind.UNKNOWN,
    CommandKind.EMPTY,
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("approve", A),
        ("Approve.", A),
        ("  APPROVE!  \n", A),
        ("\n\n approve \nthanks", A),
        ("auto-approve", AA),
        ("Auto approve", AA),
        ("AUTOAPPROVE.", AA),
        ("deny", D),
        ("Deny.", D),
        # Upstream's prefix match approved these; a human meant something else.
        ("approved?", U),
        ("approve only if the query is aggregated", U),
        ("approves", U),
        ("do not approve", U),
        ("denying", U),
        ("auto-approved", U),
        ("yes", U),
        ("", E),
        ("   \n\n", E),
    ],
)
def test_commands_are_whole_words(text: str, kind: CommandKind) -> None:
    assert parse_command(text).kind is kind


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("deny too broad", "too broad"),
        ("Deny: uses the raw table", "uses the raw table"),
        ("deny - not now", "not now"),
        ("deny\nThe query reads every row.\nPlease aggregate.\n\nthanks", None),
        ("deny", None),
    ],
)
def test_deny_reason(text: str, reason: str | None) -> None:
    command = parse_command(text)
    assert command.kind is D
    if text.startswith("deny\nThe"):
        assert command.reason == "The query reads every row. Please aggregate."
    else:
        assert command.reason == reason


def test_a_long_reason_is_cut() -> None:
    command = parse_command("deny " + "x" * 2000)
    assert command.reason is not None
    assert len(command.reason) == MAX_REASON_CHARS


QUOTES = {
    "gmail": "On Mon, Jan 29, 2024 at 2:30 PM Owner <owner@x.org> wrote:\n> New job\n> approve",
    "gmail-wrapped": "On Thu, 6 Feb 2025 at 23:23, John Doe <\njohn@x.org> wrote:\n> approve",
    "gmail-wrapped-2": "On Thu, 6 Feb 2025 at 23:23, John Doe <john@x.org>\nwrote:\n\n> approve",
    "french": "Le lun. 1 janv. 2026 à 10:00, Owner <o@x.org> a écrit :\n> approve",
    "german": "Am Mo., 1. Jan. 2026 um 10:00 Uhr schrieb Owner <o@x.org>:\n> approve",
    "spanish": "El lun, 1 ene 2026 a las 10:00, Owner (<o@x.org>) escribió:\n> approve",
    "italian": "Il giorno lun 1 gen 2026 alle ore 10:00 Owner <o@x.org> ha scritto:\n> approve",
    "portuguese": "Em seg., 1 de jan. de 2026 às 10:00, Owner <o@x.org> escreveu:\n> approve",
    "dutch": "Op ma 1 jan 2026 om 10:00 schreef Owner <o@x.org>:\n> approve",
    "chinese": "Owner <o@x.org> 于2026年1月1日周一 10:00写道：\n> approve",
    "outlook": "________________________________\nFrom: Owner <o@x.org>\nSent: Monday\n"
    "To: Owner\nSubject: Job: census\n\napprove",
    "outlook-plain": "From: Owner <o@x.org>\nSent: Monday, January 1, 2026 10:00 AM\n"
    "To: o@x.org\n\napprove",
    "original": "-----Original Message-----\nFrom: Owner\napprove",
    "forward": "---------- Forwarded message ---------\nFrom: Owner\napprove",
    "apple-forward": "Begin forwarded message:\n\nFrom: Owner\napprove",
    "signature": "-- \nDr. Owner\napprove",
    "iphone": "Sent from my iPhone\n\n> approve",
}


@pytest.mark.parametrize("style", sorted(QUOTES))
def test_quoted_text_never_counts(style: str) -> None:
    quote = QUOTES[style]
    assert parse_command(quote).kind is E
    denied = parse_command(f"deny not this one\n\n{quote}")
    assert (denied.kind, denied.reason) == (D, "not this one")
    assert parse_command(f"Deny\n\n{quote}").reason is None


def test_the_reason_stops_at_the_quote() -> None:
    command = parse_command("deny\nToo broad.\nOn Mon, 1 Jan 2026, Owner <o@x.org> wrote:\n> hi")
    assert command.reason == "Too broad."


def html_mail(html: str) -> EmailMessage:
    mail = EmailMessage()
    mail.set_content(html, subtype="html")
    return mail


@pytest.mark.parametrize(
    ("html", "kind"),
    [
        (
            '<div dir="ltr">Approve</div><br><div class="gmail_quote gmail_quote_container">'
            '<div class="gmail_attr">On Mon, Owner wrote:</div><blockquote class="gmail_quote">'
            "deny</blockquote></div>",
            A,
        ),
        ('<div>deny&nbsp;too broad</div><blockquote type="cite">approve</blockquote>', D),
        (
            "<html><head><style>p{}</style></head><body><p>auto-approve</p><hr>"
            '<div id="divRplyFwdMsg"><b>From:</b> Owner</div>approve</body></html>',
            AA,
        ),
        ('<div style="border:none;border-top:solid #E1E1E1 1.0pt">approve</div>', E),
    ],
)
def test_html_only_replies(html: str, kind: CommandKind) -> None:
    assert parse_reply(html_mail(html)).kind is kind


def test_plain_text_is_preferred_to_html() -> None:
    mail = EmailMessage()
    mail.set_content("deny because\n")
    mail.add_alternative("<div>approve</div>", subtype="html")
    assert parse_reply(mail).kind is D


def test_html_to_text_keeps_line_breaks() -> None:
    assert html_to_text("<div>deny</div><div>too broad</div>").split() == ["deny", "too", "broad"]


# --- properties -----------------------------------------------------------------------------

commands = st.sampled_from(["approve", "Approve.", "auto-approve", "deny", "deny too broad", "x"])
quoted_words = st.text(
    st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ),
    max_size=200,
)
attributions = st.sampled_from(
    [QUOTES[s].split("\n>")[0] for s in ("gmail", "french", "german", "spanish", "chinese")]
)


@settings(max_examples=300, deadline=None)
@given(commands, attributions, st.lists(quoted_words, max_size=8))
def test_anything_quoted_below_the_command_changes_nothing(
    command: str, attribution: str, quoted: list[str]
) -> None:
    body = "\n".join(f"> {line}" for text in quoted for line in text.split("\n"))
    alone = parse_command(command)
    assert parse_command(f"{command}\n\n{attribution}\n{body}") == alone
    assert parse_command(f"{command}\r\n> {body}") == alone


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_parses_to_one_bounded_line(text: str) -> None:
    command = parse_command(text)
    assert "\n" not in command.line
    assert len(command.line) <= 200
    assert command.reason is None or len(command.reason) <= MAX_REASON_CHARS
    if command.kind is CommandKind.APPROVE:
        assert command.line.lower().rstrip(".!") == "approve"
