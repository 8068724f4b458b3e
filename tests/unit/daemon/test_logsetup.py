"""Daemon log files through the real handlers: format, error split, rotation at 10 MB x 7."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from syft_monitors.daemon.logsetup import (
    BACKUP_COUNT,
    MAX_BYTES,
    choose_format,
    configure_daemon_logging,
    configure_foreground_logging,
    remove_our_handlers,
)

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - [\w.]+ - (INFO|WARNING|ERROR) - .*$")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    remove_our_handlers()
    root.setLevel(level)


def test_format_and_error_log(tmp_path: Path, restore_logging: None) -> None:
    log, errors = tmp_path / "syft-notify.log", tmp_path / "syft-notify.error.log"
    configure_daemon_logging(log, errors)
    logger = logging.getLogger("syft_monitors.test")
    logger.info("polled")
    logger.warning("slow answer")
    logger.error("token rejected")
    logger.debug("not shown at INFO")
    main_lines = log.read_text().splitlines()
    assert len(main_lines) == 3
    assert all(LINE.match(line) for line in main_lines), main_lines
    assert main_lines[0].endswith(" - syft_monitors.test - INFO - polled")
    error_lines = errors.read_text().splitlines()
    assert [line.split(" - ", 3)[2:] for line in error_lines] == [
        ["WARNING", "slow answer"],
        ["ERROR", "token rejected"],
    ]
    # Configuring again replaces our handlers instead of doubling every line.
    configure_daemon_logging(log, errors)
    logger.info("once")
    assert log.read_text().count("once") == 1


def test_rotation_after_ten_megabytes_keeps_seven_backups(
    tmp_path: Path, restore_logging: None
) -> None:
    log, errors = tmp_path / "syft-notify.log", tmp_path / "syft-notify.error.log"
    configure_daemon_logging(log, errors)
    logger = logging.getLogger("syft_monitors.test")
    chunk = "x" * (256 * 1024)
    for index in range(39):  # ~9.75 MB: not rotated yet
        logger.info("%d %s", index, chunk)
    assert not (tmp_path / "syft-notify.log.1").exists()
    assert log.stat().st_size < MAX_BYTES
    for index in range(2):
        logger.info("%d %s", index, chunk)
    assert (tmp_path / "syft-notify.log.1").exists()
    assert (tmp_path / "syft-notify.log.1").stat().st_size <= MAX_BYTES
    # Far past 8 x 10 MB: the oldest files are dropped, never more than 7 backups.
    for index in range(40 * 8):
        logger.info("%d %s", index, chunk)
    names = sorted(p.name for p in tmp_path.glob("syft-notify.log*"))
    assert names == ["syft-notify.log"] + [f"syft-notify.log.{n}" for n in range(1, 8)]
    assert BACKUP_COUNT == 7
    assert all(p.stat().st_size <= MAX_BYTES for p in tmp_path.glob("syft-notify.log*"))
    assert errors.read_text() == ""


def test_json_lines_for_containers(restore_logging: None) -> None:
    stream = io.StringIO()
    assert configure_foreground_logging(stream, "json") == "json"
    logging.getLogger("syft_monitors.x").warning("quota %s", "low")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("syft_monitors.x").exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines()[:2])
    assert first["level"] == "WARNING"
    assert first["message"] == "quota low"
    assert first["logger"] == "syft_monitors.x"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", first["time"])
    assert "ValueError: boom" in second["exception"]


def test_format_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("SYFT_LOG_FORMAT", "json")
    assert choose_format(Tty()) == "json"
    monkeypatch.setenv("SYFT_LOG_FORMAT", "text")
    assert choose_format(io.StringIO()) == "text"
    monkeypatch.delenv("SYFT_LOG_FORMAT")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert choose_format(io.StringIO()) == "json"  # piped, in a pod
    assert choose_format(Tty()) == "text"  # kubectl exec -it
