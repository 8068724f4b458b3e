"""The Gmail search (`q`) subset: `rfc822msgid:`, `in:`/`label:`, `subject:`, `from:`, `to:`, words.

Terms are ANDed; a leading `-` negates one. Unknown `key:value` operators are searched as plain
text, as Gmail does with words it does not recognise. Text matching is a case-insensitive
substring test: a superset of Gmail's word matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

_TERM_RE = re.compile(
    r"""\s*(?P<neg>-)?(?:(?P<key>[A-Za-z_0-9]+):)?
        (?:"(?P<quoted>[^"]*)"|\((?P<group>[^)]*)\)|(?P<word>[^\s()"]+))""",
    re.VERBOSE,
)
_KNOWN_KEYS = frozenset({"rfc822msgid", "in", "label", "subject", "from", "to", "cc", "bcc", "is"})


class Searchable(Protocol):
    def header(self, name: str) -> str: ...

    def labels(self) -> set[str]: ...

    def text(self) -> str: ...


@dataclass(frozen=True)
class Term:
    key: str | None
    value: str
    negated: bool


def parse_search(text: str) -> list[Term]:
    terms: list[Term] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TERM_RE.match(text, position)
        if match is None:
            terms.append(Term(None, text[position:].strip(), False))
            break
        key = match.group("key")
        value = match.group("quoted") or match.group("group") or match.group("word") or ""
        if key is not None and key.lower() not in _KNOWN_KEYS:
            value = f"{key}:{value}"
            key = None
        if value.upper() == "AND" and key is None:
            position = match.end()
            continue
        terms.append(Term(key.lower() if key else None, value, match.group("neg") is not None))
        position = match.end()
    return terms


def matches(terms: list[Term], message: Searchable) -> bool:
    return all(_match(term, message) != term.negated for term in terms)


def _match(term: Term, message: Searchable) -> bool:
    value = term.value.casefold()
    if term.key == "rfc822msgid":
        wanted = term.value.strip().strip("<>")
        return message.header("message-id").strip().strip("<>") == wanted
    if term.key in ("in", "label", "is"):
        aliases = {"anywhere": None, "sent": "SENT", "inbox": "INBOX", "unread": "UNREAD"}
        label = aliases.get(value, value.upper())
        return label is None or label in message.labels()
    if term.key in ("subject", "from", "to", "cc", "bcc"):
        return value in message.header(term.key).casefold()
    return all(word in message.text().casefold() for word in value.split())
