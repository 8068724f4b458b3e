"""An in-process state store, for one-shot runs (`--no-state`), demos and tests of callers.

It goes through the same optimistic read/compare/write cycle as a ConfigMap would, so code
tested against it meets conflicts and retries the way it will in a cluster.
"""

from __future__ import annotations

import threading

from syft_monitors.errors import StateConflictError
from syft_monitors.state.base import OptimisticStateManager
from syft_monitors.state.compaction import CompactionPolicy
from syft_monitors.state.model import StateDocument


class MemoryStateManager(OptimisticStateManager):
    def __init__(
        self, initial: StateDocument | None = None, *, policy: CompactionPolicy | None = None
    ) -> None:
        super().__init__(policy=policy)
        self._lock = threading.Lock()
        self._doc = initial.working_copy() if initial is not None else StateDocument()
        self._version: int | None = None if initial is None else 1

    @property
    def version(self) -> str | None:
        """Changes on every successful write; None until the first one."""
        with self._lock:
            return None if self._version is None else str(self._version)

    def _read(self) -> tuple[StateDocument, str | None]:
        with self._lock:
            return self._doc, None if self._version is None else str(self._version)

    def _write(self, doc: StateDocument, version: str | None) -> None:
        with self._lock:
            current = None if self._version is None else str(self._version)
            if current != version:
                raise StateConflictError("state changed since it was read")
            # Fail here, like a real store would, rather than keep an unstorable document.
            doc.to_json_bytes()
            self._doc = doc
            self._version = (self._version or 0) + 1
