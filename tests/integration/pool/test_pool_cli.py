"""`syft-bg pool` on the command line: its options, and a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support import eventually

SYFT_BG = [sys.executable, "-c", "from syft_monitors.cli.main import main; main()"]


def test_pool_needs_exactly_one_source_of_owners(tmp_path: Path) -> None:
    for extra in ([], ["--owners", str(tmp_path), "--assignment", str(tmp_path / "a.json")]):
        done = subprocess.run(
            [*SYFT_BG, "pool", *extra], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode != 0
        assert "exactly one of --assignment or --owners" in done.stderr


def test_sigterm_stops_the_pool_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "pool.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *SYFT_BG,
                "pool",
                "--owners",
                str(tmp_path / "owners"),
                "--metrics-port",
                "0",
                "--metrics-host",
                "127.0.0.1",
            ],
            stdout=sink,
            stderr=sink,
        )
    try:
        eventually(lambda: "serving metrics" in log.read_text(), timeout=60, what="start-up")
        # The owners folder does not exist: said once, and the pool keeps running.
        eventually(lambda: "cannot list the owners folder" in log.read_text(), what="the error")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
