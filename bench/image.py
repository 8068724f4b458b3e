"""Benchmark 6: the image's size and the idle monitor's memory inside it (issue 14).

    bash scripts/with-test-image.sh .venv/bin/python -m bench.image [--before TAG]

(or, with an engine running and the image built: `python -m bench.image --image syft-monitor:test
--docker docker`). Prints Markdown rows for bench/README.md, section 6; it needs a Docker Engine,
so it is not part of `make bench`.

- size: the image (`docker image inspect` .Size) and the venv `/opt/syft-monitor` inside it, as
  `du` counts it (disk blocks) and as bytes (`du --apparent-size`), with its largest packages;
- idle memory: `syft-bg run notify` against the Drive/Gmail sandbox on 127.0.0.1, polling every
  second with nothing new, once in the image (hardened, host network) and once as a bare process
  from the project venv; after the baseline and 30 idle polls we read VmRSS and VmHWM of the
  monitor process (PID 1 in the container) from /proc/PID/status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from bench.harness import REPO
from syft_sandbox import Sandbox, SandboxServer

DO = "owner@bench.example"
IDLE_POLLS = 30
HARDENED = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
HARDENED += ["--security-opt", "no-new-privileges"]


def sh(*args: str, timeout: float = 300) -> str:
    return subprocess.run(
        args, capture_output=True, text=True, check=True, timeout=timeout
    ).stdout.strip()


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def sizes(docker: str, image: str) -> dict[str, str]:
    size = int(sh(docker, "image", "inspect", "--format", "{{.Size}}", image))
    script = (
        "cd /opt/syft-monitor/lib/python3*/site-packages && "
        "du -sk /opt/syft-monitor | cut -f1 && du -sk --apparent-size /opt/syft-monitor | cut -f1 "
        "&& du -sk * | sort -rn | head -5"
    )
    lines = sh(docker, "run", "--rm", "--network", "none", image, "sh", "-c", script).splitlines()
    top = ", ".join(f"{name} {int(k) / 1024:.0f}" for k, name in (ln.split() for ln in lines[2:]))
    return {
        "image": mib(size),
        "venv du": mib(int(lines[0]) * 1024),
        "venv bytes": mib(int(lines[1]) * 1024),
        "largest packages (MiB, du)": top,
    }


def status_of(read: Callable[[], str]) -> dict[str, int]:
    found = {}
    for line in read().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


def config_for(server: SandboxServer, paths: dict[str, str]) -> dict[str, object]:
    return {
        "do_email": DO,
        "syftbox_root": None,
        "google_api_root": server.url,
        "interval": 1,
        **paths,
    }


def polls(sandbox_requests: Callable[[], int], count: int, timeout: float = 120) -> None:
    target = sandbox_requests() + count
    deadline = time.monotonic() + timeout
    while sandbox_requests() < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} polls in {timeout:.0f} s")
        time.sleep(0.2)


def idle_memory(docker: str, image: str) -> dict[str, dict[str, int]]:
    results: dict[str, dict[str, int]] = {}
    sandbox = Sandbox(seed=1)
    sandbox.add_user(DO)
    with tempfile.TemporaryDirectory() as tmp, sandbox.serve() as server:
        folder = Path(tmp)
        folder.chmod(0o755)
        token = server.write_token_files(folder / "tokens")[DO]
        token.chmod(0o644)
        state = folder / "state"
        state.mkdir(mode=0o777)
        state.chmod(0o777)

        def changes() -> int:
            return len(sandbox.requests(0, api="drive", method="changes.list"))

        def write(name: str, paths: dict[str, str]) -> Path:
            path = folder / name
            path.write_text(yaml.safe_dump(config_for(server, paths)))
            path.chmod(0o644)
            return path

        inside = write(
            "container.yaml",
            {
                "drive_token_path": "/etc/syft-monitor/token.json",
                "gmail_token_path": "/etc/syft-monitor/token.json",
                "state_file": "/var/lib/syft-monitor/container.json",
            },
        )
        name = f"bench-idle-{os.getpid()}"
        sh(
            docker, "run", "--detach", "--name", name, *HARDENED, "--network", "host",
            "--volume", f"{inside}:/etc/syft-monitor/config.yaml:ro",
            "--volume", f"{token}:/etc/syft-monitor/token.json:ro",
            "--volume", f"{state}:/var/lib/syft-monitor",
            "--env", "SYFT_MONITOR_CONFIG=/etc/syft-monitor/config.yaml",
            image, "syft-bg", "run", "notify",
        )  # fmt: skip
        try:
            polls(changes, IDLE_POLLS + 1)
            results["in the image (hardened container)"] = status_of(
                lambda: sh(docker, "exec", name, "cat", "/proc/1/status")
            )
        finally:
            subprocess.run([docker, "rm", "--force", name], capture_output=True, check=False)

        bare = write(
            "bare.yaml",
            {
                "drive_token_path": str(token),
                "gmail_token_path": str(token),
                "state_file": str(state / "bare.json"),
            },
        )
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "syft-bg"), "--config", str(bare), "run", "notify"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": tmp},
        )
        try:
            polls(changes, IDLE_POLLS + 1)
            results["bare process (project venv)"] = status_of(
                lambda: Path(f"/proc/{process.pid}/status").read_text()
            )
        finally:
            process.terminate()
            process.wait(30)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.environ.get("SYFT_TEST_IMAGE", "syft-monitor:test"))
    parser.add_argument("--docker", default=os.environ.get("SYFT_DOCKER", "docker"))
    parser.add_argument("--before", help="another tag to size, e.g. a build of the old Dockerfile")
    args = parser.parse_args(argv)
    print(f"<!-- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit()} -->")
    print("| image | size | venv (du) | venv (bytes) | largest packages (MiB, du) |")
    print("|---|---|---|---|---|")
    for tag in [t for t in (args.before, args.image) if t]:
        s = sizes(args.docker, tag)
        row = [tag, s["image"], s["venv du"], s["venv bytes"], s["largest packages (MiB, du)"]]
        print("| " + " | ".join(row) + " |")
    print()
    print(f"| `syft-bg run notify`, idle ({IDLE_POLLS} polls at 1 s) | VmRSS | VmHWM (peak) |")
    print("|---|---|---|")
    for where, found in idle_memory(args.docker, args.image).items():
        print(f"| {where} | {mib(found['VmRSS'])} | {mib(found['VmHWM'])} |")
    return 0


def commit() -> str:
    try:
        return sh("git", "-C", str(REPO), "rev-parse", "--short", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
