"""`syft-bg run notify` in the image, as the operator's pods run it, against the sandbox.

Config and token files are mounted read-only, the state lives on a mounted folder, the root
filesystem is read-only and no capability is left. The sandbox runs in this test process; the
container shares the host's network and reaches it (and we reach its /metrics) over loopback.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from container_testkit import Docker
from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_drive_service
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.actors import SimulatedDataOwner, SimulatedDataScientist
from tests.support import eventually, free_port

pytestmark = pytest.mark.container

DO = "owner@container.example"
DS = "alice@uni.example"
JOB = "container job"
#: Submitted while the monitor is stopped: only a monitor that resumes from its saved cursor
#: emails it (a fresh state would take it into a silent baseline).
JOB_WHILE_STOPPED = "second job"
#: docker stop's grace period: SIGTERM, then SIGKILL (exit 137) after this many seconds, as
#: Kubernetes does with terminationGracePeriodSeconds. Exit 0 proves the monitor stopped by itself.
STOP_GRACE = 2


@dataclass
class MonitorSetup:
    sandbox: Sandbox
    server: SandboxServer
    state_file: Path
    port: int
    options: list[str]

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def job_emails(self, job: str = JOB) -> list[tuple[str, str]]:
        """(To, Subject) of every email the DO's account sent about `job`."""
        sent = [
            (str(m.message["To"]), str(m.message["Subject"])) for m in self.sandbox.sent_mail(DO)
        ]
        return [email for email in sent if job in email[1]]

    def job_email_to_do(self, job: str = JOB) -> bool:
        return any(to == DO for to, _ in self.job_emails(job))

    def drive_polls(self) -> int:
        requests = self.sandbox.requests(0, api="drive")
        return len([r for r in requests if r.operation == "changes.list"])

    def baselined(self) -> bool:
        if not self.state_file.exists():
            return False
        return bool(JsonStateManager(self.state_file).load().cursors)


def sent_once(emails: list[tuple[str, str]]) -> bool:
    return len(emails) == len(set(emails))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[MonitorSetup]:
    sandbox = Sandbox(seed=5)
    sandbox.add_user(DO)
    sandbox.add_user(DS)
    with sandbox.serve() as server:
        token = server.write_token_files(tmp_path / "tokens")[DO]
        # Bind-mounted as is: the container's uid 10001 must be able to read it (a Kubernetes
        # Secret volume gets the same through fsGroup).
        token.chmod(0o644)
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        state_dir.chmod(0o777)
        port = free_port()
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "do_email": DO,
                    "syftbox_root": None,
                    "drive_token_path": "/etc/syft-monitor/token.json",
                    "gmail_token_path": "/etc/syft-monitor/token.json",
                    "state_file": "/var/lib/syft-monitor/state.json",
                    "google_api_root": server.url,
                    "interval": 1,
                    "metrics_port": port,
                    "metrics_host": "127.0.0.1",
                }
            )
        )
        config.chmod(0o644)
        options = [
            "--network", "host",
            "--volume", f"{config}:/etc/syft-monitor/config.yaml:ro",
            "--volume", f"{token}:/etc/syft-monitor/token.json:ro",
            "--volume", f"{state_dir}:/var/lib/syft-monitor",
            "--env", "SYFT_MONITOR_CONFIG=/etc/syft-monitor/config.yaml",
        ]  # fmt: skip
        yield MonitorSetup(sandbox, server, state_dir / "state.json", port, options)


def drive(setup: MonitorSetup, email: str) -> object:
    return build_drive_service(
        Credentials(setup.sandbox.access_token(email)),  # type: ignore[no-untyped-call]
        api_root=setup.server.url,
    )


def submit_job(setup: MonitorSetup) -> SimulatedDataScientist:
    scientist = SimulatedDataScientist(DS, drive(setup, DS))
    scientist.request_peer(DO)
    SimulatedDataOwner(DO, drive(setup, DO)).accept_peer(DS)
    scientist.submit_job(DO, JOB, {"main.py": "print('hello from a container')\n"})
    return scientist


def wait_polls(setup: MonitorSetup, more: int) -> None:
    target = setup.drive_polls() + more
    eventually(lambda: setup.drive_polls() >= target, what=f"{more} more polls", timeout=30)


def test_monitor_container_emails_once_stops_cleanly_and_resumes(
    docker: Docker, setup: MonitorSetup
) -> None:
    name = docker.run_detached("syft-bg", "run", "notify", options=setup.options)

    def healthy() -> bool:
        return setup.get("/healthz")[0] == 200

    try:
        eventually(healthy, what="/healthz 200", timeout=60)
        eventually(setup.baselined, what="the first (silent) baseline poll", timeout=30)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- container log ---\n{docker.logs(name)}") from error
    status, metrics = setup.get("/metrics")
    assert status == 200
    assert "syft_monitor_" in metrics

    scientist = submit_job(setup)
    eventually(setup.job_email_to_do, what="the job's email to the data owner", timeout=30)
    wait_polls(setup, 3)
    emailed = setup.job_emails()
    assert sent_once(emailed), emailed

    started = time.monotonic()
    docker("stop", "--time", str(STOP_GRACE), name, timeout=STOP_GRACE + 30)
    stop_seconds = time.monotonic() - started
    state = json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)
    log = docker.logs(name)
    print(f"docker stop took {stop_seconds:.2f} s")  # the figure the issue asks for (pytest -s)
    assert state["ExitCode"] == 0, f"after {stop_seconds:.1f} s:\n{log[-3000:]}"
    saved = JsonStateManager(setup.state_file).load()
    assert [key for key in saved.notified if key.startswith("new_job:")], saved.notified.keys()
    assert saved.heartbeat.last_success_at is not None

    # A new container on the same state volume (as a restarted pod): it resumes where the first
    # stopped (the job submitted meanwhile is emailed) and sends nothing twice.
    scientist.submit_job(DO, JOB_WHILE_STOPPED, {"main.py": "print('while stopped')\n"})
    docker.run_detached("syft-bg", "run", "notify", options=setup.options)
    eventually(healthy, what="/healthz 200 after the restart", timeout=60)
    eventually(
        lambda: setup.job_email_to_do(JOB_WHILE_STOPPED),
        what="the email of the job submitted while stopped",
        timeout=30,
    )
    wait_polls(setup, 3)
    assert setup.job_emails() == emailed
    assert sent_once(setup.job_emails(JOB_WHILE_STOPPED)), setup.job_emails(JOB_WHILE_STOPPED)
