"""The three cleaners for untrusted text."""

from __future__ import annotations

import pytest

from syft_monitors.notify.sanitize import (
    clean_block,
    clean_line,
    neutralize_encoded_words,
    sanitize_header,
    truncate,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\r\nb", "a b"),
        ("a\x00b\x7fc", "a b c"),
        ("  spaced\t\tout  ", "spaced out"),
        ("rtl\u202eoverride", "rtloverride"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("sep\u2028line\u2029para", "sep line para"),
        ("lone\udc80", "lone\ufffd"),
        ("naïve 数据 🙂", "naïve 数据 🙂"),
        # RFC 2047 encoded words, which unpatched CPython decodes into raw CR LF (CVE-2024-6923).
        ("=?utf-8?q?a=0D=0ABcc=3A_m=40e.x?=", "= ?utf-8?q?a=0D=0ABcc=3A_m=40e.x?="),
        ("x=?utf-8?b?QQ==?=y", "x= ?utf-8?b?QQ== ?=y"),
        ("=\u200b?utf-8?q?a?=", "= ?utf-8?q?a?="),
        ("=\r\n?utf-8?q?a?=", "= ?utf-8?q?a?="),
        ("a = b? c ?= d", "a = b? c ?= d"),
    ],
)
def test_sanitize_header(raw: str, clean: str) -> None:
    assert sanitize_header(raw) == clean


@pytest.mark.parametrize("raw", ["=?=?", "==??", "=?" * 150, "a=\u200b\u200b?b", "=\u2028?"])
def test_no_encoded_word_opener_survives(raw: str) -> None:
    clean = sanitize_header(raw, limit=100)
    assert "=?" not in clean
    assert sanitize_header(clean, limit=100) == clean  # each layer sanitises again
    assert neutralize_encoded_words(clean) == clean


def test_header_cap() -> None:
    assert sanitize_header("x" * 300, limit=10) == "x" * 9 + "\u2026"
    assert sanitize_header("x" * 10, limit=10) == "x" * 10


def test_clean_line_makes_tricks_visible() -> None:
    assert clean_line("a\u202eb") == "a[U+202E]b"
    assert clean_line("a\r\nb") == "a  b"
    assert clean_line("x" * 600).endswith("\u2026")


def test_clean_block_keeps_layout() -> None:
    assert clean_block("def f():\r\n\treturn 1\r") == "def f():\n\treturn 1\n"
    assert clean_block("x\x1b[1;31my\x1b[0m\x08") == "xy"
    assert clean_block("if access\u202e\u2066: # admin") == "if access[U+202E][U+2066]: # admin"
    assert clean_block("plain\ntext\n") == "plain\ntext\n"


def test_truncate_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="positive"):
        truncate("x", 0)
