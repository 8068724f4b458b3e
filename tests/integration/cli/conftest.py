from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The daemon tests' kit (sandbox + daemon folder + leftover-process cleanup) serves here too.
sys.path.insert(0, str(Path(__file__).parents[1] / "daemon"))

from daemon_testkit import DaemonWorld, daemon_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonWorld]:
    with daemon_world(tmp_path, monkeypatch) as running:
        yield running
