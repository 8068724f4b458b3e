"""What the atheris targets in this folder share: invariants on errors, and the runner.

Each target module defines `one_input(data: bytes) -> None` (raises only on a real finding) and
`seeds() -> list[bytes]`, and ends with `main(one_input, seeds)`. Run one with

    python tests/fuzz/fuzz_codec.py -atheris_runs=100000 [corpus_dir ...]

(libFuzzer options pass through; atheris is installed by `make soak` only). Without a corpus
directory the seeds are written to a temporary one, so fuzzing starts from valid inputs instead of
from nothing. The targets are not collected by pytest; `tests/unit/reliability/
test_hostile_fuzz_targets.py` runs them over their seeds, mutations and hypothesis data.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import logging
import sys
import tempfile
from collections.abc import Callable
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from syft_monitors.notify.email import OutgoingEmail, to_mime

BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")
#: What a notification carries (Gmail adds From when it sends); anything else (Bcc, Reply-To,
#: a second To) was injected.
EMAIL_HEADERS = frozenset(
    {
        "to",
        "from",
        "subject",
        "date",
        "message-id",
        "auto-submitted",
        "in-reply-to",
        "references",
        "x-syft-monitor-key",
        "x-syft-monitor-event",
        # The digest of what a new-job email shows (notify.review): a hex string we compute.
        "x-syft-monitor-review",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
#: Elements no notification template uses and a data scientist must not be able to add.
ACTIVE_TAGS = frozenset(
    {"script", "img", "iframe", "object", "embed", "svg", "style", "link", "form", "input", "base"}
)


def check_error_text(error: BaseException, *, limit: int = 1000) -> None:
    """An error of ours is one bounded line without invisible direction tricks."""
    text = str(error)
    assert "\n" not in text, f"multi-line error: {text[:200]!r}"
    assert "\r" not in text, f"CR in error: {text[:200]!r}"
    assert len(text) <= limit, f"error of {len(text)} characters"
    assert not BIDI.intersection(text), f"bidi control in error: {text[:200]!r}"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.problems.append(f"<{tag}>")
        self.problems.extend(f"{tag}[{name}]" for name, _ in attrs if name.startswith("on"))


def html_problems(html: str) -> list[str]:
    """Active elements or event-handler attributes in `html` (none in our templates)."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.problems


def check_outgoing(outgoing: OutgoingEmail, recipients: frozenset[str] | None = None) -> None:
    """The MIME form of a planned notification passes `check_mime`."""
    check_mime(to_mime(outgoing).as_bytes(), recipients)


def check_mime(raw: bytes, recipients: frozenset[str] | None = None) -> EmailMessage:
    """A notification as sent: known headers only, each once and on one line, one recipient
    (among `recipients` when given), and HTML without active content. Returns it parsed."""
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    names = [name.lower() for name in parsed]
    assert set(names) <= EMAIL_HEADERS, f"unexpected headers {sorted(set(names) - EMAIL_HEADERS)}"
    assert len(names) == len(set(names)), f"repeated headers {names}"
    assert "to" in names, names
    assert len(parsed["To"].addresses) == 1, str(parsed["To"])
    if "from" in names:
        assert len(parsed["From"].addresses) == 1, str(parsed["From"])
    if recipients is not None:
        assert str(parsed["To"]).lower() in recipients, str(parsed["To"])
    for name, value in parsed.items():
        text = str(value)
        assert "\n" not in text, (name, text[:120])
        assert "\r" not in text, (name, text[:120])
    for part in parsed.walk():
        if part.get_content_type() == "text/html":
            problems = html_problems(part.get_content())
            assert not problems, problems
    return parsed


def write_seeds(folder: Path, seeds: list[bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (folder / hashlib.sha256(seed).hexdigest()[:16]).write_bytes(seed)


def main(one_input: Callable[[bytes], None], seeds: Callable[[], list[bytes]]) -> None:
    try:
        import atheris  # noqa: PLC0415 - only the soak run installs it
    except ImportError:
        print("atheris is not installed: pip install atheris (make soak does)", file=sys.stderr)
        sys.exit(2)
    # Refusals are logged as warnings by design; at thousands of inputs a second they are noise.
    logging.disable(logging.CRITICAL)
    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="syft-fuzz-corpus-"))
        write_seeds(corpus, seeds())
        argv.append(str(corpus))
    atheris.instrument_all()
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
