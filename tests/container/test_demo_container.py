"""`syft-bg demo` (sandbox, simulated clients, monitor, Gmail sender) in the hardened image."""

from __future__ import annotations

import pytest
from container_testkit import Docker

pytestmark = pytest.mark.container


def test_demo_sends_its_31_emails_read_only_unprivileged_and_offline(docker: Docker) -> None:
    # No network but the container's own loopback; /tmp is the only writable place.
    result = docker.run(
        "sh", "-c", "syft-bg demo && ls /tmp/demo-output/sent-emails | wc -l", timeout=300
    )
    assert "(31 emails so far)" in result.stdout, result.stdout[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "31"
