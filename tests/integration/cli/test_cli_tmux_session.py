"""A data owner's first hour in a real terminal (tmux), exactly as the README's "Run it on your
machine" says: its two code blocks are read from README.md and typed, line by line.

Window "sandbox" runs the sandbox block; window "main" types the owner's block: init (answering
its questions and signing in through a $BROWSER process), doctor, start, a job from the data
scientist, status, the TUI (read from the screen, then `q`), `logs -f` (then Ctrl-C) and stop.
Each command's output and exit code are read back from the pane; no traceback anywhere.
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
    (tmp_path / "person").mkdir()
    env = {
        "HOME": str(tmp_path / "person"),
        "PS1": "$ ",
        # The person's browser: visits the sign-in address and follows it back to `init`.
        "BROWSER": f"{sys.executable} {Path(__file__).with_name('fake_browser.py')} %s",
    }
    flags = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    shell = (
        "env -u SYFT_GOOGLE_API_ROOT -u SYFT_MONITOR_CONFIG -u SYFT_LOG_FORMAT -u DISPLAY "
        "-u SYFT_MONITOR_HOME "
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
            if b"syft_sandbox" in argv and str(tmp_path).encode() in argv:
                found.append(int(entry.name))
    return found


README = Path(__file__).resolve().parents[3] / "README.md"


def readme_block(marker: str) -> list[str]:
    found = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", README.read_text(), re.S)
    assert found, f"README block {marker} not found"
    return [line for line in found.group(1).splitlines() if line.strip()]


def test_first_hour_as_the_readme_says(session: Tmux, tmp_path: Path) -> None:
    work = str(tmp_path / "syft-sandbox")
    sandbox_lines = readme_block("first-hour-sandbox")
    assert sandbox_lines[0] == "make venv"  # done: the tests run in that venv
    (serve,) = sandbox_lines[1:]
    serve = serve.replace(".venv/bin/python", sys.executable).replace("--port 8765", "--port 0")
    session.type("sandbox", serve.replace("/tmp/syft-sandbox", work))
    screen = wait_for(
        lambda: "Ctrl-C to stop." in (text := session.pane("sandbox")) and text,
        "the sandbox to serve",
    )
    url = re.search(r"sandbox API root: (http://127\.0\.0\.1:\d+/)", screen)
    assert url is not None, screen
    home = Path(work) / "home"

    step = 0

    def send(command: str) -> str:
        nonlocal step
        step += 1
        marker = f"__STEP_{step}_DONE__"
        session.type("main", f"{command}; echo {marker} rc=$?")
        return marker

    def finish(marker: str, what: str, timeout: float = 60) -> tuple[int, str]:
        pane = wait_for(
            lambda: (text := session.pane("main")).count(marker) >= 2 and text,
            what,
            timeout=timeout,
        )
        # The command line echoes the marker once; its output ends at the second one.
        start = pane.index(marker) + len(marker)
        body, _, rest = pane[start:].partition(marker)
        code = int(re.match(r" rc=(\d+)", rest).group(1))  # type: ignore[union-attr]
        assert "Traceback" not in body, body
        return code, body

    def answer(prompt: str, reply: str) -> None:
        wait_for(lambda: prompt in session.pane("main"), f"the question {prompt!r}")
        session.type("main", reply)

    owner_lines = readme_block("first-hour-owner")
    assert owner_lines[0] == "source .venv/bin/activate"  # PATH already has the venv
    pid = ""
    for line in owner_lines[1:]:
        command = line.replace("http://127.0.0.1:8765/", url.group(1)).replace(
            "/tmp/syft-sandbox", work
        )
        marker = send(command)
        if command.startswith("syft-bg init"):
            answer("Your email", DO)
            answer("Your SyftBox folder (not there yet)", "")
            answer("Path of that file", f"{work}/credentials.json")
            answer("Choose", "")  # read and send: gmail.modify
            answer("Is there a web browser on this machine?", "y")
            code, out = finish(marker, "init")
            assert code == 0, out
            assert f"signed in: token saved to {home / 'token.json'} (mode 0600" in out
            assert f"wrote {home / 'config.yaml'} for {DO}" in out
        elif command.startswith("syft-bg doctor"):
            code, out = finish(marker, "doctor")
            assert code == 0, out
            assert f"ok   drive: reachable as {DO}" in out
            assert "FAIL" not in out
        elif command.startswith("syft-bg start"):
            code, out = finish(marker, "start")
            assert code == 0, out
            started = re.search(r"notify: started \(PID (\d+)\)", out)
            assert started is not None, out
            pid = started.group(1)
        elif "syft_sandbox.scientist" in command:
            code, out = finish(marker, "the data scientist")
            assert code == 0, out
            assert "submitted the job 'row count'" in out
            # The next poll (30 s, the default interval) emails it.
            wait_for(
                lambda: (
                    "sent new_job email about job 'row count'"
                    in (home / "syft-notify.log").read_text()
                ),
                "the new-job email",
                timeout=90,
            )
        elif command.startswith("syft-bg status"):
            code, out = finish(marker, "status")
            assert code == 0, out
            assert re.search(rf"notify\s+│\s+running\s+│\s+{pid}", out), out
        elif command.startswith("syft-bg tui"):
            shown = wait_for(
                lambda: (
                    "sent new_job email about job 'row count'" in (t := session.pane("main"))
                    and "events today" in t
                    and t
                ),
                "the dashboard",
            )
            assert "notify  running" in shown, shown
            assert f"PID        {pid}" in shown, shown
            session("send-keys", "-t", "e2e:main", "q")
            code, out = finish(marker, "the dashboard to quit")
            assert code == 0, out
        elif command.startswith("syft-bg logs -f"):
            wait_for(
                lambda after=marker: (
                    "sent new_job email about job 'row count'"
                    in session.pane("main").rpartition(after)[2]
                ),
                "logs -f to show the email",
            )
            session("send-keys", "-t", "e2e:main", "C-c")
            code, out = finish(marker, "logs -f to stop")
            assert code in (0, 130), out
            assert "Missing argument" not in out
        elif command.startswith("syft-bg stop"):
            code, out = finish(marker, "stop")
            assert code == 0, out
            assert "notify: stopped" in out
        else:
            code, out = finish(marker, command)
            assert code == 0, out
    assert not (home / "syft-notify.pid").exists()
    assert pid, "the README's block never started the daemon"


def test_bare_syft_bg_opens_the_dashboard_in_a_terminal(session: Tmux, tmp_path: Path) -> None:
    token = tmp_path / "token.json"
    token.write_text("{}")
    home = tmp_path / "home"
    session.type(
        "main",
        f"export SYFT_MONITOR_HOME={home}; syft-bg init -e {DO} -t {token} --no-interactive"
        " && syft-bg; echo __BARE_DONE__ rc=$?",
    )
    shown = wait_for(
        lambda: "events today" in (text := session.pane("main")) and text, "the dashboard"
    )
    assert "notify  stopped" in shown, shown
    assert "Recent events" in shown, shown
    session("send-keys", "-t", "e2e:main", "q")
    wait_for(lambda: "__BARE_DONE__ rc=0" in session.pane("main"), "the dashboard to quit")
    # Piped, the same command prints the table instead of taking over the screen.
    session.type("main", "syft-bg | cat; echo __PIPED_DONE__")
    piped = wait_for(
        lambda: (t := session.pane("main")).count("__PIPED_DONE__") >= 2 and t, "the table"
    )
    assert "main commands:" in piped.rpartition("__PIPED_DONE__")[0]
