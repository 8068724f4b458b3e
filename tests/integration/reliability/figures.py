"""Figures the reliability tests report for docs/reliability.md.

A test calls `record("name", key=value, ...)`; when $SYFT_RELIABILITY_FIGURES names a file (make
soak sets it) one JSON line is appended there, and `scripts/reliability_report.py` turns the lines
into the tables of docs/reliability.md. Without the variable nothing is written.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

ENV = "SYFT_RELIABILITY_FIGURES"


def record(name: str, **figures: object) -> None:
    target = os.environ.get(ENV)
    if not target:
        return
    line = json.dumps({"test": name, "at": time.time(), **figures}, sort_keys=True) + "\n"
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as sink:  # xdist workers append concurrently
        fcntl.flock(sink, fcntl.LOCK_EX)
        sink.write(line)
