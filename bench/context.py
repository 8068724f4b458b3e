"""What every benchmark gets: size mode, repeats, a scratch folder, progress, upstream status."""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path

from bench.upstream import UpstreamStatus, ensure_upstream_venv, upstream_ready

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class BenchContext:
    smoke: bool
    repeat: int
    workdir: Path
    #: False: never run or install upstream (--no-upstream); smoke runs only use an existing venv.
    upstream_allowed: bool = True
    quiet: bool = False
    #: Prefix of progress lines (the lane, when benchmarks run in parallel processes).
    tag: str = ""
    #: What one benchmark leaves for a later one in the same process (the burst's state).
    shared: dict[str, object] = dataclasses.field(default_factory=dict)
    _upstream: UpstreamStatus | None = None
    _started: float = dataclasses.field(default_factory=time.perf_counter)

    def progress(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.perf_counter() - self._started
            sys.stderr.write(f"[bench{self.tag} {elapsed:7.1f}s] {message}\n")
            sys.stderr.flush()

    def upstream(self) -> UpstreamStatus:
        if self._upstream is None:
            if not self.upstream_allowed:
                self._upstream = UpstreamStatus(False, "not run: --no-upstream")
            elif self.smoke and not upstream_ready():
                self._upstream = UpstreamStatus(
                    False, "not run: smoke runs never install upstream (run `make bench` once)"
                )
            else:
                if not upstream_ready():
                    self.progress("building the upstream venv (first time: a few minutes)")
                self._upstream = ensure_upstream_venv()
                if not self._upstream.available:
                    logger.warning("upstream poller unavailable: %s", self._upstream.reason)
        return self._upstream
