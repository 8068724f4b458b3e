"""Job status from the data owner's own disk (the seed's filesystem check, both layouts).

Runs when a SyftBox folder is present; feeds the same de-duplicated event stream as Drive, so an
approval seen on disk and in the Drive event log is one event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from syft_monitors.events import STATUS_EVENTS, Event, EventKind, JobDetails, JobRef
from syft_monitors.job_folders.listing import LocalJob, list_local_jobs
from syft_monitors.job_folders.resolve import resolve_inside
from syft_monitors.monitors.extract import status_events
from syft_monitors.notify.preview import MAX_FILE_BYTES, MAX_STDERR_BYTES, MAX_TOTAL_CODE_BYTES

logger = logging.getLogger(__name__)


class LocalScanner:
    def __init__(self, syftbox_root: Path, do_email: str) -> None:
        self.root = syftbox_root
        self.do_email = do_email
        self._reported: set[str] = set()
        self._reported_unread: set[str] = set()

    def events(self) -> Iterator[Event]:
        listing = list_local_jobs(self.root, self.do_email)
        for path, error in listing.rejected:
            if str(path) not in self._reported:  # once per process, not once per poll
                self._reported.add(str(path))
                logger.warning("ignoring local job folder %s: %s", path, error)
        for job in listing.jobs:
            yield from self._job_events(job)

    def _job_events(self, job: LocalJob) -> Iterator[Event]:
        ref = JobRef(job.datasite, job.submitter, job.name)
        code, truncated = self._code(job)
        yield Event(
            EventKind.NEW_JOB,
            self.do_email,
            job=ref,
            details=JobDetails(
                code=code,
                code_truncated=truncated,
                run_sh=self._small(job.path / "run.sh"),
                config_yaml=self._small(job.path / "config.yaml"),
                submitted_at=job.submitted_at.isoformat() if job.submitted_at else None,
                status=job.status,
                config=dict(job.config),
            ),
            source="local",
        )
        kind = STATUS_EVENTS.get(job.status)
        if kind is None:
            return
        stderr = (
            self._read_tail(job.review_path, "stderr.txt") if kind is EventKind.JOB_FAILED else None
        )
        yield from status_events(
            ref, kind, self.do_email, state=dict(job.state), stderr=stderr, source="local"
        )

    def _code(self, job: LocalJob) -> tuple[dict[str, bytes], bool]:
        """The code files for the new-job email, up to `MAX_TOTAL_CODE_BYTES` in all, and
        whether any file was left unread (the email then cannot show the job whole)."""
        code_dir = job.path / "code" if (job.path / "code").is_dir() else job.path
        code: dict[str, bytes] = {}
        total = 0
        unread: list[str] = []
        for file in sorted(code_dir.rglob("*")):
            if file.is_symlink() or not file.is_file():
                continue
            relative = file.relative_to(job.path).as_posix()
            if total >= MAX_TOTAL_CODE_BYTES:
                unread.append(relative)  # listed, not read: reading stays bounded
                continue
            try:
                resolve_inside(self.root, file.relative_to(self.root).as_posix())
                with file.open("rb") as handle:
                    data = handle.read(MAX_FILE_BYTES + 1)
            except (OSError, ValueError) as error:
                logger.debug("cannot read %s for the preview: %s", file, error)
                unread.append(relative)
                continue
            code[relative] = data
            total += len(data)
        if unread and str(job.path) not in self._reported_unread:  # once per process
            self._reported_unread.add(str(job.path))
            logger.info(
                "job %s: %d code file(s) not read for its email (over %d KiB in all or"
                " unreadable); it cannot be approved by reply",
                job.path,
                len(unread),
                MAX_TOTAL_CODE_BYTES // 1024,
            )
        return code, bool(unread)

    def _small(self, file: Path) -> bytes | None:
        """A submission file for the new-job email (one byte over the cap tells it is cut)."""
        if file.is_symlink() or not file.is_file():
            return None
        try:
            with file.open("rb") as handle:
                return handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            return None

    def _read_tail(self, folder: Path | None, name: str) -> bytes | None:
        if folder is None:
            return None
        file = folder / name
        if file.is_symlink() or not file.is_file():
            return None
        try:
            with file.open("rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(0, size - MAX_STDERR_BYTES))
                return handle.read()
        except OSError:
            return None
