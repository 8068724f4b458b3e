"""`retry.call`: backoff, Retry-After, give-up rules and per-attempt observation."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httplib2
import pytest
from googleapiclient.errors import HttpError

from syft_monitors.errors import CredentialsError, QuotaError, ServiceError
from syft_monitors.google.retry import DEFAULT_POLICY, RetryPolicy, call


def http_error(status: int, reason: str = "x", retry_after: str | None = None) -> HttpError:
    headers = {"status": str(status)}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    body = {"error": {"code": status, "message": "m", "errors": [{"reason": reason}]}}
    return HttpError(httplib2.Response(headers), json.dumps(body).encode())


class Script:
    """One HTTP attempt per call: raise the next scripted exception, or return the result."""

    def __init__(self, *failures: BaseException, result: object = "done") -> None:
        self._failures: Iterator[BaseException] = iter(failures)
        self.result = result
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        failure = next(self._failures, None)
        if failure is not None:
            raise failure
        return self.result


class Harness:
    def __init__(self, max_attempts: int = 5, random_value: float = 0.5) -> None:
        self.sleeps: list[float] = []
        self.outcomes: list[str] = []
        self.policy = RetryPolicy(
            max_attempts=max_attempts, sleep=self.sleeps.append, random=lambda: random_value
        )

    def observe(self, api: str, method: str, outcome: str, seconds: float) -> None:
        assert (api, method) == ("drive", "files.list")
        self.outcomes.append(outcome)

    def run(self, script: Script) -> object:
        return call(
            script, api="drive", method="files.list", policy=self.policy, observer=self.observe
        )


def test_success_first_time_is_observed_once() -> None:
    harness = Harness()
    assert harness.run(Script()) == "done"
    assert harness.outcomes == ["ok"]
    assert harness.sleeps == []


def test_exponential_backoff_on_server_errors() -> None:
    harness = Harness()
    script = Script(http_error(500), http_error(502), http_error(503), ConnectionResetError())
    assert harness.run(script) == "done"
    assert harness.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert harness.outcomes == [
        "server_error",
        "server_error",
        "server_error",
        "transport_error",
        "ok",
    ]


def test_retry_after_overrides_backoff() -> None:
    harness = Harness()
    harness.run(
        Script(http_error(429, "rateLimitExceeded", "11"), http_error(503, retry_after="2"))
    )
    assert harness.sleeps == [11.0, 2.0]


@pytest.mark.parametrize("status", [400, 404, 409])
def test_client_errors_are_never_retried(status: int) -> None:
    harness = Harness()
    script = Script(http_error(status))
    with pytest.raises(ServiceError) as caught:
        harness.run(script)
    assert script.calls == 1
    assert caught.value.status == status
    assert not caught.value.retryable
    assert harness.outcomes == ["client_error"]


def test_401_is_credentials_error_without_retry() -> None:
    harness = Harness()
    script = Script(http_error(401, "authError"))
    with pytest.raises(CredentialsError):
        harness.run(script)
    assert (script.calls, harness.outcomes) == (1, ["auth_error"])


def test_gives_up_after_max_attempts_with_quota_error() -> None:
    harness = Harness(max_attempts=3)
    script = Script(*[http_error(429, "rateLimitExceeded", "1")] * 5)
    with pytest.raises(QuotaError) as caught:
        harness.run(script)
    assert script.calls == 3
    assert harness.sleeps == [1.0, 1.0]
    assert caught.value.retry_after == 1.0
    assert "after 3 attempts" in str(caught.value)
    assert isinstance(caught.value.__cause__, HttpError)


def test_gives_up_on_transport_errors_with_retryable_service_error() -> None:
    harness = Harness(max_attempts=2)
    with pytest.raises(ServiceError) as caught:
        harness.run(Script(TimeoutError(), TimeoutError()))
    assert caught.value.retryable
    assert caught.value.status is None


def test_programming_errors_propagate_unobserved() -> None:
    harness = Harness()
    with pytest.raises(KeyError):
        harness.run(Script(KeyError("bug")))
    assert harness.outcomes == []


def test_a_failing_observer_does_not_break_the_call() -> None:
    def broken(api: str, method: str, outcome: str, seconds: float) -> None:
        raise RuntimeError("metrics down")

    policy = RetryPolicy(sleep=lambda s: None)
    assert call(Script(), api="drive", method="x", policy=policy, observer=broken) == "done"


@pytest.mark.parametrize("random_value", [0.0, 1.0])
def test_jitter_is_twenty_percent_and_capped(random_value: float) -> None:
    policy = RetryPolicy(random=lambda: random_value)
    factor = 0.8 if random_value == 0.0 else 1.2
    assert policy.backoff(1) == pytest.approx(1.0 * factor)
    assert policy.backoff(3) == pytest.approx(4.0 * factor)
    assert policy.backoff(10) <= 30.0
    assert policy.delay(1, 1000.0) == 30.0


def test_default_policy_and_validation() -> None:
    assert (DEFAULT_POLICY.max_attempts, DEFAULT_POLICY.initial, DEFAULT_POLICY.cap) == (
        5,
        1.0,
        30.0,
    )
    assert (DEFAULT_POLICY.factor, DEFAULT_POLICY.jitter) == (2.0, 0.2)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(jitter=1.5)
