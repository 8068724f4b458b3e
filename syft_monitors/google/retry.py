"""Execute googleapiclient requests with backoff, Retry-After and per-attempt observation.

Every HTTP attempt is reported to the observer as (api, method, outcome, seconds), so metrics
see retries, not just final results. httplib2 itself silently re-sends a request once when a
kept-alive connection turns out to be dead; such re-sends are invisible here.
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from googleapiclient.http import MediaIoBaseDownload, MediaIoBaseUpload

from syft_monitors import interrupt
from syft_monitors.google.errors import OK, classify, to_error

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: observer(api, method, outcome, seconds); outcome is one of the names in google.errors.
RequestObserver = Callable[[str, str, str, float], None]

DOWNLOAD_CHUNK_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.2
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial < 0 or self.cap < 0 or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("invalid backoff parameters")

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt number `attempt` (1-based), jittered by +-jitter."""
        base = min(self.cap, self.initial * self.factor ** (attempt - 1))
        spread = self.jitter * (2.0 * self.random() - 1.0)
        return min(self.cap, max(0.0, base * (1.0 + spread)))

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.cap, max(0.0, retry_after))
        return self.backoff(attempt)


DEFAULT_POLICY = RetryPolicy()


def _observe(
    observer: RequestObserver | None, api: str, method: str, outcome: str, seconds: float
) -> None:
    if observer is None:
        return
    try:
        observer(api, method, outcome, seconds)
    except Exception:  # metrics must never break the call they measure
        logger.exception("request observer failed")


def call(
    attempt_once: Callable[[], T],
    *,
    api: str,
    method: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    observer: RequestObserver | None = None,
) -> T:
    """Run `attempt_once` (exactly one HTTP request) until it succeeds or must not be retried."""
    attempt = 0
    while True:
        attempt += 1
        started = time.monotonic()
        try:
            # A stop may abandon the request (see `interrupt`; sends are shielded by the caller).
            with interrupt.interruptible():
                result = attempt_once()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            _observe(observer, api, method, failure.outcome, time.monotonic() - started)
            if not failure.retryable or attempt >= policy.max_attempts:
                raise to_error(failure, api=api, method=method, attempts=attempt) from exc
            delay = policy.delay(attempt, failure.retry_after)
            logger.info(
                "%s %s: %s (status %s), attempt %d/%d, retrying in %.2fs",
                api,
                method,
                failure.outcome,
                failure.status,
                attempt,
                policy.max_attempts,
                delay,
            )
            # The attempt failed: a stop may end the wait, even in a send.
            with interrupt.interruptible(inside_send=True):
                policy.sleep(delay)
            continue
        _observe(observer, api, method, OK, time.monotonic() - started)
        return result


def execute(
    request: Any,
    *,
    api: str,
    method: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    observer: RequestObserver | None = None,
) -> Any:
    """Execute a googleapiclient `HttpRequest`; resumable uploads are retried chunk by chunk."""
    if getattr(request, "resumable", None) is not None:
        while True:
            _status, body = call(
                lambda: request.next_chunk(num_retries=0),
                api=api,
                method=method,
                policy=policy,
                observer=observer,
            )
            if body is not None:
                return body
    return call(
        lambda: request.execute(num_retries=0),
        api=api,
        method=method,
        policy=policy,
        observer=observer,
    )


def download(
    request: Any,
    *,
    api: str = "drive",
    method: str = "files.get_media",
    chunksize: int = DOWNLOAD_CHUNK_SIZE,
    policy: RetryPolicy = DEFAULT_POLICY,
    observer: RequestObserver | None = None,
) -> bytes:
    """Download a media request (e.g. `files().get_media(...)`) in ranged chunks, with retries."""
    buffer = io.BytesIO()
    downloader = MediaIoBaseDownload(buffer, request, chunksize=chunksize)
    done = False
    while not done:
        _progress, done = call(
            lambda: downloader.next_chunk(num_retries=0),
            api=api,
            method=method,
            policy=policy,
            observer=observer,
        )
    return buffer.getvalue()


def upload_body(data: bytes, *, mime_type: str) -> Any:
    """A one-shot (not resumable) media body for `files().create/update(media_body=...)`."""
    return MediaIoBaseUpload(io.BytesIO(data), mimetype=mime_type, resumable=False)
