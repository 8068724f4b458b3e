from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_testkit import DaemonWorld, daemon_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonWorld]:
    with daemon_world(tmp_path, monkeypatch) as running:
        yield running
