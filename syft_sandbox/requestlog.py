"""A record of every request the sandbox served, for assertions like "an idle poll is one call"."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

#: Query parameters that can carry credentials; their values never reach the log.
SECRET_PARAMS = frozenset(
    {"access_token", "key", "token", "refresh_token", "client_secret", "code", "assertion"}
)
REDACTED = "<redacted>"


@dataclass(frozen=True)
class RequestRecord:
    seq: int
    method: str  # HTTP method
    path: str
    query: Mapping[str, tuple[str, ...]]
    api: str  # "drive", "gmail", "oauth" or "unknown"
    operation: str  # Google method name: "files.list", "changes.list", "messages.send", ...
    status: int | None  # None when the connection was reset instead of answered
    user: str | None
    fault: str | None  # the injected fault kind, if any
    seconds: float


def redact_query(query: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {
        key: tuple(REDACTED for _ in values) if key.lower() in SECRET_PARAMS else tuple(values)
        for key, values in query.items()
    }


class RequestLog:
    """Bounded in memory (the bench makes millions of calls); counts are kept for all of them."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._next_seq = 0
        self._counts: Counter[tuple[str, str, int | None]] = Counter()

    def record(
        self,
        *,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        api: str,
        operation: str,
        status: int | None,
        user: str | None,
        fault: str | None,
        seconds: float,
    ) -> RequestRecord:
        with self._lock:
            entry = RequestRecord(
                seq=self._next_seq,
                method=method,
                path=path,
                query=redact_query(query),
                api=api,
                operation=operation,
                status=status,
                user=user,
                fault=fault,
                seconds=seconds,
            )
            self._next_seq += 1
            self._records.append(entry)
            self._counts[(api, operation, status)] += 1
            return entry

    def mark(self) -> int:
        """A position; `since(mark)` returns what was served after it."""
        with self._lock:
            return self._next_seq

    def since(
        self,
        mark: int = 0,
        *,
        api: str | None = None,
        operation: str | None = None,
        user: str | None = None,
    ) -> list[RequestRecord]:
        with self._lock:
            records = list(self._records)
        return [
            r
            for r in records
            if r.seq >= mark
            and (api is None or r.api == api)
            and (operation is None or r.operation == operation)
            and (user is None or r.user == user)
        ]

    def counts(self) -> dict[tuple[str, str, int | None], int]:
        """(api, operation, status) -> number of requests since the start, never truncated."""
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._counts.clear()
