"""The rule commands through click's runner, on a real config file."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from syft_monitors.cli.errors import run_cli
from syft_monitors.cli.main import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("# owner settings\ndo_email: owner@x.org\nsender: file\n")
    (tmp_path / "main.py").write_bytes(b"print(1)\n")
    return path


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    """`syft-bg ARGS...` through the real entry point's error handling (exit codes 0/1/2)."""

    def invoke(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["syft-bg", *args])
        code = run_cli(cli)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return invoke


def test_add_list_and_remove(config: Path, run: Callable[..., tuple[int, str]]) -> None:
    main = str(config.parent / "main.py")
    code, out = run(
        "--config",
        str(config),
        "auto-approve",
        main,
        "-p",
        "ann@x.org",
        "-f",
        "params.json",
        "-d",
        "syft-client==0.1.117",
    )
    assert code == 0, out
    assert "added auto-approval rule 'main'" in out
    assert "declares: python, entrypoint main.py; dependencies: syft-client==0.1.117" in out
    assert "run.sh: the script syft-job generates" in out
    assert config.read_text().startswith("# owner settings\n")
    stored = yaml.safe_load(config.read_text())["approve"]["auto_approvals"][0]
    assert stored["file_contents"][0]["sha256"] == hashlib.sha256(b"print(1)\n").hexdigest()

    code, out = run("list-auto-approvals", "--config", str(config), "--json")
    assert code == 0, out
    document = json.loads(out)
    assert [r["name"] for r in document["auto_approvals"]] == ["main"]
    assert document["auto_approvals"][0]["peers"] == ["ann@x.org"]

    code, out = run("--config", str(config), "list-auto-approvals")
    assert "main  (submitters: ann@x.org)" in out
    assert "params.json  (any content)" in out

    code, out = run("--config", str(config), "remove-peer", "ann@x.org")
    assert code == 0, out
    assert "deleted rule 'main'" in out
    code, out = run("--config", str(config), "remove-auto-approval", "main")
    assert code == 2
    assert "no auto-approval rule named 'main'" in out


def test_usage_errors_exit_2_and_leave_the_file(
    config: Path, run: Callable[..., tuple[int, str]]
) -> None:
    before = config.read_text()
    code, out = run("--config", str(config), "auto-approve")
    assert code == 2
    assert "give at least one file" in out
    code, out = run(
        "--config", str(config), "auto-approve", str(config.parent / "main.py"), "-p", "bad"
    )
    assert code == 2
    assert "peer is not a valid email address" in out
    code, out = run("--config", str(config), "auto-approve", str(config.parent / "main.py"))
    assert code == 2
    assert "give the job's dependencies" in out
    assert config.read_text() == before


def test_from_job_pins_the_reviewed_job_and_old_rules_are_listed_inactive(
    config: Path, run: Callable[..., tuple[int, str]]
) -> None:
    folder = config.parent / "inbox" / "ann@x.org" / "train"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "main.py").write_bytes(b"print(1)\n")
    declared = {
        "name": "train",
        "type": "python",
        "entrypoint": "main.py",
        "dependencies": ["syft-client==0.1.117"],
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(declared))
    (folder / "run.sh").write_text("#!/bin/bash\ncd code && python main.py\n")
    code, out = run("--config", str(config), "auto-approve", "--from-job", str(folder))
    assert code == 0, out
    assert "submitters: ann@x.org" in out
    assert "run.sh: 1 pinned script(s)" in out
    stored = yaml.safe_load(config.read_text())["approve"]["auto_approvals"][0]
    assert stored["job"] == {
        "type": "python",
        "entrypoint": "main.py",
        "dependencies": ["syft-client==0.1.117"],
    }
    assert len(stored["run_sh_sha256"]) == 1

    # A rule written before pinning existed: listed as inactive, still removable.
    old = {"name": "old", "file_paths": ["main.py"]}
    document = yaml.safe_load(config.read_text())
    document["approve"]["auto_approvals"].append(old)
    config.write_text(yaml.safe_dump(document))
    code, out = run("--config", str(config), "list-auto-approvals")
    assert code == 0, out
    assert "INACTIVE, approves nothing until pinned: run.sh" in out
    code, out = run("--config", str(config), "remove-auto-approval", "old")
    assert code == 0, out


def test_doctor_warns_about_a_rule_that_approves_nothing(
    config: Path, run: Callable[..., tuple[int, str]]
) -> None:
    old = {"approve": {"auto_approvals": [{"name": "old", "file_paths": ["main.py"]}]}}
    config.write_text(config.read_text() + yaml.safe_dump(old))
    _code, out = run("--config", str(config), "doctor")
    assert "auto-approval old" in out, out
    assert "inactive: rule 'old' does not pin run.sh" in out
    assert "--from-job" in out


def test_unreviewed_rule_only_with_the_option_that_names_the_risk(
    config: Path, run: Callable[..., tuple[int, str]]
) -> None:
    main = str(config.parent / "main.py")
    code, out = run("--config", str(config), "auto-approve", main, "--allow-unreviewed-run-sh")
    assert code == 0, out
    assert "warning: rule 'main' lets the data scientist choose what runs" in out
    assert "UNREVIEWED (allow_unreviewed_run_sh): the job's type, entrypoint" in out
    stored = yaml.safe_load(config.read_text())["approve"]["auto_approvals"][0]
    assert stored["allow_unreviewed_run_sh"] is True
    assert "job" not in stored
