"""Secrets come from mounted files only: never a command-line value, an environment variable or a
config key holding the secret itself.

- every `syft-bg` / `syft-operator` option whose name speaks of a token, secret or password takes a
  path (the file), never the value;
- no config key (monitor, SMTP, approve) holds a secret value: only `*_path` / `*_file` keys;
- no environment variable the code reads is named like a secret (scanned from the source);
- the operator renders the token Secrets as mounted files, not as env (`secretKeyRef`/`envFrom`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from syft_monitors.cli.main import cli
from syft_monitors.config import MonitorConfig
from syft_operator.cli import command as operator_command
from syft_operator.crd import SyftMonitorSpec
from syft_operator.render import RenderOptions, render

ROOT = Path(__file__).resolve().parents[3]
SECRETISH = re.compile(r"(?i)token|secret|passw|credential|api_?key")
# Names that look secret-ish but hold no secret: where secrets are, or what they are called.
ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
NOT_SECRETS = re.compile(r"(?i)(_path|_file|_ref|_dir)$|^(drive|gmail)TokenSecretRef$")


def all_commands(group: click.Command, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    yield prefix or group.name or "", group
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from all_commands(command, f"{prefix} {name}".strip())


@pytest.mark.parametrize("root", [cli, operator_command], ids=["syft-bg", "syft-operator"])
def test_no_option_takes_a_secret_value(root: click.Command) -> None:
    checked = 0
    for where, command in all_commands(root):
        for param in command.params:
            names = [param.name or "", *getattr(param, "opts", [])]
            if not any(SECRETISH.search(name) for name in names):
                continue
            checked += 1
            assert isinstance(param.type, click.Path), f"{where}: {names} takes {param.type}"
    if root is cli:
        assert checked >= 1  # `init --token-path`: the check did look at something


def model_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, object]]:
    for name, field in model.model_fields.items():
        yield prefix + name, field.annotation
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", ()) or (annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                yield from model_fields(candidate, f"{prefix}{name}.")


@pytest.mark.parametrize("model", [MonitorConfig, SyftMonitorSpec], ids=["config", "crd"])
def test_no_config_key_holds_a_secret(model: type[BaseModel]) -> None:
    secretish = [
        name
        for name, _ in model_fields(model)
        if SECRETISH.search(name.rsplit(".", 1)[-1])
        and not NOT_SECRETS.search(name.rsplit(".", 1)[-1])
    ]
    assert secretish == []


def environment_names(folder: Path) -> set[str]:
    """Names passed to os.environ[...], os.environ.get(...), os.getenv(...), click's envvar=,
    and any other constant shaped like an environment variable name."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }

        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                name = _text(node.slice, constants)
            elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "os.environ.get",
                "os.getenv",
                "env.get",
            ):
                name = _text(node.args[0], constants) if node.args else None
            elif isinstance(node, ast.keyword) and node.arg == "envvar":
                name = _text(node.value, constants)
            else:
                continue
            if name is not None:
                found.add(name)
        # Names read through helpers (`_number(env, "SYFT_OPERATOR_RETRY_DELAY", ...)`): every
        # constant shaped like an environment variable.
        found.update(
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and ENV_NAME.fullmatch(node.value)
        )
    return found


def _text(node: ast.AST, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def test_no_environment_variable_carries_a_secret() -> None:
    names = environment_names(ROOT / "syft_monitors") | environment_names(ROOT / "syft_operator")
    assert {"SYFT_MONITOR_HOME", "SYFT_OPERATOR_RETRY_DELAY"} <= names  # the scan works
    # oauthlib's switch to accept a narrower grant than asked (sign-in sets it): holds no secret.
    names -= {"OAUTHLIB_RELAX_TOKEN_SCOPE"}
    assert sorted(n for n in names if SECRETISH.search(n)) == []


def test_rendered_workloads_mount_secrets_as_files() -> None:
    spec = {
        "doEmail": "owner@hospital.example",
        "driveTokenSecretRef": {"name": "drive", "key": "token.json"},
        "gmailTokenSecretRef": {"name": "gmail", "key": "token.json"},
        "services": ["notify", "approve"],
        "sender": {
            "type": "smtp",
            "smtp": {
                "host": "mail.example",
                "username": "u",
                "credentialsSecretRef": {"name": "smtp", "key": "password"},
            },
        },
    }
    for mode in ("Deployment", "CronJob"):
        parsed = SyftMonitorSpec.model_validate({**spec, "mode": mode})
        children = render("alice", "ns", parsed, RenderOptions("img:1"))
        text = repr(children)
        assert "secretKeyRef" not in text
        assert "envFrom" not in text
        workload = children.workload["spec"]
        template = workload.get("template") or workload["jobTemplate"]["spec"]["template"]
        secrets = {v["secret"]["secretName"] for v in template["spec"]["volumes"] if "secret" in v}
        assert secrets == {"drive", "smtp"}  # with SMTP, no Gmail token is mounted
        for container in template["spec"]["containers"]:
            assert not [e["name"] for e in container["env"] if SECRETISH.search(e["name"])]
