"""Shared fixtures: `world` is a running sandbox with users, token files and a notify monitor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syft_sandbox.demo_world import DemoWorld, demo_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path) as running:
        yield running
