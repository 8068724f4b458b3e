"""`python -m syft_monitors.daemon.child`: the daemon process (and its one-shot launcher).

`DaemonManager.start` runs this module with `--detach`: that launcher starts the module again in
a new session with stdio on the log files and exits at once, so the daemon is re-parented to init
and never becomes a zombie of (or a warning in) the process that started it. The daemon takes the
PID file lock before anything else, configures rotating logs, builds the monitor, polls once and
reports how that went on the pipe the manager passed as `--ready-fd` (`ready <pid>`, `failing
<pid> <why>`, or `error <message>` when it could not start at all), and polls until SIGTERM.

Exit codes: 0 stopped, 2 config error, 3 another daemon holds the lock, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from syft_monitors.daemon.health import remove_health
from syft_monitors.daemon.pidfile import AlreadyLockedError, PidFileLock
from syft_monitors.interrupt import StopRequested

logger = logging.getLogger("syft_monitors.daemon")

EXIT_CONFIG = 2
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syft_monitors.daemon.child")
    parser.add_argument("--service", required=True)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--pid-file", required=True, type=Path)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--error-log", required=True, type=Path)
    parser.add_argument("--interval", type=int, default=None)
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--detach", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.detach:
        return _launch(args, list(argv if argv is not None else sys.argv[1:]))
    return _daemon(args)


def _launch(args: argparse.Namespace, argv: list[str]) -> int:
    """Start the daemon detached (new session, stdio on the log files) and return at once."""
    child_argv = [arg for arg in argv if arg != "--detach"]
    args.log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _private_append(args.log) as out, _private_append(args.error_log) as err:
        subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "syft_monitors.daemon.child", *child_argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            pass_fds=(args.ready_fd,) if args.ready_fd is not None else (),
        )
    # Not waited for on purpose; _exit skips Popen's "still running" finaliser warning.
    os._exit(0)


def _private_append(path: Path) -> BinaryIO:
    # 0600 whatever the umask: the daemon's stdout and stderr go to its log files.
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")


def _daemon(args: argparse.Namespace) -> int:
    from syft_monitors.daemon.logsetup import configure_daemon_logging  # noqa: PLC0415
    from syft_monitors.daemon.registry import get_service  # noqa: PLC0415
    from syft_monitors.daemon.runner import ServiceRunner  # noqa: PLC0415
    from syft_monitors.errors import SyftMonitorError  # noqa: PLC0415

    ready = _Ready(args.ready_fd)
    try:
        spec = get_service(args.service)
        health = args.pid_file.with_name(spec.health_name)
        runner = ServiceRunner(spec, args.config, interval=args.interval, health_file=health)
    except SyftMonitorError as error:
        ready.send(f"error {error}")
        return EXIT_CONFIG
    # Before anything slow: a SIGTERM during start-up must still end the daemon cleanly.
    runner.install_signal_handlers()
    lock = PidFileLock(args.pid_file)
    try:
        lock.acquire()
    except AlreadyLockedError as error:
        ready.send(f"error {args.service} is {error}")
        return EXIT_LOCKED
    try:
        # Only the lock holder may write (and rotate) the log files.
        configure_daemon_logging(args.log, args.error_log)
        sys.excepthook = _log_uncaught
        logger.info("%s starting (PID %d, config %s)", args.service, os.getpid(), args.config)
        try:
            runner.setup()
        except SyftMonitorError as error:
            logger.error("%s cannot start: %s", args.service, error)
            ready.fail(str(error))
            return EXIT_CONFIG
        except Exception as error:
            logger.exception("%s cannot start", args.service)
            ready.fail(f"{args.service} cannot start: {type(error).__name__}: {error}")
            return 1
        logger.info("%s running, polling every %d s", args.service, runner.interval)

        def first_poll(ok: bool, problem: str | None) -> None:
            # The manager waits for this: `syft-bg start` then says whether the service works.
            if ok or problem is None:
                ready.send(f"ready {os.getpid()}")
            else:
                ready.send(f"failing {os.getpid()} {problem}")

        runner.run(on_first_poll=first_poll)
        logger.info("%s stopped after %d polls", args.service, runner.polls)
        return 0
    except KeyboardInterrupt:
        logger.warning("%s interrupted", args.service)
        return EXIT_INTERRUPTED
    except StopRequested:  # SIGTERM while start-up waited on the network
        logger.info("%s stopped during start-up", args.service)
        return 0
    finally:
        runner.close()
        if lock.held:
            remove_health(health)
        lock.release()
        # Only now: a manager told "failed" must find the service stopped, not still exiting.
        ready.close()


def _log_uncaught(
    kind: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    logger.critical("daemon crashed", exc_info=(kind, value, traceback))


class _Ready:
    """The write end of the manager's start-up pipe: one line, then closed."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._failure: str | None = None

    def fail(self, message: str) -> None:
        """Report `message` as the start-up error when the pipe is closed."""
        self._failure = message

    def send(self, message: str) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.write(fd, (" ".join(message.split()) + "\n").encode("utf-8", "replace"))
        except OSError:
            pass  # the manager gave up waiting; the log files tell the rest
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._failure is not None:
            self.send(f"error {self._failure}")
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
