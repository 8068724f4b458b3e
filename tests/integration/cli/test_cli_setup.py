"""`syft-bg init` and `syft-bg doctor` through click's runner, against the sandbox."""

from __future__ import annotations

import email.policy
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from daemon_testkit import DO, DaemonWorld

from syft_monitors.cli.errors import run_cli
from syft_monitors.cli.main import cli
from syft_monitors.config import load_config


def _init(world: DaemonWorld, *extra: str) -> None:
    world.config_path.unlink()
    result = CliRunner().invoke(
        cli,
        [
            "init",
            "-e",
            DO,
            "-t",
            str(world.tokens[DO]),
            "--api-root",
            world.server.url,
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {world.config_path} for {DO}" in result.output


def test_init_writes_the_default_config_path(world: DaemonWorld) -> None:
    _init(world, "-r", str(world.root / "SyftBox"))
    config = load_config(world.config_path)
    assert config.do_email == DO
    assert config.drive_token_path == world.tokens[DO]
    assert config.state_file == world.home / "state.json"
    assert config.syftbox_root == world.root / "SyftBox"
    assert "# The data owner (DO) whose Drive is watched" in world.config_path.read_text()
    again = CliRunner().invoke(cli, ["init", "-e", DO])
    assert again.exit_code == 1  # ConfigError under the runner; `syft-bg` maps it to 2
    assert "already exists" in str(again.exception)


def test_global_config_option_and_env(world: DaemonWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    other = world.root / "other.yaml"
    result = CliRunner().invoke(cli, ["--config", str(other), "init", "-e", "x@y.example"])
    assert result.exit_code == 0, result.output
    assert load_config(other).do_email == "x@y.example"
    monkeypatch.setenv("SYFT_MONITOR_CONFIG", str(other))
    status = CliRunner().invoke(cli, ["status", "--json"])
    assert json.loads(status.output)["config"] == str(other)


def test_doctor_all_good(world: DaemonWorld) -> None:
    _init(world)
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for check in ("config", "drive token file", "drive token", "gmail token", "clock", "disk"):
        assert any(line.startswith(f"ok   {check}:") for line in lines), (check, lines)
    assert f"ok   drive: reachable as {DO}" in lines
    assert "ok   gmail: reachable, Sent mail searchable" in lines
    assert any(line.startswith("warn syftbox root:") for line in lines)  # ~/SyftBox is absent
    document = json.loads(CliRunner().invoke(cli, ["doctor", "--json"]).output)
    assert document["ok"] is True
    assert {c["name"] for c in document["checks"]} >= {"config", "drive", "gmail", "clock"}


def test_doctor_warns_about_an_interpreter_without_the_header_fix(world: DaemonWorld) -> None:
    _init(world)
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    (check,) = [c for c in json.loads(result.output)["checks"] if c["name"] == "python"]
    # CPython 3.11.7 here has no fix; the fix added `verify_generated_headers` (also backported).
    if hasattr(email.policy.compat32, "verify_generated_headers"):
        assert check["outcome"] == "ok"
    else:
        assert check["outcome"] == "warn"
        assert "(CVE-2024-6923)" in check["detail"]
        assert "syft-monitor neutralises them in every header it writes" in check["detail"]
        assert "upgrade to Python 3.11.10+" in check["hint"]


def test_doctor_warns_about_a_send_only_gmail_token(world: DaemonWorld) -> None:
    _init(world)
    world.sandbox.grant_scopes(
        DO,
        ["https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/gmail.send"],
    )
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output  # a warning: the monitor works, at least once
    assert "warn gmail: reachable, but the token may not search Sent mail" in result.output
    assert "gmail.modify or gmail.readonly" in result.output


def test_doctor_reports_a_revoked_token_with_a_hint(world: DaemonWorld) -> None:
    _init(world)
    world.sandbox.revoke_user(DO)
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL drive token: token refresh rejected" in result.output
    assert "hint: re-authorize" in result.output
    assert "skip drive: no valid Drive token" in result.output


def test_doctor_missing_token_file_and_missing_config(world: DaemonWorld) -> None:
    world.write_config(drive_token_path=str(world.root / "nope.json"))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert f"FAIL drive token file: {world.root / 'nope.json'} does not exist" in result.output
    world.config_path.unlink()
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL config: config file not found" in result.output
    assert "hint: create one with `syft-bg init -e YOUR_EMAIL`" in result.output


def test_config_errors_exit_2_with_one_line(
    world: DaemonWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world.config_path.write_text("do_email: owner@daemon.example\nintervall: 3\n")
    monkeypatch.setattr(sys, "argv", ["syft-bg", "start", "notify"])
    assert run_cli(cli) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "intervall: unknown key" in err
    monkeypatch.setattr(sys, "argv", ["syft-bg", "init", "-e", "not-an-address", "--force"])
    assert run_cli(cli) == 2
    assert "not a valid email address" in capsys.readouterr().err


def test_unknown_service_is_a_usage_error(world: DaemonWorld) -> None:
    result = CliRunner().invoke(cli, ["start", "sync"])
    assert result.exit_code == 2
    assert "'sync' is not one of 'notify', 'approve'" in result.output


def test_install_without_systemd(
    world: DaemonWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = CliRunner().invoke(cli, ["install"])
    assert result.exit_code == 1
    unit = tmp_path / "xdg" / "systemd" / "user" / "syft-bg-notify.service"
    assert f"notify: wrote {unit}, but systemd is not available here" in result.output
    assert "approve" not in result.output  # not configured, not installed
    # Units of a user stop at logout unless lingering is on: install says how, once.
    assert result.output.count("loginctl enable-linger $USER") == 1
    result = CliRunner().invoke(cli, ["uninstall", "notify"])
    assert f"notify: removed {unit}" in result.output
    assert not unit.exists()


def _enable_email_replies(world: DaemonWorld) -> None:
    text = world.config_path.read_text()
    assert "  email_replies: false\n" in text
    world.config_path.write_text(
        text.replace("  email_replies: false\n", "  email_replies: true\n")
    )


def test_doctor_checks_that_email_replies_can_be_read(world: DaemonWorld) -> None:
    _init(world, "-r", str(world.root / "SyftBox"))
    _enable_email_replies(world)
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "ok   email replies: the Gmail history feed is readable" in result.output.splitlines()


def test_doctor_fails_email_replies_with_a_send_only_token(world: DaemonWorld) -> None:
    _init(world, "-r", str(world.root / "SyftBox"))
    _enable_email_replies(world)
    world.sandbox.grant_scopes(
        DO,
        ["https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/gmail.send"],
    )
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL email replies: the Gmail token may not read mail" in result.output
    assert "gmail.modify" in result.output
