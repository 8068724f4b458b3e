"""What the data owner said in a reply to a new-job email: approve, deny [reason], auto-approve.

Pure: text in, command out. Only the reply's own words count, never what it quotes: the text is
cut at the first quoted line (``>``), attribution line (``On ... wrote:`` in the common
languages, also when a client wraps it over two lines), Outlook header block (``-----Original
Message-----``, an underscore rule, ``From:`` ... ``Sent:``), forwarded part, signature
(``-- ``) or mobile footer. An HTML-only reply is read as text with its quotes
(``gmail_quote``, ``blockquote``, Outlook's ``divRplyFwdMsg``) left out.

The command is the first non-empty line that is left, compared case-insensitively and whole:
``approve`` (also ``approve.``/``approve!``), ``auto-approve`` (``auto approve``, ``autoapprove``),
``deny`` with an optional reason on the same line (``deny: too broad``) or, when the line holds
only ``deny``, in the lines right after it. Upstream matched prefixes, so ``approved?`` or
``approve only if ...`` approved; here anything else is `UNKNOWN` and gets the help reply.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from email.message import EmailMessage
from html.parser import HTMLParser

#: The longest reason kept (it goes into state.yaml and the data scientist's email).
MAX_REASON_CHARS = 500
#: Lines after a bare "deny" that may hold the reason.
MAX_REASON_LINES = 5


class CommandKind(enum.StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    AUTO_APPROVE = "auto-approve"
    UNKNOWN = "unknown"
    #: Nothing but quotes, signatures or blank lines.
    EMPTY = "empty"


@dataclasses.dataclass(frozen=True, slots=True)
class Command:
    kind: CommandKind
    #: The denial reason (None when none was given).
    reason: str | None = None
    #: The line that was read (for the help reply and the log); cut to 200 characters.
    line: str = ""


_PUNCT = "[.!]*"
_APPROVE = re.compile(rf"approve{_PUNCT}", re.IGNORECASE)
_AUTO = re.compile(rf"auto[- ]?approve{_PUNCT}", re.IGNORECASE)
_DENY = re.compile(r"deny(?:[.!]*|(?:\s*[:,\-\u2013\u2014]\s*|\s+)(?P<reason>.*))", re.IGNORECASE)

# Attribution lines ("On <date>, <name> wrote:") in the languages mail clients ship most; each
# may be wrapped by the client over two lines, so they are matched on a line and on a line
# joined with the next.
_ATTRIBUTIONS = (
    r"on\b.*\bwrote:?",  # English (Gmail, Apple Mail, Thunderbird)
    r"le\b.*\ba [ée]crit\s*:?",  # French
    r"am\b.*\bschrieb\b.*:?",  # German
    r".*\bschrieb\b.*:",  # German, other order
    r"el\b.*\bescribi[óo]\s*:?",  # Spanish
    r"il\b.*\bha scritto\s*:?",  # Italian
    r"em\b.*\bescreveu\s*:?",  # Portuguese
    r"op\b.*\bschreef\b.*:?",  # Dutch
    r"den\b.*\bskrev\b.*:?",  # Swedish, Danish, Norwegian
    r".*\bnapisa[łl]\b.*:?",  # Polish
    r".*\u043f\u0438\u0448\u0435\u0442\s*:?",  # Russian "пишет:"
    r".*\u5199\u9053[:\uff1a]?",  # Chinese
    r".*\u3055\u3093\u306f\u66f8\u304d\u307e\u3057\u305f[:\uff1a]?",  # Japanese
    r".*\ub2d8\uc774 \uc791\uc131[:\uff1a]?",  # Korean
)
_ATTRIBUTION = re.compile("|".join(f"(?:{p})" for p in _ATTRIBUTIONS), re.IGNORECASE)
_SEPARATORS = re.compile(
    r"(?:-{2,}\s*(?:original message|forwarded message|urspr[üu]ngliche nachricht|message d'origine"
    r"|mensaje original|messaggio originale)\s*-{2,}.*"
    r"|_{10,}|begin forwarded message:?|forwarded message:?"
    r"|sent from my \w+.*|get outlook for \w+.*|envoy[ée] de mon \w+.*|von meinem \w+ gesendet.*)",
    re.IGNORECASE,
)
# Outlook's plain-text header block of the quoted mail: "From: ..." soon followed by "Sent:".
_HEADER_FROM = re.compile(r"(?:from|von|de|da|van|od)\s*:\s*\S.*", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"(?:sent|date|gesendet|datum|envoy[ée]|enviado|fecha|inviato|data|to|an|[àa]|para|a)\s*:",
    re.IGNORECASE,
)


def own_lines(text: str) -> list[str]:
    """The lines of `text` the writer wrote, before any quote, attribution or signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith(">") or line in ("--", "-- ", "—"):
            break
        if raw.rstrip("\n") == "-- ":
            break
        if _ATTRIBUTION.fullmatch(line) or _SEPARATORS.fullmatch(line):
            break
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        # A wrapped attribution: "On Mon, 1 Jan 2026 at 10:00, Owner <o@x>" / "wrote:".
        if (
            line
            and following.lower().rstrip(": ").endswith(("wrote", "crit", "schrieb", "escreveu"))
            and _ATTRIBUTION.fullmatch(f"{line} {following}")
        ):
            break
        if _HEADER_FROM.fullmatch(line) and _header_block_follows(lines, index):
            break
        kept.append(line)
    return kept


def _header_block_follows(lines: list[str], index: int) -> bool:
    return any(_HEADER_NEXT.match(line.strip()) for line in lines[index + 1 : index + 4])


def parse_command(text: str) -> Command:
    """The command the reply `text` (plain text) gives."""
    lines = own_lines(text)
    for position, line in enumerate(lines):
        if not line:
            continue
        words = " ".join(line.split())
        shown = words[:200]
        if _AUTO.fullmatch(words):
            return Command(CommandKind.AUTO_APPROVE, line=shown)
        if _APPROVE.fullmatch(words):
            return Command(CommandKind.APPROVE, line=shown)
        match = _DENY.fullmatch(words)
        if match is not None:
            reason = (match.group("reason") or "").strip()
            if not reason:
                reason = _following_reason(lines[position + 1 :])
            return Command(CommandKind.DENY, reason=_clip(reason) or None, line=shown)
        return Command(CommandKind.UNKNOWN, line=shown)
    return Command(CommandKind.EMPTY)


def _following_reason(lines: list[str]) -> str:
    collected: list[str] = []
    for line in lines:
        if not line:
            if collected:
                break
            continue
        collected.append(line)
        if len(collected) >= MAX_REASON_LINES:
            break
    return " ".join(" ".join(collected).split())


def _clip(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def parse_reply(message: EmailMessage) -> Command:
    """The command of a reply message: its text/plain body, else its HTML read as text."""
    return parse_command(reply_text(message))


def reply_text(message: EmailMessage) -> str:
    """The reply's body as plain text ("" when it has none that can be decoded)."""
    plain = _content(message.get_body(preferencelist=("plain",)))
    if plain is not None and plain.strip():
        return plain
    html = _content(message.get_body(preferencelist=("html",)))
    return html_to_text(html) if html is not None else ""


def _content(part: object) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        return None
    return content if isinstance(content, str) else None


class _Text(HTMLParser):
    """HTML to text lines, leaving out quoted blocks and everything after a quote starts."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stopped = False
        self._skip = 0  # depth inside <style>, <script>, <head>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        values = {name: value or "" for name, value in attrs}
        classes = values.get("class", "").split()
        quote = (
            tag == "blockquote"
            or "gmail_quote" in classes
            or "gmail_attr" in classes
            or values.get("id") in ("divRplyFwdMsg", "appendonsend")
            or tag == "hr"
            or "border-top:solid" in values.get("style", "").replace(" ", "").lower()
        )
        if quote:
            self.stopped = True
            return
        if tag in ("style", "script", "head", "title"):
            self._skip += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head", "title") and self._skip:
            self._skip -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.stopped and not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).replace("\xa0", " ")
