"""Per-user, coalescing change feeds over one global sequence of mutations.

Each mutation gets the next sequence number and is appended to the log of every user who could
see the file before or after it. A user's feed reports each file once, at its latest position,
so a page shows a file's current state however often it changed. Page tokens are sequence
numbers, which is why they never expire.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from syft_sandbox.apierror import invalid_parameter


@dataclass
class _UserLog:
    seqs: list[int] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)
    latest: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedEntry:
    file_id: str
    time: str  # RFC 3339 time of the file's latest change


@dataclass(frozen=True)
class FeedPage:
    entries: list[FeedEntry]
    next_page_token: str | None
    new_start_page_token: str | None


class ChangeLog:
    def __init__(self) -> None:
        self._next_seq = 1
        self._times: list[str] = [""]  # index = sequence number
        self._logs: dict[str, _UserLog] = {}

    def start_page_token(self) -> str:
        return str(self._next_seq)

    def record(self, file_id: str, users: set[str], when: str) -> None:
        seq = self._next_seq
        self._next_seq += 1
        self._times.append(when)
        for user in users:
            log = self._logs.setdefault(user, _UserLog())
            log.seqs.append(seq)
            log.file_ids.append(file_id)
            log.latest[file_id] = seq

    def parse_token(self, token: str) -> int:
        try:
            value = int(token)
        except ValueError:
            raise invalid_parameter("pageToken", "Invalid Value") from None
        if not 1 <= value <= self._next_seq:
            raise invalid_parameter("pageToken", "Invalid Value")
        return value

    def read(self, user: str, token: str, page_size: int) -> FeedPage:
        start = self.parse_token(token)
        log = self._logs.get(user)
        entries: list[FeedEntry] = []
        if log is not None:
            index = bisect.bisect_left(log.seqs, start)
            while index < len(log.seqs):
                seq = log.seqs[index]
                file_id = log.file_ids[index]
                if log.latest.get(file_id) == seq:
                    if len(entries) == page_size:
                        return FeedPage(entries, str(seq), None)
                    entries.append(FeedEntry(file_id, self._times[seq]))
                index += 1
        return FeedPage(entries, None, str(self._next_seq))
