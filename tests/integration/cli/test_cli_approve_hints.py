"""The approve service's hints: a new rule says whether anything will apply it, and
`start approve` says when it will do little or nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from daemon_testkit import DaemonWorld

from syft_monitors.cli.main import cli


def test_auto_approve_says_the_approve_service_must_run(world: DaemonWorld, tmp_path: Path) -> None:
    code = tmp_path / "main.py"
    code.write_text("print(1)\n")
    runner = CliRunner()
    added = runner.invoke(
        cli, ["auto-approve", str(code), "-p", "alice@uni.example", "-d", "syft-client==0.1.117"]
    )
    assert added.exit_code == 0, added.output
    assert "approve service, which is not running: `syft-bg start approve`" in added.output

    started = runner.invoke(cli, ["start", "approve"])
    assert started.exit_code == 0, started.output
    assert "note:" not in started.output  # it has a rule: nothing to warn about
    again = runner.invoke(
        cli, ["auto-approve", str(code), "-n", "second", "-d", "syft-client==0.1.117"]
    )
    assert "the approve service (PID " in again.output
    assert runner.invoke(cli, ["stop", "approve"]).exit_code == 0


def test_start_approve_without_rules_says_what_it_will_do(world: DaemonWorld) -> None:
    runner = CliRunner()
    nothing = runner.invoke(cli, ["start", "approve"])
    assert nothing.exit_code == 0, nothing.output
    assert "no rules, approved_peers or approved_domains: it does nothing" in nothing.output
    assert runner.invoke(cli, ["stop", "approve"]).exit_code == 0

    world.write_config(approve={"approved_domains": ["uni.example"], "interval": 1})
    peers_only = runner.invoke(cli, ["start", "approve"])
    assert peers_only.exit_code == 0, peers_only.output
    assert "it only accepts peer requests" in peers_only.output
    assert runner.invoke(cli, ["stop", "approve"]).exit_code == 0
