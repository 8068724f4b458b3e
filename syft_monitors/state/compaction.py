"""Keeping the state document bounded.

Two collections grow with time: `seen` (facts observed) and `notified` (emails sent). An entry of
either is dropped only when it is BOTH older than `retention` AND outside the newest
`max_entries` of its collection, oldest first: a small or young state is never trimmed. On top
of that, `max_bytes` is a soft ceiling for stores with a hard size limit (a ConfigMap holds
about 1 MiB): while the document is larger, the oldest `seen`/`notified` entries go regardless
of age.

Why forgetting is safe:

- `seen` entries for Drive files: the changes feed delivers a file again only when it changes,
  and a changed file is a new fact anyway. An ancient file id that is forgotten is therefore
  never offered again, so it cannot be downloaded twice.
- `notified` entries: the event that caused an ancient email is not re-detected from the feed
  for the same reason. Monitors that rescan local job folders must treat facts older than the
  retention window as pre-existing (baseline) rather than new, which the cursor baseline and the
  job timestamps allow; with that rule a forgotten key never re-sends.
- `email_replies.handled` entries (replies the approve service dealt with, also capped when
  written): a reply is read again only from Gmail's history feed, which forgets within about a
  week, or from the thread of a job still pending after a re-baseline; one older than the
  retention window is past both.
- `intents` are never dropped: each one is an email whose fate is unknown, and forgetting it
  could lose or duplicate that email.
- `threads` go with the last `notified` entry that mentions their job key: no future email of
  that job can be sent without a new `notified` entry, so the thread root is of no more use.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import json
import logging
from collections.abc import Iterable

from syft_monitors.state.model import StateDocument, parse_timestamp, utc_now

logger = logging.getLogger(__name__)

DEFAULT_RETENTION = dt.timedelta(days=180)
DEFAULT_MAX_ENTRIES = 50_000


@dataclasses.dataclass(frozen=True, slots=True)
class CompactionPolicy:
    #: Entries younger than this are kept whatever the count (unless `max_bytes` forces it).
    retention: dt.timedelta = DEFAULT_RETENTION
    #: Entries per collection (`seen`, `notified`, `email_replies.handled`) kept whatever their age.
    max_entries: int = DEFAULT_MAX_ENTRIES
    #: Soft ceiling on the serialized document; None means no ceiling. A ConfigMap backend
    #: would use about 700 KiB to leave room for metadata under the 1 MiB object limit.
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        if self.retention < dt.timedelta(0):
            raise ValueError("retention must be >= 0")
        if self.max_bytes is not None and self.max_bytes <= 0:
            raise ValueError("max_bytes must be > 0")


@dataclasses.dataclass(frozen=True, slots=True)
class CompactionReport:
    dropped_seen: int
    dropped_notified: int
    dropped_threads: int
    #: Size of the serialized document after compaction.
    size_bytes: int
    #: True when `max_bytes` could not be reached (intents, threads and data alone exceed it).
    over_budget: bool = False
    dropped_replies: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.dropped_seen
            or self.dropped_notified
            or self.dropped_threads
            or self.dropped_replies
        )


def _oldest_first(entries: Iterable[tuple[str, str]]) -> list[tuple[dt.datetime, str]]:
    # The key breaks ties so the result does not depend on dict order.
    return sorted((parse_timestamp(stamp), key) for key, stamp in entries)


def _expired(ordered: list[tuple[dt.datetime, str]], cutoff: dt.datetime, keep: int) -> list[str]:
    excess = len(ordered) - keep
    dropped: list[str] = []
    for stamp, key in ordered[: max(excess, 0)]:
        if stamp >= cutoff:
            break
        dropped.append(key)
    return dropped


def _entry_size(key: str, record_json: str) -> int:
    # `"key":{...},` as it appears in the compact document.
    return len(json.dumps(key, ensure_ascii=False).encode()) + len(record_json.encode()) + 2


def compact_document(
    doc: StateDocument, policy: CompactionPolicy, *, now: dt.datetime | None = None
) -> CompactionReport:
    """Drop expired entries from `doc` in place and report what went."""
    now = utc_now() if now is None else now
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    cutoff = now - policy.retention

    seen_order = _oldest_first((k, r.at) for k, r in doc.seen.items())
    notified_order = _oldest_first((k, r.sent_at) for k, r in doc.notified.items())
    drop_seen = _expired(seen_order, cutoff, policy.max_entries)
    drop_notified = _expired(notified_order, cutoff, policy.max_entries)
    for key in drop_seen:
        del doc.seen[key]
    for key in drop_notified:
        del doc.notified[key]
    drop_replies = _expired(
        _oldest_first((k, r.at) for k, r in doc.email_replies.handled.items()),
        cutoff,
        policy.max_entries,
    )
    if drop_replies:
        gone = set(drop_replies)
        handled = {k: r for k, r in doc.email_replies.handled.items() if k not in gone}
        doc.email_replies = doc.email_replies.model_copy(update={"handled": handled})

    size = len(doc.to_json_bytes())
    over_budget = False
    threads_dropped = 0
    if policy.max_bytes is not None and size > policy.max_bytes:
        size, over_budget, threads_dropped = _trim_to_budget(
            doc, policy.max_bytes, size, seen_order, notified_order, drop_seen, drop_notified
        )

    pruned = _prune_threads(doc, drop_notified)
    dropped_threads = threads_dropped + pruned
    if pruned:
        size = len(doc.to_json_bytes())
        over_budget = policy.max_bytes is not None and size > policy.max_bytes
    report = CompactionReport(
        dropped_seen=len(drop_seen),
        dropped_notified=len(drop_notified),
        dropped_threads=dropped_threads,
        size_bytes=size,
        over_budget=over_budget,
        dropped_replies=len(drop_replies),
    )
    if report.changed:
        logger.info(
            "state compacted: dropped %d seen, %d notified, %d threads, %d replies; %d bytes",
            report.dropped_seen,
            report.dropped_notified,
            report.dropped_threads,
            report.dropped_replies,
            report.size_bytes,
        )
    if over_budget:
        logger.warning(
            "state is %d bytes, above the %d-byte target, with nothing left to drop",
            size,
            policy.max_bytes,
        )
    return report


def _trim_to_budget(
    doc: StateDocument,
    max_bytes: int,
    size: int,
    seen_order: list[tuple[dt.datetime, str]],
    notified_order: list[tuple[dt.datetime, str]],
    drop_seen: list[str],
    drop_notified: list[str],
) -> tuple[int, bool, int]:
    """Drop the oldest seen/notified entries (and threads left without emails) until the
    document fits `max_bytes`; returns the size, whether it is still over, threads dropped."""
    over_budget = False
    threads_dropped = 0
    # Oldest first across both collections, skipping what the first pass already dropped.
    remaining = heapq.merge(
        ((stamp, 0, key) for stamp, key in seen_order if key in doc.seen),
        ((stamp, 1, key) for stamp, key in notified_order if key in doc.notified),
    )
    # A thread root is only kept for the emails of its job that are still remembered:
    # count them, so dropping a job's last email frees its thread within the same budget.
    refs: dict[str, int] = {}
    for key in (*doc.notified, *doc.intents):
        for part in key.split(":"):
            if part in doc.threads:
                refs[part] = refs.get(part, 0) + 1
    estimate = size
    while size > max_bytes:
        for _stamp, which, key in remaining:
            if which == 0:
                estimate -= _entry_size(key, doc.seen.pop(key).model_dump_json())
                drop_seen.append(key)
            else:
                estimate -= _entry_size(key, doc.notified.pop(key).model_dump_json())
                drop_notified.append(key)
                for part in key.split(":"):
                    if part in refs:
                        refs[part] -= 1
                        if refs[part] == 0 and part in doc.threads:
                            thread = doc.threads.pop(part)
                            estimate -= _entry_size(part, thread.model_dump_json())
                            threads_dropped += 1
            if estimate <= max_bytes:
                break
        new_size = len(doc.to_json_bytes())
        if new_size == size or not (doc.seen or doc.notified):
            size = new_size
            over_budget = size > max_bytes
            break
        size = estimate = new_size
    return size, over_budget, threads_dropped


def _prune_threads(doc: StateDocument, dropped_notified: list[str]) -> int:
    if not dropped_notified or not doc.threads:
        return 0
    candidates = {
        part for key in dropped_notified for part in key.split(":") if part in doc.threads
    }
    if not candidates:
        return 0
    # A pending intent may still need the thread to reply into.
    still_used = {
        part
        for key in (*doc.notified, *doc.intents)
        for part in key.split(":")
        if part in candidates
    }
    for job_key in candidates - still_used:
        del doc.threads[job_key]
    return len(candidates - still_used)
