"""`DaemonManager`: start, stop, restart and inspect one service's background process.

Files (in the config's daemon folder: `daemon_dir`, else $SYFT_MONITOR_HOME, else ~/.syft-creds):
`syft-{service}.pid` (held under an exclusive flock by the daemon, see `pidfile`),
`syft-{service}.log` and `syft-{service}.error.log` (rotating, 10 MB x 7).

`status()` and `logs()` write to a stream (stdout by default) because the seed API promises that
they print; everything else reports through return values, `last_error` and `logging`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

import yaml

from syft_monitors.daemon.logtail import LogFollower, file_size, tail_lines
from syft_monitors.daemon.pidfile import is_locked, read_pid, remove_stale
from syft_monitors.daemon.process import CHILD_MODULE, is_alive, is_our_daemon
from syft_monitors.daemon.registry import get_service
from syft_monitors.errors import ConfigError
from syft_monitors.files import read_regular

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0
KILL_TIMEOUT = 5.0
START_TIMEOUT = 60.0
_POLL = 0.05


class DaemonManager:
    """Lifecycle of one service daemon (`service` is "notify" or "approve")."""

    def __init__(
        self,
        config_path: str | os.PathLike[str] | None = None,
        service: str = "notify",
        *,
        stop_timeout: float = STOP_TIMEOUT,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        from syft_monitors.config import default_config_path  # noqa: PLC0415

        self.spec = get_service(service)
        self.service = self.spec.name
        raw = config_path if config_path is not None else default_config_path()
        self.config_path = Path(os.path.expanduser(os.fspath(raw))).absolute()
        self.home = daemon_home(self.config_path)
        self.pid_file = self.home / self.spec.pid_name
        self.log_file = self.home / self.spec.log_name
        self.error_log_file = self.home / self.spec.error_log_name
        self.health_file = self.home / self.spec.health_name
        self.stop_timeout = stop_timeout
        self.start_timeout = start_timeout
        #: Why the last start/stop returned False, as one line for a human.
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"DaemonManager({str(self.config_path)!r}, service={self.service!r})"

    # --- PID ------------------------------------------------------------------------------

    def get_pid(self) -> int | None:
        """The daemon's PID, or None when it is not running."""
        if not is_locked(self.pid_file):
            return None
        pid = read_pid(self.pid_file)
        if pid is None:
            # The holder writes its PID right after locking: give it a moment.
            deadline = time.monotonic() + 1.0
            while pid is None and time.monotonic() < deadline and is_locked(self.pid_file):
                time.sleep(_POLL)
                pid = read_pid(self.pid_file)
        if pid is None or not is_our_daemon(pid, self.service):
            return None
        return pid

    def is_running(self) -> bool:
        """The lock is held and its PID is alive and runs our daemon module for this service."""
        return self.get_pid() is not None

    def uptime(self) -> float | None:
        """Seconds since the daemon wrote its PID file, or None when not running."""
        if self.get_pid() is None:
            return None
        try:
            return max(0.0, time.time() - self.pid_file.stat().st_mtime)
        except OSError:
            return None

    # --- start / stop ---------------------------------------------------------------------

    def start(self, interval: int | None = None) -> bool:
        """Start the daemon in the background and wait (up to `start_timeout`) for its first
        poll; False if it already runs, fails to start, or its first poll failed (it then keeps
        running and retrying: `last_error` says why and how to stop it).

        Raises ConfigError when the config file is invalid, StateError when the state file
        cannot be used (nothing is started then).
        """
        from syft_monitors.config import check_token_files, load_config  # noqa: PLC0415
        from syft_monitors.daemon.health import check_state_file  # noqa: PLC0415

        self.last_error = None
        config = load_config(self.config_path)
        check_token_files(config)
        check_state_file(config)
        if interval is not None and interval < 1:
            raise ConfigError("interval must be at least 1 second")
        pid = self.get_pid()
        if pid is not None:
            return self._fail(f"{self.service} is already running (PID {pid})")
        if remove_stale(self.pid_file):
            logger.info("%s: removed a stale PID file %s", self.service, self.pid_file)
        # Private: the folder usually holds the token files too.
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        try:
            try:
                launcher = subprocess.run(  # noqa: S603 - our interpreter and module, no shell
                    self._command(write_end, interval),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    pass_fds=(write_end,),
                    cwd=self.home,
                    env={**os.environ, "PYTHONUNBUFFERED": "1", "SYFT_BG_DAEMON": "1"},
                    timeout=30,
                    check=False,
                )
            finally:
                os.close(write_end)
            if launcher.returncode != 0:
                detail = launcher.stderr.decode("utf-8", "replace").strip().splitlines()
                return self._fail(
                    f"could not launch {self.service}: {detail[-1] if detail else 'no output'}"
                )
            message = _read_line(read_end, self.start_timeout)
        finally:
            os.close(read_end)
        return self._started(message)

    def _command(self, ready_fd: int, interval: int | None) -> list[str]:
        command = [
            sys.executable,
            "-m",
            CHILD_MODULE,
            "--detach",
            "--service",
            self.service,
            "--config",
            str(self.config_path),
            "--pid-file",
            str(self.pid_file),
            "--log",
            str(self.log_file),
            "--error-log",
            str(self.error_log_file),
            "--ready-fd",
            str(ready_fd),
        ]
        if interval is not None:
            command += ["--interval", str(interval)]
        return command

    def _started(self, message: str | None) -> bool:
        if message is not None and message.startswith("ready "):
            logger.info("%s started (PID %s)", self.service, message.split()[1])
            return True
        if message is not None and message.startswith("error "):
            return self._fail(message.removeprefix("error "))
        if message is not None and message.startswith("failing "):
            _, pid, *why = message.split(" ", 2)
            return self._fail(
                f"{self.service} started (PID {pid}) but its first poll failed:"
                f" {why[0] if why else 'unknown error'}; it keeps retrying"
                f" (`syft-bg stop {self.service}` stops it)"
            )
        if message is None and self.is_running():
            logger.warning("%s is still starting after %.0f s", self.service, self.start_timeout)
            return True
        last = tail_lines(self.error_log_file, 1)
        detail = f": {last[-1]}" if last else ""
        return self._fail(
            f"{self.service} exited during start-up (see {self.error_log_file}){detail}"
        )

    def stop(self) -> bool:
        """SIGTERM, wait up to `stop_timeout` s, then SIGKILL; False when it was not running."""
        self.last_error = None
        pid = self.get_pid()
        if pid is None:
            if remove_stale(self.pid_file):
                logger.info("%s: removed a stale PID file %s", self.service, self.pid_file)
            return self._fail(f"{self.service} is not running")
        logger.info("%s: stopping PID %d", self.service, pid)
        _signal(pid, signal.SIGTERM)
        if not _wait_gone(pid, self.stop_timeout):
            logger.warning(
                "%s: PID %d still running after %.0f s, sending SIGKILL",
                self.service,
                pid,
                self.stop_timeout,
            )
            # Checked again: in 10 s the PID may have ended and been reused by someone else.
            if is_our_daemon(pid, self.service):
                _signal(pid, signal.SIGKILL)
            if not _wait_gone(pid, KILL_TIMEOUT):
                return self._fail(f"{self.service} (PID {pid}) did not stop, even after SIGKILL")
        # A clean exit removes the file itself; after SIGKILL the file is left, unlocked.
        remove_stale(self.pid_file)
        return True

    def restart(self, interval: int | None = None) -> bool:
        """Stop (when running), then start."""
        if self.is_running() and not self.stop():
            return False
        return self.start(interval)

    def _fail(self, message: str) -> bool:
        # Info, not warning: the caller gets False and `last_error` and decides how loud to be.
        self.last_error = message
        logger.info("%s", message)
        return False

    # --- output ---------------------------------------------------------------------------

    def status(self, out: TextIO | None = None) -> bool:
        """Write PID, config path, log paths and the last 5 log lines; True when running."""
        stream = out if out is not None else sys.stdout
        pid = self.get_pid()
        state = f"running (PID {pid})" if pid is not None else "stopped"
        lines = [
            f"syft-{self.service}: {state}",
            f"config: {self.config_path}",
            f"log: {self.log_file}",
            f"error log: {self.error_log_file}",
        ]
        recent = tail_lines(self.log_file, 5)
        if recent:
            lines.append("last log lines:")
            lines.extend(f"  {line}" for line in recent)
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return pid is not None

    def logs(
        self,
        follow: bool = False,
        lines: int = 50,
        *,
        errors: bool = False,
        out: TextIO | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Write the last `lines` lines; with `follow`, keep writing new ones until `stop` is
        set or Ctrl-C. `errors` reads the error log instead."""
        stream = out if out is not None else sys.stdout
        path = self.error_log_file if errors else self.log_file
        # One offset for both parts: no line is shown twice or lost in between.
        size = file_size(path)
        follower = LogFollower(path, stop or threading.Event(), offset=size) if follow else None
        for line in tail_lines(path, lines, end=size):
            stream.write(line + "\n")
        stream.flush()
        if follower is None:
            return
        try:
            for line in follower:
                stream.write(line + "\n")
                stream.flush()
        except KeyboardInterrupt:
            return
        finally:
            follower.close()


def daemon_home(config_path: Path) -> Path:
    """The daemon folder for a config file, also when the file is currently invalid.

    A broken config must not hide a running daemon from `stop`: the folder comes from a valid
    config's `home()`, else from a readable `daemon_dir` key, else from the environment default.
    """
    from syft_monitors.config import load_config, monitor_home  # noqa: PLC0415

    try:
        return load_config(config_path).home()
    except ConfigError:
        pass
    try:
        data = yaml.safe_load(read_regular(config_path, 1024 * 1024))
    except (OSError, yaml.YAMLError, RecursionError, ValueError):  # deep nesting, huge numbers
        data = None
    folder = data.get("daemon_dir") if isinstance(data, dict) else None
    if isinstance(folder, str) and folder.strip():
        return Path(os.path.expanduser(folder.strip()))
    return monitor_home()


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _read_line(fd: int, timeout: float) -> str | None:
    """One line from the start-up pipe; None on EOF without a line, or on timeout."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    text = data.decode("utf-8", "replace").split("\n", 1)[0].strip()
    return text or None
