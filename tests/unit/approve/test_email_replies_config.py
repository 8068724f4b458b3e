"""`approve.email_replies` in the config file."""

from __future__ import annotations

import pytest

from syft_monitors.config import parse_config
from syft_monitors.errors import ConfigError
from syft_monitors.runtime.wiring import notify_config

DO = "owner@hospital.example"


def test_email_replies_is_off_by_default_and_reaches_the_new_job_email() -> None:
    config = parse_config({"do_email": DO, "syftbox_root": "/tmp/sb"})
    assert config.approve.email_replies is False
    assert notify_config(config.model_dump()).email_replies is False
    enabled = parse_config(
        {"do_email": DO, "syftbox_root": "/tmp/sb", "approve": {"email_replies": True}}
    )
    assert enabled.approve.email_replies is True
    assert notify_config(enabled.model_dump()).email_replies is True


def test_email_replies_need_the_syftbox_folder() -> None:
    with pytest.raises(ConfigError, match="email_replies needs syftbox_root"):
        parse_config({"do_email": DO, "syftbox_root": None, "approve": {"email_replies": True}})
