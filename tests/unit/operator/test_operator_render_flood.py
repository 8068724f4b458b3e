"""The CRD's `flood` fields reach the monitor's config (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from syft_monitors.config import parse_config
from syft_monitors.notify.flood import FloodConfig
from syft_operator.crd import SyftMonitorSpec
from syft_operator.render import render_monitor_config

ROOT = Path(__file__).resolve().parents[3]
BASE = {
    "doEmail": "bob@university.example.edu",
    "driveTokenSecretRef": {"name": "tokens", "key": "drive.json"},
    "gmailTokenSecretRef": {"name": "tokens", "key": "drive.json"},
}


def test_defaults_are_the_monitors_defaults() -> None:
    config = parse_config(
        render_monitor_config("bob", SyftMonitorSpec.model_validate(BASE), "notify")
    )
    assert config.flood == FloodConfig()


def test_every_flood_field_is_rendered() -> None:
    spec = SyftMonitorSpec.model_validate(
        {
            **BASE,
            "flood": {
                "enabled": False,
                "dailyBudget": 1800,
                "lowPriorityPercent": 5,
                "perSenderPerHour": 3,
                "burstThreshold": 0,
                "quotaPauseSeconds": 600,
            },
        }
    )
    config = parse_config(render_monitor_config("bob", spec, "notify"))
    assert config.flood == FloodConfig(
        enabled=False,
        daily_budget=1800,
        low_priority_share=0.05,
        per_sender_per_hour=3,
        burst_threshold=0,
        quota_pause_seconds=600,
    )


def test_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"lowPriorityPercent|low_priority_percent"):
        SyftMonitorSpec.model_validate({**BASE, "flood": {"lowPriorityPercent": 101}})


def test_the_full_example_sets_a_workspace_budget() -> None:
    example = yaml.safe_load((ROOT / "deploy/examples/syftmonitor-full.yaml").read_text())
    spec = SyftMonitorSpec.model_validate(example["spec"])
    config = parse_config(render_monitor_config("alice", spec, "notify"))
    assert config.flood.daily_budget == 1800
    assert config.flood.low_priority_share == 0.2


@pytest.mark.parametrize("budget", [100, 400, 1000, 1800, 2000])
def test_the_low_priority_budget_is_the_percent_the_spec_asked_for(budget: int) -> None:
    # The percent travels as a share (29 % as 0.29), and 100 * 0.29 is 28.999999999999996 in
    # floating point: the monitor must still give low-priority mail 29 sends, not 28.
    for percent in range(101):
        spec = SyftMonitorSpec.model_validate(
            {**BASE, "flood": {"dailyBudget": budget, "lowPriorityPercent": percent}}
        )
        config = parse_config(render_monitor_config("bob", spec, "notify"))
        assert config.flood.low_budget == budget * percent // 100, percent
