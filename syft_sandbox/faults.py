"""Fault injection: make chosen requests fail the ways Google's servers and networks do."""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict, Unpack


class FaultKind(StrEnum):
    STATUS = "status"  # answer with an HTTP error in Google's body shape
    RESET = "reset"  # close the socket without answering
    DELAY = "delay"  # wait, then answer normally (client timeouts)
    TRUNCATE = "truncate"  # media downloads only: promise the full length, send half, close


_DEFAULT_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "rateLimitExceeded",
    404: "notFound",
    429: "rateLimitExceeded",
    500: "internalError",
    502: "backendError",
    503: "backendError",
}


class Match(TypedDict, total=False):
    """The selectors and frequency a shorthand constructor accepts."""

    api: str
    method: str
    user: str
    probability: float
    every_nth: int | None
    times: int | None


@dataclass(frozen=True)
class FaultRule:
    """Which requests to break (globs on api/method/user) and how often (probability, n-th)."""

    kind: FaultKind | str
    api: str = "*"
    method: str = "*"
    user: str = "*"
    status: int = 503
    reason: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    probability: float = 1.0
    every_nth: int | None = None
    #: Stop firing after this many hits (None: forever).
    times: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FaultKind(self.kind))  # accept "reset" as well
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if self.every_nth is not None and self.every_nth < 1:
            raise ValueError("every_nth must be >= 1")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1")
        if self.kind is FaultKind.STATUS and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error code")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")

    @property
    def effective_reason(self) -> str:
        return self.reason or _DEFAULT_REASONS.get(self.status, "backendError")

    def matches(self, api: str, method: str, user: str | None, *, media: bool) -> bool:
        if self.kind is FaultKind.TRUNCATE and not media:
            return False
        return (
            fnmatch.fnmatchcase(api, self.api)
            and fnmatch.fnmatchcase(method, self.method)
            and (self.user == "*" or (user is not None and fnmatch.fnmatchcase(user, self.user)))
        )

    # Shorthands for the faults tests use most; keyword arguments narrow what they match.

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0, **match: Unpack[Match]) -> FaultRule:
        return cls(FaultKind.STATUS, status=429, retry_after=retry_after, **match)

    @classmethod
    def quota_403(cls, reason: str = "rateLimitExceeded", **match: Unpack[Match]) -> FaultRule:
        return cls(FaultKind.STATUS, status=403, reason=reason, **match)

    @classmethod
    def server_error(cls, status: int = 500, **match: Unpack[Match]) -> FaultRule:
        return cls(FaultKind.STATUS, status=status, **match)

    @classmethod
    def unauthorized(cls, **match: Unpack[Match]) -> FaultRule:
        return cls(FaultKind.STATUS, status=401, **match)

    @classmethod
    def reset(cls, **match: Unpack[Match]) -> FaultRule:
        return cls(FaultKind.RESET, **match)

    @classmethod
    def slow(cls, seconds: float, **match: Unpack[Match]) -> FaultRule:
        return cls(FaultKind.DELAY, delay=seconds, **match)

    @classmethod
    def truncated(cls, **match: Unpack[Match]) -> FaultRule:
        return cls(FaultKind.TRUNCATE, **match)


@dataclass
class _Slot:
    rule: FaultRule
    seen: int = 0
    hits: int = 0


class FaultInjector:
    """Ordered rules; the first that fires decides. Seeded, so a failing run can be replayed."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible chaos, not cryptography
        self._slots: dict[int, _Slot] = {}
        self._next_handle = 1
        self._enabled = True

    def add(self, rule: FaultRule) -> int:
        with self._lock:
            handle = self._next_handle
            self._next_handle += 1
            self._slots[handle] = _Slot(rule)
            return handle

    def remove(self, handle: int) -> None:
        with self._lock:
            self._slots.pop(handle, None)

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng.seed(seed)

    def enable(self) -> None:
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    def hits(self, handle: int) -> int:
        with self._lock:
            slot = self._slots.get(handle)
            return slot.hits if slot else 0

    def decide(self, api: str, method: str, user: str | None, *, media: bool) -> FaultRule | None:
        if not self._enabled:
            return None
        with self._lock:
            for slot in self._slots.values():
                rule = slot.rule
                if rule.times is not None and slot.hits >= rule.times:
                    continue
                if not rule.matches(api, method, user, media=media):
                    continue
                slot.seen += 1
                if rule.every_nth is not None and slot.seen % rule.every_nth != 0:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                slot.hits += 1
                return rule
        return None
