"""The Drive `q` language subset SyftBox traffic uses, parsed strictly.

Anything outside the subset is a `QueryError` (the server answers 400), never "match everything":
a fake that silently ignores a term hides exactly the bugs it exists to catch. `name contains`
is a case-insensitive substring test here, a superset of Google's token-prefix match, so clients
must post-filter results by exact name parsing as they must against Google.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

STRING_FIELDS = frozenset({"name", "mimeType"})
TIME_FIELDS = frozenset({"modifiedTime", "createdTime"})
BOOL_FIELDS = frozenset({"trashed", "starred", "sharedWithMe"})
COLLECTION_FIELDS = frozenset({"parents", "owners", "writers", "readers"})
_STRING_OPS = frozenset({"=", "!=", "contains"})
_TIME_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_BOOL_OPS = frozenset({"=", "!="})


class QueryError(ValueError):
    """The query is not in the supported subset or is malformed."""


class Facts(Protocol):
    """What the evaluator needs to know about one file, computed lazily by the Drive model."""

    def text(self, field: str) -> str: ...

    def time(self, field: str) -> datetime: ...

    def boolean(self, field: str) -> bool: ...

    def member(self, field: str, value: str) -> bool: ...


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: str | bool | datetime


@dataclass(frozen=True)
class InCollection:
    value: str
    field: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Compare | InCollection | Not | And | Or

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.lastgroup is None:
            raise QueryError("unreadable query")
        kind = match.lastgroup
        if kind == "bad":
            raise QueryError(f"unexpected character {match.group(kind)!r}")
        raw = match.group(kind)
        if kind == "string":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        tokens.append(_Token(kind, raw))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._pos = 0

    def _peek(self) -> _Token | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            raise QueryError("query ends unexpectedly")
        self._pos += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "word" and token.text.lower() == word:
            self._pos += 1
            return True
        return False

    def parse(self) -> Node:
        node = self._or()
        if self._peek() is not None:
            raise QueryError(f"unexpected {self._next().text!r}")
        return node

    def _or(self) -> Node:
        operands = [self._and()]
        while self._keyword("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Node:
        operands = [self._unary()]
        while self._keyword("and"):
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _unary(self) -> Node:
        if self._keyword("not"):
            return Not(self._unary())
        token = self._peek()
        if token is not None and token.kind == "paren" and token.text == "(":
            self._pos += 1
            node = self._or()
            closing = self._next()
            if closing.kind != "paren" or closing.text != ")":
                raise QueryError("missing ')'")
            return node
        return self._term()

    def _term(self) -> Node:
        first = self._next()
        if first.kind == "string":
            if not self._keyword("in"):
                raise QueryError("expected 'in' after a string")
            collection = self._next()
            if collection.kind != "word" or collection.text not in COLLECTION_FIELDS:
                raise QueryError(f"unsupported collection {collection.text!r}")
            return InCollection(first.text, collection.text)
        if first.kind != "word":
            raise QueryError(f"unexpected {first.text!r}")
        field = first.text
        if field in BOOL_FIELDS and self._at_term_end():
            return Compare(field, "=", True)  # a bare `sharedWithMe` means `= true`
        op_token = self._next()
        op = op_token.text.lower() if op_token.kind == "word" else op_token.text
        if op_token.kind not in ("op", "word"):
            raise QueryError(f"unexpected {op_token.text!r}")
        value = self._next()
        if field in STRING_FIELDS:
            if op not in _STRING_OPS or value.kind != "string":
                raise QueryError(f"unsupported use of {field}")
            return Compare(field, op, value.text)
        if field in TIME_FIELDS:
            if op not in _TIME_OPS or value.kind != "string":
                raise QueryError(f"unsupported use of {field}")
            return Compare(field, op, parse_time(value.text))
        if field in BOOL_FIELDS:
            if (
                op not in _BOOL_OPS
                or value.kind != "word"
                or value.text.lower()
                not in (
                    "true",
                    "false",
                )
            ):
                raise QueryError(f"unsupported use of {field}")
            return Compare(field, op, value.text.lower() == "true")
        raise QueryError(f"unsupported query term {field!r}")

    def _at_term_end(self) -> bool:
        token = self._peek()
        if token is None:
            return True
        if token.kind == "paren" and token.text == ")":
            return True
        return token.kind == "word" and token.text.lower() in ("and", "or")


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"invalid date {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def parse_query(text: str) -> Node | None:
    """None for an empty query (match everything visible)."""
    if not text.strip():
        return None
    return _Parser(_tokenize(text)).parse()


def evaluate(node: Node, facts: Facts) -> bool:
    if isinstance(node, And):
        return all(evaluate(operand, facts) for operand in node.operands)
    if isinstance(node, Or):
        return any(evaluate(operand, facts) for operand in node.operands)
    if isinstance(node, Not):
        return not evaluate(node.operand, facts)
    if isinstance(node, InCollection):
        return facts.member(node.field, node.value)
    return _compare(node, facts)


def _compare(node: Compare, facts: Facts) -> bool:
    if node.field in STRING_FIELDS:
        actual = facts.text(node.field)
        expected = str(node.value)
        if node.op == "contains":
            return expected.casefold() in actual.casefold()
        return (actual == expected) == (node.op == "=")
    if node.field in BOOL_FIELDS:
        return (facts.boolean(node.field) == node.value) == (node.op == "=")
    assert isinstance(node.value, datetime)
    when = facts.time(node.field)
    limit = node.value
    return {
        "=": when == limit,
        "!=": when != limit,
        "<": when < limit,
        "<=": when <= limit,
        ">": when > limit,
        ">=": when >= limit,
    }[node.op]


def required_value(node: Node | None, field: str) -> str | None:
    """A value every match must have (`'X' in parents` or `name = 'X'` at the top level).

    Lets the model answer from an index instead of scanning every visible file.
    """
    if node is None:
        return None
    operands = node.operands if isinstance(node, And) else (node,)
    for operand in operands:
        if isinstance(operand, InCollection) and operand.field == field:
            return operand.value
        if (
            isinstance(operand, Compare)
            and operand.field == field
            and operand.op == "="
            and isinstance(operand.value, str)
        ):
            return operand.value
    return None
