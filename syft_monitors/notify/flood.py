"""Flood control: no sender, and no crowd of strangers, can exhaust the owner's mailbox or Gmail's
daily sending limit.

Anyone with a Google account can share a pair of channel folders with a data owner, and every
pair used to cost two sends from the owner's Gmail. Gmail refuses every send for about a day once
an account's daily limit is hit (consumer Gmail: about 500 a day; Workspace: 2,000), which would
also silence the emails about real jobs. So:

- **Priorities.** Peer requests (`new_peer`, mostly from strangers) are low priority; everything
  about jobs, peers the owner accepted, and digests is high priority, and is processed first.
- **Daily budget with a reserve.** `daily_budget` sends per UTC day (default 400: safely under
  consumer Gmail's ~500). Low-priority mail may use at most `low_priority_share` of it (default
  20 %, i.e. 80 sends); the rest is a reserve only high-priority mail may draw on.
- **Per-sender budgets.** At most `per_sender_per_hour` emails to the owner about one requester
  or peer per hourly window (default 20: ten jobs with their approval replies fit, a script
  submitting hundreds does not).
- **Bursts.** At most `burst_threshold` individual peer-request emails to the owner per hourly
  window (default 10), so a flood of 300 strangers costs the owner 10 emails and one digest.
- **Folding, never dropping.** What exceeds a budget is *folded*: in one state update its
  emails are recorded as notified by a digest (`NotifiedRecord.digest`) and listed in that
  digest, which is one work item with its own notification key, sent through the same
  exactly-once path as every other email when its window closes. Copies addressed to the
  requester ("Peer Request Sent") are counted in the digest instead of being sent.
- **Quota errors.** A Gmail quota error pauses low-priority mail: until the next UTC day for
  `dailyLimitExceeded`, `quota_pause_seconds` for `userRateLimitExceeded`, and what Retry-After
  asks (at least a minute) for a plain 429; high-priority mail keeps its own retry and backoff.

Window, counters, pause and recent sends live in the state document (`FloodState`), so a restart
neither refills the budget nor forgets a pending digest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from syft_monitors.events import EventKind
from syft_monitors.notify.email import OutgoingEmail, reference_token
from syft_monitors.notify.render import Renderer, default_renderer
from syft_monitors.notify.sanitize import clean_line
from syft_monitors.state.model import DigestRecord, FloodState

WINDOW_SECONDS = 3600.0
DIGEST_LABEL = "digest"
#: Event kinds whose mail is low priority: requests from people the owner has not accepted.
LOW_PRIORITY: frozenset[str] = frozenset({EventKind.NEW_PEER.value})
#: Folded emails a digest keeps (and lists); beyond it they are only counted, so that a flood
#: of any size keeps the state within a ConfigMap's 1 MiB (about 150 bytes per item).
MAX_DIGEST_ITEMS = 2000

Priority = Literal["high", "low"]


class FloodConfig(BaseModel):
    """The `flood:` config keys (defaults explained in the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    daily_budget: int = Field(default=400, ge=1, le=100_000)
    low_priority_share: float = Field(default=0.2, ge=0.0, le=1.0)
    per_sender_per_hour: int = Field(default=20, ge=1, le=10_000)
    burst_threshold: int = Field(default=10, ge=0, le=10_000)
    quota_pause_seconds: int = Field(default=3600, ge=60, le=86_400)

    @property
    def low_budget(self) -> int:
        # Rounded before flooring: 100 * 0.29 is 28.999999999999996 in floating point, and the
        # operator's `lowPriorityPercent: 29` (rendered as 0.29) means 29 sends of 100.
        return int(round(self.daily_budget * self.low_priority_share, 6))


def priority(label: str) -> Priority:
    return "low" if label in LOW_PRIORITY else "high"


def utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")


def next_utc_midnight(now: float) -> float:
    day = dt.datetime.fromtimestamp(now, dt.UTC).date() + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def current(flood: FloodState, now: float) -> FloodState:
    """`flood` with its day and window rolled forward to `now` (counters reset as they expire)."""
    update: dict[str, object] = {}
    day = utc_day(now)
    if flood.day != day:
        update.update(day=day, sent_high=0, sent_low=0)
    window = now - now % WINDOW_SECONDS
    if flood.window_start != window:
        update.update(window_start=window, counts={})
    return flood.model_copy(update=update) if update else flood


def remaining(config: FloodConfig, flood: FloodState) -> tuple[int, int]:
    """(sends left today for high-priority mail, for low-priority mail)."""
    used = flood.sent_high + flood.sent_low
    high = max(0, config.daily_budget - used)
    return high, max(0, min(high, config.low_budget - flood.sent_low))


def sender_group(counterpart: str) -> str:
    return f"sender:{counterpart.lower()}"


BURST_GROUP = "burst:new_peer"


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """What to do with an event's emails: send them, fold them into `digest`, or wait."""

    action: Literal["send", "fold", "defer"]
    reason: str = ""
    digest: str | None = None
    group: str | None = None
    retry_after: float = 0.0


def decide(
    config: FloodConfig, flood: FloodState, label: str, counterpart: str, now: float
) -> Decision:
    """The decision for one event's (not yet notified) emails; `flood` must be `current`."""
    if not config.enabled:
        return Decision("send")
    prio = priority(label)
    high_left, low_left = remaining(config, flood)
    if prio == "low" and flood.paused_low_until > now:
        return Decision("defer", "quota_pause", retry_after=flood.paused_low_until - now)
    if prio == "high" and high_left <= 0:
        return Decision("defer", "daily_budget", retry_after=next_utc_midnight(now) - now)
    group = sender_group(counterpart)
    if flood.counts.get(group, 0) >= config.per_sender_per_hour:
        return Decision("fold", "per_sender", digest_key(group, flood.window_start), group)
    if prio == "low":
        if flood.counts.get(BURST_GROUP, 0) >= config.burst_threshold:
            return Decision(
                "fold", "burst", digest_key(BURST_GROUP, flood.window_start), BURST_GROUP
            )
        if low_left <= 0:
            return Decision(
                "fold", "low_budget", digest_key(BURST_GROUP, flood.window_start), BURST_GROUP
            )
    return Decision("send")


def digest_key(group: str, window_start: float) -> str:
    """A digest's notification key: one per group and window, stable across restarts."""
    # The address stays out of keys and headers: hashed, as in the heartbeat's key.
    token = hashlib.sha256(group.encode()).hexdigest()[:16]
    stamp = dt.datetime.fromtimestamp(window_start, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"digest:{token}:{stamp}:do"


def count_send(
    flood: FloodState, label: str, counterpart: str | None, *, to_owner: bool, now: float
) -> FloodState:
    """`flood` after one email about `counterpart` (None: heartbeat, digest) left.

    Only emails to the owner count against the per-sender and burst windows (they protect the
    owner's mailbox); every email counts against the daily budget.
    """
    counts = dict(flood.counts)
    if counterpart is not None and to_owner:
        group = sender_group(counterpart)
        counts[group] = counts.get(group, 0) + 1
        if label in LOW_PRIORITY:
            counts[BURST_GROUP] = counts.get(BURST_GROUP, 0) + 1
    recent = [t for t in flood.recent_sends if t > now - 60.0]
    recent.append(now)
    prio = priority(label)
    return flood.model_copy(
        update={
            "counts": counts,
            "recent_sends": recent,
            "sent_low": flood.sent_low + (prio == "low"),
            "sent_high": flood.sent_high + (prio == "high"),
        }
    )


#: Gmail's reason when an account's own sending quota, not a momentary rate, is exhausted.
USER_RATE_REASONS = frozenset({"userRateLimitExceeded"})
#: The shortest pause: a plain 429 asks for seconds, not an hour.
MIN_PAUSE_SECONDS = 60.0


def pause_seconds(
    config: FloodConfig, reason: str | None, retry_after: float | None, *, daily: bool, now: float
) -> float:
    """How long low-priority mail waits after a quota error: the rest of the UTC day for the
    daily limit, `quota_pause_seconds` for userRateLimitExceeded, else what Gmail asked for."""
    if daily:
        return next_utc_midnight(now) - now
    if reason in USER_RATE_REASONS:
        return float(config.quota_pause_seconds)
    return max(MIN_PAUSE_SECONDS, retry_after or 0.0)


def pause_low(flood: FloodState, seconds: float, *, now: float) -> FloodState:
    until = now + seconds
    return flood.model_copy(update={"paused_low_until": max(flood.paused_low_until, until)})


def plan_digest(
    key: str, record: DigestRecord, *, html: bool, renderer: Renderer | None = None
) -> OutgoingEmail:
    """The digest email for a closed window; the same bytes every time it is built."""
    listed = [item for item in record.items if item.to_owner]
    is_burst = record.group == BURST_GROUP
    # A peer request is one per address: every uncounted one is another address.
    senders = len({item.counterpart.lower() for item in record.items}) + (
        record.more_to_owner if is_burst else 0
    )
    count = len(listed) + record.more_to_owner
    confirmations = sum(1 for item in record.items if not item.to_owner) + record.more_copies
    what = "peer requests" if is_burst else "emails"
    subject = f"{count} more {what} from {senders} address" + ("es" if senders != 1 else "")
    window_end = dt.datetime.fromtimestamp(record.window_end, dt.UTC)
    lines = [
        (clean_line(item.counterpart, limit=120), clean_line(item.subject, limit=160))
        for item in listed
    ]
    body = (renderer or default_renderer()).render(
        "digest_do",
        {
            "title": subject,
            "account": clean_line(record.do_email),
            "reference": reference_token(key),
            "do_email": clean_line(record.do_email),
            "count": count,
            "what": what,
            "senders": senders,
            "lines": lines,
            "more": record.more_to_owner,
            "confirmations": confirmations,
            "window_end": window_end.strftime("%Y-%m-%d %H:%M UTC"),
        },
        html=html,
    )
    return OutgoingEmail.build(
        to=record.do_email,
        subject=subject,
        text=body.text,
        html=body.html,
        notification_key=key,
        headers={"X-Syft-Monitor-Event": DIGEST_LABEL},
    )
