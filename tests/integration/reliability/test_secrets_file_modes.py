"""What a running daemon writes to disk is private, and its tokens never travel in argv or env.

A real `notify` daemon (started by `DaemonManager`, as `syft-bg start` does) with the file sender
and a state file in a folder that does not exist yet, started under umask 000 so that nothing is
private by accident: the daemon folder, state folder and mail folder must be 0700; the log, error
log, PID, state, state lock and `.eml` files 0600. A rotated log file too. The daemon's
/proc/<pid>/cmdline and /proc/<pid>/environ must not contain the token values.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import yaml
from google.oauth2.credentials import Credentials

from syft_monitors.daemon.logsetup import rotating_handler
from syft_monitors.daemon.manager import DaemonManager
from syft_monitors.daemon.process import is_alive
from syft_monitors.google.clients import build_drive_service
from syft_sandbox import Sandbox
from syft_sandbox.actors import SimulatedDataScientist
from tests.support import wait_for

DO = "owner@hospital.example"
DS = "alice@uni.example"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"  # created by the daemon manager
    monkeypatch.setenv("SYFT_MONITOR_HOME", str(folder))
    for name in ("SYFT_GOOGLE_API_ROOT", "SYFT_MONITOR_CONFIG", "SYFT_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYFT_LOG_LEVEL", "DEBUG")
    return folder


def test_daemon_files_are_private_and_tokens_stay_out_of_argv_and_env(
    tmp_path: Path, home: Path
) -> None:
    sandbox = Sandbox(seed=9)
    sandbox.add_user(DO)
    sandbox.add_user(DS)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        secrets = json.loads(tokens[DO].read_text())
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "do_email": DO,
                    "syftbox_root": None,
                    "drive_token_path": str(tokens[DO]),
                    "sender": "file",
                    "mail_folder": str(home / "outbox"),
                    "state_file": str(home / "state" / "state.json"),
                    "google_api_root": server.url,
                    "interval": 1,
                }
            )
        )
        daemon = DaemonManager(config, "notify")
        with umask(0):
            assert daemon.start(), daemon.last_error
        pid = daemon.get_pid()
        assert pid is not None
        try:
            wait_for((home / "state" / "state.json").exists, "the first poll")
            service = build_drive_service(
                Credentials(sandbox.access_token(DS)),  # type: ignore[no-untyped-call]
                api_root=server.url,
            )
            SimulatedDataScientist(DS, service).request_peer(DO)
            service.close()
            emails = wait_for(lambda: list((home / "outbox").glob("*.eml")), "an email file")
            process = Path("/proc") / str(pid)
            argv = (process / "cmdline").read_bytes()
            environ = (process / "environ").read_bytes()
        finally:
            daemon.stop()
            with suppress(ProcessLookupError):
                if is_alive(pid):
                    os.kill(pid, signal.SIGKILL)

    folders = [home, home / "state", home / "outbox"]
    files = [
        home / "syft-notify.log",
        home / "syft-notify.error.log",
        home / "state" / "state.json",
        home / "state" / "state.json.lock",
        *emails,
    ]
    assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}
    for value in (secrets["token"], secrets["refresh_token"]):
        assert value.encode() not in argv
        assert value.encode() not in environ
    assert str(tokens[DO]).encode() not in environ  # the path travels in the config file only


def test_pid_file_is_private_while_the_daemon_runs(tmp_path: Path, home: Path) -> None:
    sandbox = Sandbox(seed=9)
    sandbox.add_user(DO)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "do_email": DO,
                    "syftbox_root": None,
                    "drive_token_path": str(tokens[DO]),
                    "sender": "file",
                    "state_file": str(tmp_path / "state.json"),
                    "google_api_root": server.url,
                }
            )
        )
        daemon = DaemonManager(config, "notify")
        with umask(0):
            assert daemon.start(), daemon.last_error
        pid = daemon.get_pid()
        assert pid is not None
        try:
            assert oct(mode(daemon.pid_file)) == "0o600"
        finally:
            daemon.stop()
            with suppress(ProcessLookupError):
                if is_alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_rotated_log_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "syft-notify.log"
    with umask(0):
        handler = rotating_handler(path)
        try:
            handler.handle(logging.makeLogRecord({"msg": "first", "levelno": logging.INFO}))
            assert isinstance(handler, logging.handlers.RotatingFileHandler)
            handler.doRollover()
            handler.handle(logging.makeLogRecord({"msg": "second", "levelno": logging.INFO}))
        finally:
            handler.close()
    rotated = path.with_name(path.name + ".1")
    assert rotated.read_text().strip().endswith("first")
    assert oct(mode(path.parent)) == "0o700"
    assert oct(mode(path)) == "0o600"
    assert oct(mode(rotated)) == "0o600"
