"""What `syft-bg status` shows about flood control: today's budget, pause, pending digests."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from syft_monitors.errors import SyftMonitorError
from syft_monitors.notify import flood as flood_policy

logger = logging.getLogger(__name__)


def flood_summary(config_path: Path, *, now: float | None = None) -> dict[str, Any] | None:
    """Today's budget and folding, from the config and the state; None when unreadable."""
    from syft_monitors.config import load_config  # noqa: PLC0415
    from syft_monitors.runtime.wiring import state_from_config  # noqa: PLC0415

    try:
        config = load_config(config_path)
        # A missing state file means "never polled": do not create one (nor its lock) by looking.
        if config.state_backend == "file" and not Path(config.state_file).exists():
            return None
        flood = state_from_config(config).load().flood
    except SyftMonitorError as error:
        logger.warning("cannot read flood control's state: %s", error)
        return None
    moment = time.time() if now is None else now
    current = flood_policy.current(flood, moment)
    high, low = flood_policy.remaining(config.flood, current)
    paused = current.paused_low_until if current.paused_low_until > moment else None
    return {
        "enabled": config.flood.enabled,
        "daily_budget": config.flood.daily_budget,
        "used_today": current.sent_high + current.sent_low,
        "remaining": high,
        "low_priority_budget": config.flood.low_budget,
        "low_priority_remaining": low,
        "low_priority_paused_until": (
            dt.datetime.fromtimestamp(paused, dt.UTC).isoformat() if paused else None
        ),
        "pending_digests": len(current.digests),
        "folded_pending": sum(
            len(d.items) + d.more_to_owner + d.more_copies for d in current.digests.values()
        ),
    }


def describe(summary: dict[str, Any]) -> str:
    """One line for the status table's footer."""
    if not summary["enabled"]:
        return "flood control: off"
    text = (
        f"sending budget today: {summary['used_today']} of {summary['daily_budget']} used, "
        f"{summary['low_priority_remaining']} of {summary['low_priority_budget']} left for "
        "peer requests"
    )
    if summary["pending_digests"]:
        text += (
            f"; {summary['folded_pending']} folded email(s) in "
            f"{summary['pending_digests']} digest(s) to send"
        )
    if summary["low_priority_paused_until"]:
        text += f"; peer requests paused until {summary['low_priority_paused_until']}"
    return text
