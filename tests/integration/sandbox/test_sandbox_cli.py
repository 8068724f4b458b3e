"""`python -m syft_sandbox`: serves until interrupted and writes usable token files."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from syft_monitors.google.clients import build_drive_service, load_credentials
from syft_monitors.google.retry import execute


def test_cli_serves_and_token_files_work(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "syft_sandbox",
            "--port",
            "0",
            "--user",
            "alice@example.org",
            "--token-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            line = process.stdout.readline()
            assert line, f"sandbox exited early: {process.stderr.read() if process.stderr else ''}"
            lines.append(line.strip())
        url = lines[0].split(": ", 1)[1]
        token_line = next(line for line in lines if line.startswith("token file for alice"))
        token_path = Path(token_line.split(": ", 1)[1])
        assert token_path.parent == tmp_path
        credentials = load_credentials(token_path, api_root=url)
        drive = build_drive_service(credentials, api_root=url, timeout=10)
        try:
            about = execute(
                drive.about().get(fields="user(emailAddress)"), api="drive", method="about.get"
            )
        finally:
            drive.close()
        assert about == {"user": {"emailAddress": "alice@example.org"}}
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "stopping" in out
