"""One end-to-end session in a real terminal (tmux): the README's "Run it on your machine".

Window "sandbox" runs `python -m syft_monitors.sandbox`; window "main" types
init -> doctor -> start -> status -> logs -> stop, and each command's output and exit code
are read back from the pane.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_testkit import kill_leftovers, wait_for

DO = "do@sandbox.example.org"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def pane(self, window: str) -> str:
        return self("capture-pane", "-p", "-J", "-S", "-5000", "-t", f"e2e:{window}")

    def type(self, window: str, line: str) -> None:
        self("send-keys", "-t", f"e2e:{window}", "-l", line)
        self("send-keys", "-t", f"e2e:{window}", "Enter")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Tmux]:
    tmux = Tmux(f"syft-e2e-{uuid.uuid4().hex[:8]}")
    # PATH goes on the shell's command line: tmux gives new panes the client's PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {"SYFT_MONITOR_HOME": str(tmp_path / "home"), "PS1": "$ "}
    flags = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    shell = (
        "env -u SYFT_GOOGLE_API_ROOT -u SYFT_MONITOR_CONFIG -u SYFT_LOG_FORMAT "
        f"PATH={shlex.quote(path)} bash --norc --noprofile"
    )
    tmux("new-session", "-d", "-s", "e2e", "-n", "sandbox", "-x", "200", "-y", "50", *flags, shell)
    tmux("new-window", "-t", "e2e", "-n", "main", *flags, shell)
    try:
        yield tmux
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True, check=False)
        kill_leftovers(tmp_path)
        for pid in _sandbox_pids(tmp_path):
            os.kill(pid, signal.SIGKILL)


def _sandbox_pids(tmp_path: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"syft_monitors.sandbox" in argv and str(tmp_path).encode() in argv:
                found.append(int(entry.name))
    return found


def test_init_doctor_start_status_logs_stop(session: Tmux, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    session.type("sandbox", f"python -m syft_monitors.sandbox --port 0 --token-dir {tokens}")
    screen = wait_for(
        lambda: "Ctrl-C to stop." in (text := session.pane("sandbox")) and text,
        "the sandbox to serve",
    )
    url = re.search(r"sandbox API root: (http://127\.0\.0\.1:\d+/)", screen)
    assert url is not None, screen
    token = tokens / f"{DO}.json"
    assert token.exists()

    step = 0

    def run(command: str) -> tuple[int, str]:
        nonlocal step
        step += 1
        marker = f"__STEP_{step}_DONE__"
        session.type("main", f"{command}; echo {marker} rc=$?")
        pane = wait_for(
            lambda: (text := session.pane("main")).count(marker) >= 2 and text,
            f"step {step}: {command}",
            timeout=60,
        )
        # The command line echoes the marker once; its output ends at the second one.
        start = pane.index(marker) + len(marker)
        body, _, rest = pane[start:].partition(marker)
        code = int(re.match(r" rc=(\d+)", rest).group(1))  # type: ignore[union-attr]
        return code, body

    code, out = run(f"syft-bg init -e {DO} -t {token} --api-root {url.group(1)}")
    assert code == 0, out
    assert f"wrote {tmp_path / 'home' / 'config.yaml'} for {DO}" in out

    code, out = run("syft-bg doctor")
    assert code == 0, out
    assert f"ok   drive: reachable as {DO}" in out
    assert "ok   gmail: reachable" in out
    assert "FAIL" not in out

    code, out = run("syft-bg start")
    assert code == 0, out
    pid = re.search(r"notify: started \(PID (\d+)\)", out)
    assert pid is not None, out

    code, out = run("syft-bg status")
    assert code == 0, out
    assert re.search(rf"notify\s+│\s+running\s+│\s+{pid.group(1)}", out), out
    assert re.search(r"approve\s+│\s+off", out), out

    code, out = run("syft-bg logs notify")
    assert code == 0, out
    assert f"notify starting (PID {pid.group(1)}" in out
    assert "notify running, polling every 30 s" in out

    code, out = run("syft-bg stop")
    assert code == 0, out
    assert "notify: stopped" in out
    assert not (tmp_path / "home" / "syft-notify.pid").exists()
