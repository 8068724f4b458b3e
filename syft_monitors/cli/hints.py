"""Notes that tell a data owner what the approve service will (not) do with the current config."""

from __future__ import annotations

from pathlib import Path

from syft_monitors.approve_rules import ApproveSettings


def approve_scope_note(settings: ApproveSettings) -> str | None:
    """None when the approve service has rules; else what it limits itself to."""
    if settings.auto_approvals:
        return None
    if settings.approved_domains or settings.approved_peers:
        return (
            "note: approve has no auto-approval rules: it only accepts peer requests from "
            "approved_domains/approved_peers and approves no job (add rules with "
            "`syft-bg auto-approve FILES...`)"
        )
    return (
        "note: approve has no rules, approved_peers or approved_domains: it does nothing until "
        "you add some (`syft-bg auto-approve FILES...`)"
    )


def approve_service_note(config_path: Path, interval: int) -> str:
    """Whether a rule just written will be applied, and when."""
    from syft_monitors.daemon.manager import DaemonManager  # noqa: PLC0415

    pid = DaemonManager(config_path, "approve").get_pid()
    if pid is not None:
        return f"the approve service (PID {pid}) applies it within {interval} s"
    return (
        "note: rules are applied by the approve service, which is not running: "
        "`syft-bg start approve` (or `syft-bg install approve` to keep it running)"
    )
