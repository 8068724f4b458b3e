from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from approve_world import ApproveWorld, approve_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApproveWorld]:
    with approve_world(tmp_path) as running:
        yield running
