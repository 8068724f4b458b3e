"""A sandbox, token files, a daemon folder and a config for tests that run real daemons.

Everything lives under the test's tmp folder ($SYFT_MONITOR_HOME points there), and every
daemon process whose command line names that folder is SIGKILLed at teardown, whatever the test
did, so no test leaks a process into the next.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.oauth2.credentials import Credentials

from syft_monitors.daemon.manager import DaemonManager
from syft_monitors.daemon.process import CHILD_MODULE, is_alive
from syft_monitors.google.clients import build_drive_service
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.actors import SimulatedDataScientist
from tests.support import wait_for

DO = "owner@daemon.example"
DS = "alice@uni.example"


@dataclass
class DaemonWorld:
    sandbox: Sandbox
    server: SandboxServer
    root: Path
    home: Path
    config_path: Path
    tokens: dict[str, Path]
    base_config: dict[str, Any]
    _services: list[Any] = field(default_factory=list)

    def write_config(self, **overrides: Any) -> Path:
        data = {**self.base_config, **overrides}
        self.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return self.config_path

    def manager(self, service: str = "notify", **kwargs: Any) -> DaemonManager:
        return DaemonManager(self.config_path, service, **kwargs)

    def log_text(self, service: str = "notify", *, errors: bool = False) -> str:
        suffix = "error.log" if errors else "log"
        path = self.home / f"syft-{service}.{suffix}"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def wait_for_log(self, text: str, service: str = "notify", *, errors: bool = False) -> None:
        wait_for(lambda: text in self.log_text(service, errors=errors), f"log line {text!r}")

    def drive_requests(self, method: str) -> int:
        return len([r for r in self.sandbox.requests(0, api="drive") if r.operation == method])

    def scientist(self, email: str = DS) -> SimulatedDataScientist:
        service = build_drive_service(
            Credentials(self.sandbox.access_token(email)),  # type: ignore[no-untyped-call]
            api_root=self.server.url,
        )
        self._services.append(service)
        return SimulatedDataScientist(email, service)

    def close(self) -> None:
        for service in self._services:
            service.close()


def daemon_pids(folder: Path) -> list[int]:
    """PIDs of our daemon processes (and launchers) whose command line mentions `folder`."""
    found = []
    marker = str(folder)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [part.decode("utf-8", "replace") for part in argv]
        if CHILD_MODULE in text and any(marker in part for part in text):
            found.append(int(entry.name))
    return found


def kill_leftovers(folder: Path) -> list[int]:
    # Twice: a launcher caught by the first scan may have spawned its daemon meanwhile.
    pids = _kill(folder)
    return pids + _kill(folder)


def _kill(folder: Path) -> list[int]:
    pids = daemon_pids(folder)
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        wait_for(lambda pid=pid: not is_alive(pid), f"PID {pid} to end", 10)
    return pids


@contextmanager
def daemon_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonWorld]:
    sandbox = Sandbox(seed=3)
    sandbox.add_user(DO)
    sandbox.add_user(DS)
    home = tmp_path / "home"
    monkeypatch.setenv("SYFT_MONITOR_HOME", str(home))
    for name in ("SYFT_GOOGLE_API_ROOT", "SYFT_MONITOR_CONFIG", "SYFT_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    server = sandbox.serve()
    world = None
    try:
        tokens = server.write_token_files(tmp_path / "tokens")
        home.mkdir()
        base = {
            "do_email": DO,
            "syftbox_root": None,
            "drive_token_path": str(tokens[DO]),
            "gmail_token_path": str(tokens[DO]),
            "state_file": str(home / "state.json"),
            "google_api_root": server.url,
            "interval": 1,
        }
        world = DaemonWorld(sandbox, server, tmp_path, home, home / "config.yaml", tokens, base)
        world.write_config()
        yield world
    finally:
        kill_leftovers(tmp_path)
        if world is not None:
            world.close()
        server.stop()
