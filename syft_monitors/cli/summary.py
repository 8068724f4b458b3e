"""One line saying what a single poll did (`syft-bg run SERVICE --once`)."""

from __future__ import annotations

from typing import Any


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def poll_summary(service: str, monitor: Any, ok: bool) -> str:
    """`notify: poll ok: 4 changes, 1 event, 1 email sent` and the like; never a token."""
    if not ok:
        reason = getattr(monitor, "_last_error", None) or "see the log above"
        return f"{service}: poll failed: {reason}"
    report = getattr(monitor, "last_report", None)
    if report is None:
        return f"{service}: poll ok"
    if getattr(report, "baseline", False):
        return (
            f"{service}: first poll: {_plural(report.changes, 'existing item')} recorded as the "
            "baseline (nothing emailed for them)"
        )
    parts = [_plural(report.changes, "change")]
    if hasattr(report, "peers_accepted"):
        parts += [
            _plural(report.peers_accepted, "peer") + " accepted",
            _plural(report.jobs_approved, "job") + " approved",
        ]
        replies = getattr(report, "replies", None)
        if replies is not None and replies.replies:
            word = "email reply" if replies.replies == 1 else "email replies"
            parts.append(f"{replies.replies} {word} ({replies.decisions} decided)")
    else:
        parts.append(_plural(report.events, "event"))
    parts.append(_plural(report.emails, "email") + " sent")
    pending = getattr(report, "work_pending", 0)
    if pending:
        parts.append(f"{pending} left for the next poll")
    return f"{service}: poll ok: " + ", ".join(parts)
