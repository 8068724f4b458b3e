"""The project's image, run by a real Docker Engine: `image` and `docker` for tests/container.

`make test` runs the suite under scripts/with-test-image.sh, which gets an engine, builds the
Dockerfile and says so here through the environment:

- SYFT_TEST_IMAGE: the built image (tag); SYFT_DOCKER: the docker client to use;
- SYFT_CONTAINER_BUILD_LOG: the build failed, its log (the tests fail and show its tail);
- SYFT_CONTAINER_SKIP: no engine, and why (the tests skip with that reason).

Run alone: `bash scripts/with-test-image.sh .venv/bin/python -m pytest tests/container`.
Their modules are marked `container`. Containers get the host's network or none,
and talk to the test servers on 127.0.0.1 only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from container_testkit import Docker


@pytest.fixture(scope="session")
def image() -> str:
    failed = os.environ.get("SYFT_CONTAINER_BUILD_LOG")
    if failed:
        tail = Path(failed).read_text(errors="replace")[-4000:]
        pytest.fail(f"the image build failed ({failed}):\n{tail}")
    built = os.environ.get("SYFT_TEST_IMAGE")
    if not built:
        reason = os.environ.get("SYFT_CONTAINER_SKIP")
        pytest.skip(
            f"no Docker Engine: {reason}"
            if reason
            else "no image: run under scripts/with-test-image.sh (make test does)"
        )
    return built


@pytest.fixture
def docker(image: str) -> Iterator[Docker]:
    running = Docker(os.environ.get("SYFT_DOCKER") or "docker", image)
    try:
        yield running
    finally:
        running.remove_all()
