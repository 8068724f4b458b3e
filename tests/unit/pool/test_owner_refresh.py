"""When a pooled owner re-reads its parts without being told of a new version."""

from __future__ import annotations

from syft_monitors.pool.metrics import PoolMetrics
from syft_monitors.pool.owner import PoolOwner


def test_owners_spread_their_safety_rereads_over_the_hour() -> None:
    # Owners set up together must not all re-read their Secrets in the same second each hour.
    metrics = PoolMetrics()
    periods = {
        PoolOwner(
            f"owner-{i}",
            source=None,  # type: ignore[arg-type]  # never asked: no turn runs
            services=lambda _root: None,  # type: ignore[arg-type,return-value]
            metrics=metrics.for_owner(f"owner-{i}"),
            safety_every=3600.0,
        ).safety_every
        for i in range(50)
    }
    assert len(periods) == 50
    assert all(1800.0 <= p < 5400.0 for p in periods)
    assert min(periods) < 2700.0 < 4500.0 < max(periods)
