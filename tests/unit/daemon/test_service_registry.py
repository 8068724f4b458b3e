"""The service registry: names, files, intervals and what counts as configured."""

from __future__ import annotations

import pytest

from syft_monitors.config import parse_config
from syft_monitors.daemon.registry import SERVICES, get_service, service_names
from syft_monitors.errors import ConfigError


def test_services_in_start_order_with_their_files() -> None:
    assert service_names() == ["notify", "approve"]
    notify, approve = SERVICES["notify"], SERVICES["approve"]
    assert (notify.pid_name, notify.log_name, notify.error_log_name) == (
        "syft-notify.pid",
        "syft-notify.log",
        "syft-notify.error.log",
    )
    assert approve.pid_name == "syft-approve.pid"
    assert (notify.default_interval, approve.default_interval) == (30, 5)


def test_intervals_and_configured_come_from_the_config() -> None:
    plain = parse_config({"do_email": "do@x.example"})
    assert get_service("notify").interval(plain) == 30
    assert get_service("approve").interval(plain) == 5
    assert get_service("notify").is_configured(plain)
    assert not get_service("approve").is_configured(plain)
    tuned = parse_config(
        {
            "do_email": "do@x.example",
            "interval": 12,
            "approve": {"interval": 7, "approved_domains": ["uni.example"]},
        }
    )
    assert get_service("notify").interval(tuned) == 12
    assert get_service("approve").interval(tuned) == 7
    assert get_service("approve").is_configured(tuned)


def test_unknown_service_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown service 'sync' \(known: notify, approve\)"):
        get_service("sync")
