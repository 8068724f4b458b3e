"""Fixtures for the interop tests: the real upstream library, in its own virtualenv.

`.venv-interop` is built once per machine by `scripts/setup-interop-venv.sh` (a stamp makes
reruns instant). pytest runs with xdist, so the build happens under an fcntl lock: the first
worker builds, the others wait and then find the stamp. The scripts `upstream_writer.py` and
`upstream_reader.py` run in that venv as subprocesses; nothing of upstream is imported here.

The tests skip only when pip reports that PyPI cannot be reached (exit status 75 from the setup
script); any other setup problem fails them.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
from pathlib import Path

import pytest
from interop_support import (
    LOCK_FILE,
    SETUP_SCRIPT,
    SETUP_TIMEOUT_SECONDS,
    VENV,
    UpstreamOutput,
    run_upstream_script,
    tail,
)

from tests.support import EX_UNREACHABLE


@pytest.fixture(scope="session")
def interop_python() -> Path:
    """The interop venv's python, building the venv first if needed."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            result = subprocess.run(
                ["bash", str(SETUP_SCRIPT)],
                capture_output=True,
                text=True,
                timeout=SETUP_TIMEOUT_SECONDS,
                check=False,
            )
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    if result.returncode == EX_UNREACHABLE:
        pytest.skip(f"PyPI unreachable, upstream not installed: {tail(result.stderr, 500)}")
    if result.returncode != 0:
        pytest.fail(
            f"{SETUP_SCRIPT.name} failed with status {result.returncode}:\n"
            f"{tail(result.stdout)}\n{tail(result.stderr)}",
            pytrace=False,
        )
    python = VENV / "bin" / "python"
    assert python.is_file(), f"{python} missing after a successful setup"
    return python


@pytest.fixture(scope="session")
def upstream_output(
    interop_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> UpstreamOutput:
    base = tmp_path_factory.mktemp("upstream-writer")
    out = base / "out"
    run_upstream_script(interop_python, "upstream_writer.py", out, workdir=base)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return UpstreamOutput(root=out, manifest=manifest)
