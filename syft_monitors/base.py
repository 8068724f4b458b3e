"""Seed-compatible location of the abstract `Monitor` base class."""

from __future__ import annotations

from syft_monitors.monitors.poll_loop import Monitor

__all__ = ["Monitor"]
