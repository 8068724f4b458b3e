"""Time `docker stop` of `syft-bg run notify` in a container, idle, backing off and hanging.

    .venv/bin/python scripts/measure_container_stop.py IMAGE [CODE_DIR]

The sandbox runs in this process on loopback (the container uses the host network). With
CODE_DIR, that `syft_monitors` folder is mounted over the image's copy, to compare versions
without rebuilding. Prints one line per case: seconds `docker stop` took, the exit code
(137 = killed after Docker's 10 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import FaultRule, Sandbox

DO = "owner@container.example"
SITE = "/opt/syft-monitor/lib/python3.11/site-packages/syft_monitors"


def main(image: str, code: str | None) -> None:
    sandbox = Sandbox(seed=1)
    sandbox.add_user(DO)
    server = sandbox.serve()
    root = Path(tempfile.mkdtemp(prefix="syft-stop-"))
    root.chmod(0o777)
    tokens = server.write_token_files(root / "tokens")
    cases: list[tuple[str, FaultRule | None]] = [
        ("idle", None),
        ("backing off (Drive 503)", FaultRule.server_error(503, api="drive")),
        ("hanging server", FaultRule.slow(60.0, api="drive")),
    ]
    try:
        for index, (what, fault) in enumerate(cases):
            home = root / f"case{index}"
            home.mkdir(mode=0o777)
            config = {
                "do_email": DO,
                "syftbox_root": None,
                "drive_token_path": str(tokens[DO]),
                "gmail_token_path": str(tokens[DO]),
                "state_file": str(home / "state.json"),
                "google_api_root": server.url,
                "interval": 1,
            }
            (home / "config.yaml").write_text(yaml.safe_dump(config))
            name = f"syft-stop-{os.getpid()}-{index}"
            mount = ["-v", f"{code}:{SITE}:ro"] if code else []
            docker = ["docker", "run", "-d", "--name", name, "--network", "host", "--user", "0"]
            volumes = ["-e", f"SYFT_MONITOR_HOME={home}", "-v", f"{root}:{root}", *mount]
            command = ["syft-bg", "--config", str(home / "config.yaml"), "run", "notify"]
            subprocess.run(
                [*docker, *volumes, image, *command],
                check=True,
                capture_output=True,
            )
            try:
                print(f"{what}: {_stop_after(sandbox, home, name, fault)}")
            finally:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    finally:
        server.stop()


def _stop_after(sandbox: Sandbox, home: Path, name: str, fault: FaultRule | None) -> str:
    state = home / "state.json"
    deadline = time.monotonic() + 60
    while not (state.exists() and JsonStateManager(state).load().cursors):
        if time.monotonic() > deadline:
            return "no first poll within 60 s"
        time.sleep(0.2)
    rule = sandbox.faults.add(fault) if fault is not None else None
    if rule is not None:
        while sandbox.faults.hits(rule) < 1:
            time.sleep(0.05)
        time.sleep(0.3)  # inside the request, or the backoff after it
    started = time.monotonic()
    subprocess.run(["docker", "stop", name], check=True, capture_output=True)
    took = time.monotonic() - started
    if rule is not None:
        sandbox.faults.remove(rule)
    code = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.ExitCode}}", name],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"docker stop {took:.2f} s, exit code {code}"


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
