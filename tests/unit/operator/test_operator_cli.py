"""The `syft-operator` command line and the operator's environment settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from syft_operator.cli import build_run_options, command
from syft_operator.config import OperatorConfig
from syft_operator.errors import OperatorError

ROOT = Path(__file__).resolve().parents[3]


def options(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "all_namespaces": False,
        "namespaces": ("team-a",),
        "standalone": True,
        "liveness": "http://0.0.0.0:8080/healthz",
        "metrics_port": None,
        "config": OperatorConfig(),
    }
    base.update(overrides)
    return base


def test_namespaced_and_clusterwide() -> None:
    run = build_run_options(**options(namespaces=("a", "b", "a")))  # type: ignore[arg-type]
    assert run.namespaces == ("a", "b")
    assert run.clusterwide is False
    run = build_run_options(**options(all_namespaces=True, namespaces=()))  # type: ignore[arg-type]
    assert run.clusterwide is True
    assert run.namespaces == ()


@pytest.mark.parametrize(
    "overrides",
    [{"all_namespaces": True}, {"namespaces": ()}],
)
def test_scope_must_be_exactly_one(overrides: dict[str, object]) -> None:
    with pytest.raises(click.UsageError):
        build_run_options(**options(**overrides))  # type: ignore[arg-type]


def test_metrics_port_and_liveness() -> None:
    run = build_run_options(**options(metrics_port=9090, liveness=""))  # type: ignore[arg-type]
    assert run.config.metrics_port == 9090
    assert run.liveness_endpoint is None
    off = build_run_options(  # type: ignore[arg-type]
        **options(metrics_port=0, config=OperatorConfig(metrics_port=1234))
    )
    assert off.config.metrics_port is None


def test_cli_refuses_missing_scope_without_starting() -> None:
    result = CliRunner().invoke(command, [])
    assert result.exit_code == 2
    assert "--all-namespaces or --namespace" in result.output


def test_console_script_help() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "syft-operator"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for flag in ("--all-namespaces", "--namespace", "--standalone", "--liveness", "--metrics-port"):
        assert flag in result.stdout
    for flag in ("--allow-image", "--allow-api-root", "--allow-smtp-host"):
        assert flag in result.stdout


def test_config_from_env() -> None:
    config = OperatorConfig.from_env(
        {
            "SYFT_OPERATOR_MONITOR_IMAGE": "registry.example/syft-monitor:1.2",
            "SYFT_OPERATOR_STATUS_INTERVAL": "0",
            "SYFT_OPERATOR_RETRY_DELAY": "0.5",
            "SYFT_OPERATOR_METRICS_PORT": "9090",
        }
    )
    assert config.monitor_image == "registry.example/syft-monitor:1.2"
    assert config.status_interval == 0
    assert config.metrics_port == 9090
    assert config.retry_backoff(0) == 0.5
    assert config.retry_backoff(3) == 4.0
    assert config.retry_backoff(100) == 300.0
    assert OperatorConfig.from_env({}) == OperatorConfig()


@pytest.mark.parametrize(
    "env",
    [
        {"SYFT_OPERATOR_STATUS_INTERVAL": "soon"},
        {"SYFT_OPERATOR_RETRY_DELAY": "-1"},
        {"SYFT_OPERATOR_IMAGE_PULL_POLICY": "Sometimes"},
    ],
)
def test_bad_env_is_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(OperatorError, match="SYFT_OPERATOR_"):
        OperatorConfig.from_env(env)
