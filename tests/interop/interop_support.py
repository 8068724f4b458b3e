"""Helpers shared by the interop tests (a uniquely named module: tests/ has no packages)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SETUP_SCRIPT = REPO / "scripts" / "setup-interop-venv.sh"
# Same override as the setup script, so both always agree on where the venv is.
VENV = Path(os.environ.get("INTEROP_VENV") or REPO / ".venv-interop")
LOCK_FILE = REPO / ".cache" / "interop-venv.lock"
# The first build downloads upstream and its dependencies (pandas, pyarrow...): minutes at worst.
SETUP_TIMEOUT_SECONDS = 1500
SCRIPT_TIMEOUT_SECONDS = 180
# Our CLI, from the virtualenv running the tests (a black box: always a subprocess).
SYFT_BG = Path(sys.executable).with_name("syft-bg")


def tail(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def upstream_env(home: Path) -> dict[str, str]:
    """Environment for upstream scripts: its own HOME, none of our Python path settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    }
    env["HOME"] = str(home)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    home.mkdir(parents=True, exist_ok=True)
    return env


def run_upstream_script(
    python: Path, script: str, argument: Path, *, workdir: Path
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(python), str(HERE / script), str(argument)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=workdir,
        env=upstream_env(workdir / "home"),
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{script} exited with {result.returncode}:\n{tail(result.stderr)}", pytrace=False
        )
    return result


def run_syft_bg(*args: str) -> Any:
    """Run our CLI and parse its --json output; a non-zero exit fails the test with its stderr."""
    result = subprocess.run(
        [str(SYFT_BG), *args, "--json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"syft-bg {' '.join(args)} exited with {result.returncode}: {tail(result.stderr)}",
            pytrace=False,
        )
    return json.loads(result.stdout)


@dataclass(frozen=True)
class UpstreamOutput:
    """What upstream_writer.py produced: message files, the owner's folder, the manifest."""

    root: Path
    manifest: dict[str, Any]

    @property
    def messages_dir(self) -> Path:
        return self.root / "messages"

    @property
    def do_root(self) -> Path:
        return self.root / self.manifest["do_root"]


def run_upstream_phase(python: Path, script: str, *args: str, workdir: Path) -> Any:
    """Run `script ARGS...` in the interop venv and parse the JSON document it prints."""
    result = subprocess.run(
        [str(python), str(HERE / script), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=workdir,
        env=upstream_env(workdir / "home"),
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{script} {' '.join(args[:1])} exited with {result.returncode}:\n"
            f"{tail(result.stderr)}",
            pytrace=False,
        )
    return json.loads(result.stdout.strip().splitlines()[-1])
