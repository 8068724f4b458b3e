"""Rolling a fleet gently: at most a share of the monitors restart at once.

A pod template change the SyftMonitor's author did not ask for (an operator upgrade, a new
default image, a rotated Secret: the SyftMonitor's spec is already applied, `observedGeneration`
equals `generation`) is admitted only while fewer than `limit` Deployments are still rolling (their
template changed and no pod of it is available yet). The others keep their running pods and are
queued again when a slot frees. A change of the spec itself is never held back: its author asked
for it. The limit is a count (`5`) or a share of the known SyftMonitors (`10%`, at least one),
like a Deployment's `maxUnavailable` (`SYFT_OPERATOR_ROLLOUT_MAX_UNAVAILABLE`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from syft_operator.errors import OperatorError
from syft_operator.status import workload_availability


def parse_limit(raw: str) -> tuple[int, float]:
    """`"5"` -> (5, 0); `"10%"` -> (0, 0.10). Anything else is an `OperatorError`."""
    text = raw.strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1]) / 100
            if not 0 < share <= 1:
                raise ValueError(text)
            return 0, share
        count = int(text)
    except ValueError as error:
        raise OperatorError(
            f"rollout limit must be a count or a percentage, got {text[:20]!r}"
        ) from error
    if count < 1:
        raise OperatorError("rollout limit must be at least 1")
    return count, 0.0


class RolloutPacer:
    """Which SyftMonitors may restart now (thread-safe; one per operator process)."""

    def __init__(self, limit: str, total: Callable[[], int]) -> None:
        self.count, self.share = parse_limit(limit)
        self._total = total
        self._lock = threading.Lock()
        #: uids whose template change is admitted and has no available pod yet.
        self.rolling: set[str] = set()
        #: uids held back, queued again when a slot frees.
        self.waiting: set[str] = set()
        #: Called with the uids to reconcile again once a slot frees.
        self.on_free: Callable[[set[str]], None] = lambda _uids: None

    def allowed(self) -> int:
        if self.count:
            return self.count
        return max(1, math.floor(self.share * self._total()))

    def admit(self, uid: str) -> bool:
        with self._lock:
            if uid in self.rolling or len(self.rolling) < self.allowed():
                self.rolling.add(uid)
                self.waiting.discard(uid)
                return True
            self.waiting.add(uid)
            return False

    def observe(self, uid: str, workload: Mapping[str, Any] | None) -> None:
        """The workload as last seen: an available pod of its template ends its rollout."""
        available, _reason, _message = workload_availability(workload, suspended=False)
        if workload is not None and available != "True":
            return
        self.forget(uid)

    def forget(self, uid: str) -> None:
        with self._lock:
            if uid not in self.rolling:
                self.waiting.discard(uid)
                return
            self.rolling.discard(uid)
            freed = set(self.waiting)
        if freed:
            self.on_free(freed)
