"""`syft-bg init`'s commented config: loads back, explains every key, quotes safely."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from syft_monitors.approve_rules import ApproveSettings
from syft_monitors.config import MonitorConfig, load_config
from syft_monitors.errors import ConfigError
from syft_monitors.services.init_config import render_config, write_config


def test_written_config_loads_with_the_given_values(tmp_path: Path) -> None:
    token = tmp_path / "tokens" / "do token.json"
    token.parent.mkdir()
    token.write_text("{}")
    path = tmp_path / "home" / "config.yaml"
    config = write_config(
        path,
        do_email="Owner+lab@Uni.example",
        home=tmp_path / "home",
        syftbox_root=tmp_path / "SyftBox",
        token_path=token,
        api_root="http://127.0.0.1:8765/",
    )
    assert config == load_config(path)
    assert config.do_email.lower() == "owner+lab@uni.example"
    assert config.drive_token_path == config.gmail_token_path == token
    assert config.syftbox_root == tmp_path / "SyftBox"
    assert config.state_file == tmp_path / "home" / "state.json"
    assert config.google_api_root == "http://127.0.0.1:8765/"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Defaults in the file are the model's defaults (nothing surprising is switched on).
    defaults = MonitorConfig(do_email="a@b.example")
    for key in ("interval", "strategy", "sender", "email_format", "heartbeat_enabled"):
        assert getattr(config, key) == getattr(defaults, key)
    assert config.approve == ApproveSettings()


def test_every_key_is_in_the_file_with_a_comment() -> None:
    text = render_config(do_email="do@x.example", home=Path("/h"))
    keys = set(MonitorConfig.model_fields) | set(ApproveSettings.model_fields)
    for key in keys:
        line = next((line for line in text.splitlines() if f"{key}:" in line), None)
        assert line is not None, f"{key} is not in the template"
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) > 40
    data = yaml.safe_load(text)
    assert data["drive_token_path"] == "/h/token_do.json"
    assert data["gmail_token_path"] == "/h/gmail_token.json"
    assert "google_api_root" not in data


def test_values_cannot_break_the_yaml(tmp_path: Path) -> None:
    odd = tmp_path / 'we: ird" #path\n- x'
    text = render_config(do_email="do@x.example", home=odd, syftbox_root=odd)
    data = yaml.safe_load(text)
    assert data["state_file"] == str(odd / "state.json")
    assert data["syftbox_root"] == str(odd)


def test_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    write_config(path, do_email="do@x.example", home=tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        write_config(path, do_email="other@x.example", home=tmp_path)
    assert write_config(path, do_email="other@x.example", home=tmp_path, force=True).do_email == (
        "other@x.example"
    )


def test_bad_email_and_missing_token_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_config(tmp_path / "c.yaml", do_email="not an email", home=tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        write_config(
            tmp_path / "c.yaml", do_email="do@x.example", home=tmp_path, token_path=tmp_path / "no"
        )
    assert not (tmp_path / "c.yaml").exists()
