"""The real upstream poller for side-by-side counts, and upstream's documented cost formulas.

`ensure_upstream_venv()` builds `.cache/bench-upstream-venv` once (pinned versions, a stamp file
makes later runs instant) with the interpreter running the bench. When PyPI cannot be reached
or the package does not install or import, it returns the reason and the bench says so instead
of inventing numbers; the formulas below are always shown, labelled as a model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness import REPO
from bench.lineproto import LineProcess
from bench.world import World

logger = logging.getLogger(__name__)

VENV = REPO / ".cache" / "bench-upstream-venv"
#: The newest syft-client that still ships `syft_client.notifications` and imports on Python
#: 3.11 (0.1.95/0.1.96 need syft-notify, which needs 3.12; 0.1.90/0.1.94 fail to import).
REQUIREMENTS = ("syft-client==0.1.101", "syft-bg==0.3.12", "syft-job==0.1.40")
DRIVER = Path(__file__).with_name("upstream_driver.py")
INSTALL_TIMEOUT = 900
PIP_NET = ("--retries", "2", "--timeout", "60")


@dataclasses.dataclass(frozen=True, slots=True)
class UpstreamStatus:
    available: bool
    reason: str
    python: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "requirements": list(REQUIREMENTS),
            "venv": str(VENV.relative_to(REPO)),
        }


def _stamp_text() -> str:
    return " ".join(REQUIREMENTS) + f" python-{sys.version.split()[0]}"


def upstream_ready() -> bool:
    """True when the venv holds exactly the pinned packages (nothing to download)."""
    stamp = VENV / ".bench-installed"
    return (
        (VENV / "bin" / "python").exists()
        and stamp.exists()
        and stamp.read_text() == (_stamp_text())
    )


def ensure_upstream_venv() -> UpstreamStatus:
    python = VENV / "bin" / "python"
    stamp = VENV / ".bench-installed"
    want = _stamp_text()
    if upstream_ready():
        return UpstreamStatus(True, "installed from PyPI", python)
    logger.info("building %s with %s (once per machine)", VENV, " ".join(REQUIREMENTS))
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *PIP_NET,
            *REQUIREMENTS,
        ],
        [str(python), "-c", "import syft_client.notifications.job_monitor"],
    ]
    for step in steps:
        try:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return UpstreamStatus(False, f"{step[2]} timed out after {INSTALL_TIMEOUT} s")
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            last = lines[-1][:300] if lines else f"exit status {done.returncode}"
            return UpstreamStatus(False, f"cannot install/import upstream: {last}")
    stamp.write_text(want)
    return UpstreamStatus(True, "installed from PyPI", python)


def spawn_upstream(
    status: UpstreamStatus, world: World, workdir: Path, config: dict[str, Any]
) -> LineProcess:
    """Upstream's JobMonitor + PeerMonitor for the world's DO, in the upstream venv."""
    assert status.python is not None
    workdir.mkdir(parents=True, exist_ok=True)
    token = str(world.token_file(world.do_email))
    spec = {
        "api_root": world.url,
        "do_email": world.do_email,
        "drive_token": token,
        "gmail_token": token,
        "state_file": str(workdir / "upstream-state.json"),
        "syftbox_root": str(workdir / "SyftBox"),
        "config": config,
    }
    spec_path = workdir / "upstream-spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    return LineProcess(
        [str(status.python), str(DRIVER), str(spec_path)],
        log=workdir / "upstream.log",
        cwd=workdir,
        env=env,
    )


# --- upstream's documented costs (reference §1.6-§1.7): a model, not a measurement -----------


def old_module_model(peers: int, new_messages: int) -> int:
    """Old `syft_client.notifications`: 2 + D list calls + 1 download per unseen message."""
    return 2 + peers + new_messages


def syft_bg_model(peers: int, new_messages: int) -> int:
    """Current syft-bg sync cycle: 3 + 2N + 2P, plus per new message a download, two event
    uploads, a rolling-state upload and an archive move (get + update)."""
    return 3 + 2 * peers + 2 * peers + 6 * new_messages
