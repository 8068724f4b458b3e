"""syft-monitor: background monitoring and email notifications for SyftBox data owners."""

from __future__ import annotations

__version__ = "0.1.0"
