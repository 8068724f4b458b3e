"""200 jobs and 50 peer requests while the sandbox breaks 20% or 50% of the monitor's requests.

Faults on Drive and Gmail alike: 429 with Retry-After, 500/503, connection resets, responses slower
than the client timeout (the request is processed, the client gives up: the ambiguous case),
truncated downloads. Expected: every notification exactly once (by the `X-Syft-Monitor-Key`
header in the sandbox's sent mail), the backoff the retry policy and Retry-After ask for (recorded
instead of slept), no request storm, errors counted in metrics and logged without tracebacks, and
the loop alive throughout.

Time is compressed, not sampled: retry sleeps are recorded by an injected `sleep`, work-item
backoff runs on a fake clock advanced between polls, and the client timeout is 0.3 s.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from syft_monitors.drive.api import DriveApi
from syft_monitors.google.clients import build_drive_service, build_gmail_service
from syft_monitors.google.credentials import load_credentials
from syft_monitors.google.retry import RetryPolicy
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import Sandbox
from syft_sandbox.actors import SimulatedDataScientist
from syft_sandbox.faults import FaultKind, FaultRule
from syft_sandbox.server import SandboxServer
from tests.integration.reliability.figures import record

DO = "owner@faults.example"
SOAK = os.environ.get("SYFT_SOAK") == "1"
PEERS = 100 if SOAK else 50
JOBS = 1000 if SOAK else 200
CLIENT_TIMEOUT = 0.25
SLOW = 0.4  # beyond the client timeout


@dataclass
class Recorder:
    sleeps: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    sandbox: Sandbox
    server: SandboxServer
    monitor: NotificationMonitor
    metrics: MonitorMetrics
    sleeps: Recorder
    clock: FakeClock
    scientists: list[SimulatedDataScientist]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    sandbox = Sandbox(seed=7)
    sandbox.add_user(DO)
    emails = [
        f"ds{index}_{'x+y' if index % 7 == 0 else 'lab'}@uni{index % 5}.example"
        for index in range(PEERS)
    ]
    for email in emails:
        sandbox.add_user(email)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        sleeps = Recorder()
        policy = RetryPolicy(max_attempts=5, initial=1.0, cap=30.0, sleep=sleeps)
        metrics = MonitorMetrics()
        token = tokens[DO]

        def drive_factory() -> Any:
            return build_drive_service(
                load_credentials(token), api_root=server.url, timeout=CLIENT_TIMEOUT
            )

        sender = GmailSender(
            token,
            api_root=server.url,
            rate_limit_per_minute=10_000,
            retry_policy=policy,
            observer=metrics.observe_request,
            service_factory=lambda creds: build_gmail_service(
                creds, api_root=server.url, timeout=CLIENT_TIMEOUT
            ),
        )
        monitor = NotificationMonitor(
            do_email=DO,
            sender=sender,
            state=JsonStateManager(tmp_path / "state.json"),
            # Every email on its own, counted by key: 50 peer requests at once would otherwise be
            # folded into an hourly digest (flood control has its own tests).
            config={"flood": {"enabled": False}},
            drive_token_path=None,
            syftbox_root=None,
            google_api_root=server.url,
            strategy="changes",
            drive=DriveApi(drive_factory, observer=metrics.observe_request, policy=policy),
            metrics=metrics,
        )
        clock = FakeClock()
        monitor.pipeline.clock = clock
        # Settling is about real time: the sandbox finishes a "slow" request SLOW seconds after
        # the client gave up, whatever the fake clock says. Production waits 60 s; here 3 x SLOW.
        monitor.dispatcher.settle_seconds = 3 * SLOW
        scientists = [
            SimulatedDataScientist(
                email,
                build_drive_service(
                    Credentials(sandbox.access_token(email)),  # type: ignore[no-untyped-call]
                    api_root=server.url,
                ),
                legacy=index % 4 == 3,
            )
            for index, email in enumerate(emails)
        ]
        yield World(sandbox, server, monitor, metrics, sleeps, clock, scientists)


def add_faults(sandbox: Sandbox, rate: float) -> None:
    """Mixed faults on the monitor's own requests (user DO), Drive and Gmail, about `rate`."""
    share = rate / 0.2  # the mix below sums to 20%
    mix = [
        (FaultRule.rate_limited(retry_after=2.0, user=DO), 0.05),
        (FaultRule.server_error(503, user=DO), 0.05),
        (FaultRule.server_error(500, user=DO), 0.03),
        (FaultRule.reset(user=DO), 0.03),
        (FaultRule.truncated(user=DO), 0.02),
        (FaultRule.slow(SLOW, user=DO), 0.02),
    ]
    remaining = 1.0
    for rule, probability in mix:
        # Slow answers cost real seconds (the client timeout); keep them at their 20% share.
        wanted = probability if rule.kind is FaultKind.DELAY else probability * share
        # Rules are tried in order: condition each on the ones before it not firing.
        conditional = min(1.0, wanted / remaining)
        sandbox.faults.add(
            FaultRule(
                rule.kind,
                user=rule.user,
                status=rule.status,
                retry_after=rule.retry_after,
                delay=rule.delay,
                probability=conditional,
            )
        )
        remaining -= wanted


def expected_keys(world: World) -> int:
    return 2 * PEERS + 2 * JOBS  # request: DO + DS; job: DO "Job:" + DS "Job Submitted:"


def settled(world: World) -> bool:
    """Every email is in Sent mail and the monitor knows it.

    An ambiguous send can land in Sent mail while its work item still waits for the settling
    time before the Sent-mail lookup may resolve it: counting emails alone would stop too early.
    """
    if len(sent_keys(world)) < expected_keys(world):
        return False
    state = world.monitor.state.load()
    return not state.work and not state.intents


@pytest.mark.timeout(7200 if SOAK else 300)
@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_every_email_exactly_once_under_faults(
    world: World, rate: float, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world.monitor.check()  # baseline, before faults
    add_faults(world.sandbox, rate)
    rng = random.Random(rate)
    for ds in world.scientists:
        ds.request_peer(DO)
    start = world.sandbox.mark()
    polls = 0
    submitted = 0
    while polls < (800 if SOAK else 300):
        # Jobs keep arriving while the monitor fights the faults.
        for _ in range(min(JOBS - submitted, rng.randint(10, 30))):
            ds = world.scientists[submitted % PEERS]
            ds.submit_job(DO, f"job {submitted}", {"main.py": f"print({submitted})\n"})
            submitted += 1
        world.monitor.check()
        polls += 1
        world.clock.now += 120  # work-item backoff expires between polls
        if submitted == JOBS:
            time.sleep(0.05)  # sends left to settle need real time (see settle_seconds)
        if submitted == JOBS and settled(world):
            # One more poll proves nothing is left to (re)send.
            world.monitor.check()
            break

    sent = sent_keys(world)
    duplicates = {k: n for k, n in sent.items() if n > 1}
    assert not duplicates
    assert len(sent) == expected_keys(world), f"{len(sent)} emails after {polls} polls"
    assert world.monitor.state.load().work == {}
    assert world.monitor.state.load().intents == {}

    # The faults did happen, and were counted by outcome and error kind.
    records = world.sandbox.requests(start, user=DO)
    faults = Counter(r.fault for r in records if r.fault)
    assert set(faults) == {"status", "reset", "delay", "truncate"}, faults
    outcomes = Counter()
    for metric in world.metrics.requests.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                outcomes[sample.labels["outcome"]] += int(sample.value)
    assert outcomes["rate_limited"] > 0
    assert outcomes["server_error"] > 0
    assert outcomes["transport_error"] > 0
    errors = {
        k: world.metrics.errors.labels(k)._value.get()
        for k in ("service", "transport", "quota", "send")
    }  # type: ignore[attr-defined]
    assert sum(errors.values()) > 0, errors

    # Backoff honoured: Retry-After (2 s) was waited for, exponential steps otherwise, capped.
    assert 2.0 in world.sleeps.sleeps
    assert all(0.0 <= s <= 30.0 for s in world.sleeps.sleeps)
    # No storm: attempts stay within what the failure rate explains (geometric retries, x2 slack).
    answered = sum(1 for r in records if r.fault is None)
    assert len(records) <= 2 * answered / (1 - rate) + 50, (len(records), answered)

    # The loop survived failed polls and went on to succeed; no traceback, no token in the logs.
    polls_by_outcome = {
        outcome: world.metrics.polls.labels("notify", outcome)._value.get()  # type: ignore[attr-defined]
        for outcome in ("ok", "error")
    }
    assert polls_by_outcome["ok"] > 0
    assert not [r for r in caplog.records if r.exc_info]
    token = world.sandbox.access_token(DO)
    assert not [r for r in caplog.records if token in r.getMessage()]
    record(
        f"faults_{int(rate * 100)}pct",
        peers=PEERS,
        jobs=JOBS,
        polls=polls,
        emails=len(sent),
        duplicates=len(duplicates),
        lost=expected_keys(world) - len(sent),
        requests=len(records),
        injected=sum(faults.values()),
        retry_sleeps=len(world.sleeps.sleeps),
        warnings=sum(1 for r in caplog.records if r.levelno >= logging.WARNING),
    )


def sent_keys(world: World) -> Counter[str]:
    return Counter(str(m.message["X-Syft-Monitor-Key"]) for m in world.sandbox.sent_mail(DO))
