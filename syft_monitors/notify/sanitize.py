"""Cleaning untrusted strings before they reach an email header or body.

Job names, file names, code, stderr and rejection reasons come from data scientists, i.e. from
anyone who can write to the data owner's Drive. Three rules follow:

* Headers are one line: control characters (CR, LF, TAB, NUL, ...) and line/paragraph separators
  become spaces, invisible format characters (bidi overrides, zero-width joiners, BOM) disappear,
  and the result is capped. Header injection is impossible because no line break survives.
  Nor can one be decoded into a header later: an RFC 2047 encoded word (``=?utf-8?q?...?=``)
  gets a space after its ``=`` (see `neutralize_encoded_words`).
* Bodies keep the text readable but make tricks visible: bidi controls and other invisible format
  characters are shown as ``[U+202E]`` so a reviewer sees a "Trojan Source" attempt instead of
  being fooled by it; other control characters (terminal escapes) are dropped.
* Lone surrogates (undecodable file names) become U+FFFD so encoding never fails later.

HTML escaping is not done here: the jinja2 environment autoescapes every HTML template.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "\u2026"

_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_SPACES_RE = re.compile(r"\s+")
#: What starts an RFC 2047 encoded word; nothing else makes the email package decode a header.
ENCODED_WORD_START = "=?"


def _category(ch: str) -> str:
    return unicodedata.category(ch)


def visible_marker(ch: str) -> str:
    """How an invisible character is shown in a body: ``[U+202E]``."""
    return f"[U+{ord(ch):04X}]"


def sanitize_header(value: str, *, limit: int = 200) -> str:
    """One clean line for an email header, at most `limit` characters (ellipsis included)."""
    out: list[str] = []
    for ch in value:
        cat = _category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif cat == "Cf":
            continue
        elif cat == "Cs":
            out.append("\ufffd")
        else:
            out.append(ch)
    text = _SPACES_RE.sub(" ", "".join(out)).strip()
    # After the removals above: "=\u200b?" must not turn into an opener that stays.
    return truncate(neutralize_encoded_words(text), limit)


def neutralize_encoded_words(text: str) -> str:
    """`text` with every ``=?`` written ``= ?``, so no part of it is an RFC 2047 encoded word.

    CPython before 3.11.10 and 3.12.5 (CVE-2024-6923) decodes an encoded word while serialising
    a header and writes what it decodes to as raw header text, CR LF included: a job named
    ``=?utf-8?q?x=0D=0ABcc=3A_m=40evil.example?=`` would give the email a Bcc recipient. An
    encoded word cannot contain a space, so one space defeats it on every interpreter and in
    every mail client, stays readable, and cannot create a new ``=?`` (idempotent).
    """
    return text.replace(ENCODED_WORD_START, "= ?")


def clean_line(value: str, *, limit: int = 500) -> str:
    """A user string shown inline in a body (job name, file name, address)."""
    if value.isprintable():
        return truncate(value.strip(), limit)
    out: list[str] = []
    for ch in value:
        cat = _category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif cat == "Cf":
            out.append(visible_marker(ch))
        elif cat == "Cs":
            out.append("\ufffd")
        else:
            out.append(ch)
    return truncate("".join(out).strip(), limit)


def clean_block(value: str) -> str:
    """Multi-line user text (code, stderr, reasons): keeps newlines and tabs, shows the tricks."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text  # the common case, decided at C speed
    text = _ANSI_RE.sub("", text)
    out: list[str] = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
            continue
        cat = _category(ch)
        if cat in ("Zl", "Zp"):
            out.append("\n")
        elif cat == "Cc":
            continue
        elif cat == "Cf":
            out.append(visible_marker(ch))
        elif cat == "Cs":
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the last one an ellipsis when something was cut."""
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS
