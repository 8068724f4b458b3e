"""Logging for the daemons (rotating files) and for `syft-bg run` (stderr, text or JSON).

Daemon format is the seed's: `YYYY-MM-DD HH:MM:SS - logger - level - message`, 10 MB x 7 backups
per file; WARNING and above also go to the error log, so `logs` of the error file is a short list
of what went wrong. `run` logs JSON lines when `SYFT_LOG_FORMAT=json`, or when unset and stderr
is not a terminal inside a container (Kubernetes, Docker, Podman), where a log collector parses
them; anything else gets the readable format.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import os
import sys
from io import TextIOWrapper
from pathlib import Path
from typing import TextIO

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 7
LOG_FORMAT_ENV = "SYFT_LOG_FORMAT"
LOG_LEVEL_ENV = "SYFT_LOG_LEVEL"

#: Handlers we installed, so a second configure call replaces instead of duplicating them.
_OURS = "_syft_monitor_handler"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Creates its files 0600 whatever the umask (also after a rotation): logs name people,
    jobs and files of the data owner."""

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def rotating_handler(path: Path, level: int = logging.NOTSET) -> logging.Handler:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = PrivateRotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
    )
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    return handler


def configure_daemon_logging(log_path: Path, error_log_path: Path) -> None:
    """Root logger -> `log_path` (everything) and `error_log_path` (WARNING and above)."""
    _install(
        [rotating_handler(log_path), rotating_handler(error_log_path, logging.WARNING)],
    )


def configure_foreground_logging(stream: TextIO | None = None, fmt: str | None = None) -> str:
    """Root logger -> `stream` (stderr); returns the format chosen ("json" or "text")."""
    target = stream if stream is not None else sys.stderr
    chosen = fmt or choose_format(target)
    handler = logging.StreamHandler(target)
    formatter: logging.Formatter = (
        JsonFormatter() if chosen == "json" else logging.Formatter(LOG_FORMAT, DATE_FORMAT)
    )
    handler.setFormatter(formatter)
    _install([handler])
    return chosen


def choose_format(stream: TextIO) -> str:
    wanted = os.environ.get(LOG_FORMAT_ENV, "").strip().lower()
    if wanted in ("json", "text"):
        return wanted
    interactive = hasattr(stream, "isatty") and stream.isatty()
    return "json" if not interactive and in_container() else "text"


def in_container() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) or any(
        Path(marker).exists() for marker in ("/.dockerenv", "/run/.containerenv")
    )


def _install(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _OURS, False):
            root.removeHandler(old)
            old.close()
    for handler in handlers:
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(_level())
    logging.captureWarnings(True)


def _level() -> int:
    name = os.environ.get(LOG_LEVEL_ENV, "INFO").strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def remove_our_handlers() -> None:
    """Undo `configure_*` (tests and embedders)."""
    _install([])
    logging.captureWarnings(False)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO 8601), level, logger, message[, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)
