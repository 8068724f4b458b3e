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
    for tool in ("docker", "kind"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        return "the docker daemon is not reachable"
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


def test_script_skips_cleanly_without_docker(tmp_path: Path) -> None:
    # A PATH with only what the script needs before its checks: no docker, no kind.
    bash, dirname = shutil.which("bash"), shutil.which("dirname")
    assert bash is not None
    assert dirname is not None
    (tmp_path / "dirname").symlink_to(dirname)
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run(
        [bash, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "skipped: docker is not installed"
    assert result.stderr == ""


def test_script_skips_when_the_daemon_is_unreachable(tmp_path: Path) -> None:
    for tool, code in (("docker", 1), ("kind", 0)):
        fake = tmp_path / tool
        fake.write_text(f"#!/bin/sh\nexit {code}\n")
        fake.chmod(0o755)
    bash = shutil.which("bash")
    assert bash is not None
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [bash, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "skipped: the docker daemon is not reachable"
