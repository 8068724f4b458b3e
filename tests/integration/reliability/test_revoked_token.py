"""A revoked or expired-and-unrefreshable Google token: say "re-authorize", count it, slow down.

Four ways a token dies (cases): revoked by the user (API 401, refresh `invalid_grant`); the refresh
token rotated away after a re-consent elsewhere (same answers, a different cause); an expired access
token whose file holds `"refresh_token": null` (google-auth refuses before any request); a file
without a refresh token at all (refused on load). For each, over `CHECKS` polls:

- every poll fails with a message starting `re-authorize`, logged at ERROR once (repeats are DEBUG)
  and recorded as the state's last error;
- `syft_monitor_errors_total{kind="auth"}` counts every failed poll;
- each poll makes at most one Drive request and one refresh attempt (no retry storm), and the
  wait before the next poll doubles (interval x 2, x 4, ... capped at 15 minutes), which is the
  wait the daemon's loop (`ServiceRunner.run`) and `Monitor.check(interval, duration)` use;
- a fresh token file (re-authorization) is picked up by the running monitor without a restart:
  the next poll succeeds, the wait is back to the interval, and Gmail sends again.
A real-time run of `Monitor.check(interval, duration)` then shows the backoff bounds the number
of polls (an upper bound only, so a slow machine cannot make it fail).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_drive_service
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.runtime.poll_loop import AUTH_BACKOFF_CAP
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.actors import SimulatedDataScientist

DO = "owner@hospital.example"
DS = "alice@uni.example"
CHECKS = 6
INTERVAL = 10.0


@dataclass
class World:
    sandbox: Sandbox
    server: SandboxServer
    token: Path
    tmp: Path

    def monitor(self, name: str = "state.json") -> NotificationMonitor:
        return NotificationMonitor(
            do_email=DO,
            sender=GmailSender(self.token, api_root=self.server.url),
            state=JsonStateManager(self.tmp / name),
            config={},
            drive_token_path=self.token,
            syftbox_root=None,
            google_api_root=self.server.url,
            strategy="changes",
            drive=None,
            metrics=MonitorMetrics(),
        )

    def reauthorize(self) -> None:
        self.sandbox.add_user(DO)  # a revoked user gets a new grant
        self.server.write_token_files(self.tmp / "tokens")

    def edit_token(self, **changes: object) -> None:
        data = json.loads(self.token.read_text())
        for key, value in changes.items():
            if value is _DELETE:
                data.pop(key, None)
            else:
                data[key] = value
        self.token.write_text(json.dumps(data))


_DELETE = object()
PAST = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _revoked(world: World) -> None:
    world.sandbox.revoke_user(DO)


def _rotated(world: World) -> None:
    old = world.token.read_text()
    world.sandbox.revoke_user(DO)
    world.sandbox.add_user(DO)  # a new grant elsewhere; our file keeps the old one
    world.token.write_text(old)


def _expired_null_refresh(world: World) -> None:
    world.sandbox.expire_access_tokens(DO)
    world.edit_token(refresh_token=None, expiry=PAST)


def _no_refresh_key(world: World) -> None:
    world.sandbox.expire_access_tokens(DO)
    world.edit_token(refresh_token=_DELETE, expiry=PAST)


DEATHS: dict[str, Callable[[World], None]] = {
    "revoked": _revoked,
    "refresh-token-rotated": _rotated,
    "expired-null-refresh-token": _expired_null_refresh,
    "no-refresh-token-key": _no_refresh_key,
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    sandbox = Sandbox(seed=5)
    sandbox.add_user(DO)
    sandbox.add_user(DS)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        yield World(sandbox, server, tokens[DO], tmp_path)


def auth_errors(monitor: NotificationMonitor) -> float:
    value = monitor.metrics.registry.get_sample_value("syft_monitor_errors_total", {"kind": "auth"})
    return float(value or 0.0)


@pytest.mark.parametrize("die", DEATHS.values(), ids=DEATHS.keys())
def test_dead_token_reauthorize_metric_backoff_and_recovery(
    world: World, caplog: pytest.LogCaptureFixture, die: Callable[[World], None]
) -> None:
    caplog.set_level(logging.DEBUG, logger="syft_monitors")
    assert world.monitor()._check_once()  # baseline with a good token
    die(world)
    # A process started now (the token in memory of the old one may still refresh).
    monitor = world.monitor()
    caplog.clear()
    waits = []
    for _ in range(CHECKS):
        mark = world.sandbox.mark()
        assert not monitor._check_once()
        calls = [(r.api, r.operation) for r in world.sandbox.requests(mark)]
        assert len([c for c in calls if c[0] == "drive"]) <= 1, calls
        assert len([c for c in calls if c[0] == "oauth"]) <= 1, calls
        assert len(calls) <= 2, calls
        waits.append(monitor._next_wait(INTERVAL))
    assert waits == [min(AUTH_BACKOFF_CAP, INTERVAL * 2**n) for n in range(1, CHECKS + 1)]
    assert auth_errors(monitor) == CHECKS
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "re-authorize" in message
    assert "\n" not in message
    assert errors[0].exc_info is None
    repeats = [r for r in caplog.records if "still failing" in r.getMessage()]
    assert len(repeats) == CHECKS - 1
    assert all(r.levelno == logging.DEBUG for r in repeats)
    beat = monitor.state.heartbeat()
    assert beat.last_error is not None
    assert beat.last_error.startswith("re-authorize")

    # Re-authorization: a new token file, no restart.
    world.reauthorize()
    assert monitor._check_once(), monitor._last_error
    assert monitor._next_wait(INTERVAL) == INTERVAL
    assert any(r.getMessage() == "NotificationMonitor recovered" for r in caplog.records)
    scientist = SimulatedDataScientist(
        DS,
        build_drive_service(
            Credentials(world.sandbox.access_token(DS)),  # type: ignore[no-untyped-call]
            api_root=world.server.url,
        ),
    )
    scientist.request_peer(DO)
    assert monitor._check_once()
    assert {str(m.message["To"]) for m in world.sandbox.sent_mail(DO)} == {DO, DS}


def test_backoff_bounds_polls_in_real_time(world: World) -> None:
    monitor = world.monitor()
    assert monitor._check_once()
    world.sandbox.revoke_user(DO)
    mark = world.sandbox.mark()
    monitor.checks = 0
    # Without backoff this would be about 40 polls; with it the waits are 0.04, 0.08, 0.16...
    monitor.check(interval=0.02, duration=0.8)
    assert 1 <= monitor.checks <= 8, monitor.checks
    requests = world.sandbox.requests(mark)
    assert len(requests) <= 2 * monitor.checks
    assert auth_errors(monitor) == monitor.checks
