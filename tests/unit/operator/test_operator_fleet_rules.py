"""Gentle fleet changes (issue 16): the default CronJob schedule spread by name, and the rollout
pacer's slots."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from syft_operator.crd import SyftMonitorSpec
from syft_operator.errors import OperatorError
from syft_operator.render import DEFAULT_SCHEDULE, RenderOptions, render, spread_schedule
from syft_operator.rollout import RolloutPacer, parse_limit

OPTIONS = RenderOptions(default_image="syft-monitor:test")


def cron_spec(**overrides: Any) -> SyftMonitorSpec:
    data: dict[str, Any] = {
        "doEmail": "alice@hospital.example.org",
        "driveTokenSecretRef": {"name": "alice-drive", "key": "token.json"},
        "gmailTokenSecretRef": {"name": "alice-gmail", "key": "gmail.json"},
        "mode": "CronJob",
        **overrides,
    }
    return SyftMonitorSpec.model_validate(data)


def test_the_default_schedule_is_spread_over_five_minutes_by_name() -> None:
    assert cron_spec().schedule == DEFAULT_SCHEDULE == "*/5 * * * *"
    schedules = Counter(
        render(f"do-{n:04d}", "ns", cron_spec(), OPTIONS).workload["spec"]["schedule"]
        for n in range(1000)
    )
    assert set(schedules) == {f"{offset}-59/5 * * * *" for offset in range(5)}
    # Roughly a fifth each, not all in one minute.
    assert max(schedules.values()) < 300
    # Stable: the same name always gets the same minute.
    assert spread_schedule(DEFAULT_SCHEDULE, "alice") == spread_schedule(DEFAULT_SCHEDULE, "alice")


def test_a_schedule_the_author_chose_is_kept() -> None:
    workload = render("alice", "ns", cron_spec(schedule="*/15 * * * *"), OPTIONS).workload
    assert workload["spec"]["schedule"] == "*/15 * * * *"


@pytest.mark.parametrize(
    ("raw", "expected"), [("3", (3, 0.0)), ("10%", (0, 0.1)), (" 100% ", (0, 1.0))]
)
def test_rollout_limits(raw: str, expected: tuple[int, float]) -> None:
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "0%", "150%", "ten", "", "5.5"])
def test_bad_rollout_limits_are_refused(raw: str) -> None:
    with pytest.raises(OperatorError, match="rollout limit"):
        parse_limit(raw)


def available(generation: int) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "status": {"observedGeneration": generation, "availableReplicas": 1, "updatedReplicas": 1},
    }


def test_the_pacer_admits_a_share_and_frees_a_slot_on_availability() -> None:
    freed: list[set[str]] = []
    pacer = RolloutPacer("25%", total=lambda: 8)  # two at a time
    pacer.on_free = freed.append
    assert [pacer.admit(uid) for uid in "abcd"] == [True, True, False, False]
    assert pacer.admit("a")  # already rolling: stays admitted
    pending = {"kind": "Deployment", "metadata": {"generation": 2}, "status": {}}
    pacer.observe("a", pending)
    assert pacer.rolling == {"a", "b"}
    pacer.observe("a", available(2))
    assert pacer.rolling == {"b"}
    assert freed == [{"c", "d"}]
    assert pacer.admit("c")
    assert not pacer.admit("d")
