"""The real-cluster run (`make kind-e2e`) from pytest, and the script's skip behaviour.

The kind run takes minutes and needs Docker, kind and a reachable daemon: it runs only with
SYFT_KIND_E2E=1 (`make kind-e2e` runs the script directly). Everything it proves beyond the
test API server is listed in its header.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kind-e2e.sh"


def _missing() -> str | None:
    # The engine is the script's business (scripts/docker-engine.sh); kind it cannot provide.
    if shutil.which("kind") is None:
        return "kind is not installed"
    return None


@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_kind_end_to_end() -> None:
    if os.environ.get("SYFT_KIND_E2E") != "1":
        pytest.skip("set SYFT_KIND_E2E=1 (or run `make kind-e2e`) to run the kind cluster test")
    reason = _missing()
    if reason:
        pytest.skip(reason)
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1700, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "kind-e2e: passed" in result.stdout


def test_script_skips_cleanly_without_kind(tmp_path: Path) -> None:
    # A PATH with only what the script needs before its checks: no kind (and no docker).
    bash, dirname = shutil.which("bash"), shutil.which("dirname")
    assert bash is not None
    assert dirname is not None
    (tmp_path / "dirname").symlink_to(dirname)
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [bash, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "skipped: kind is not installed"
    assert result.stderr == ""


def test_script_skips_when_no_engine_can_be_had(tmp_path: Path) -> None:
    # kind is there, the daemon does not answer, and a user who is not root cannot start one.
    for tool, body in (("docker", "exit 1"), ("kind", "exit 0"), ("id", "echo 1000")):
        fake = tmp_path / tool
        fake.write_text(f"#!/bin/sh\n{body}\n")
        fake.chmod(0o755)
    bash = shutil.which("bash")
    assert bash is not None
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [bash, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0
    assert (
        result.stdout.strip() == "skipped: no Docker Engine answers and installing one needs root"
    )
