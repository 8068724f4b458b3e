"""Kubernetes operator for SyftMonitor custom resources (kopf)."""

from __future__ import annotations

__version__ = "0.1.0"
