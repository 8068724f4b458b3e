"""promtool and prometheus from Debian's `prometheus` package (scripts/fetch-prometheus.sh)."""

from __future__ import annotations

import pytest
from prom_tools import PrometheusTools, PrometheusUnavailableError, fetch_prometheus


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    """Fetched on first use; skips only when the Debian archive is unreachable."""
    try:
        return fetch_prometheus()
    except PrometheusUnavailableError as error:
        pytest.skip(f"prometheus unavailable: {error}")
