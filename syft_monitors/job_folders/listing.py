"""Jobs as they sit on the data owner's disk, under `{syftbox_root}/{do_email}/app_data/job/`.

Current layout: submissions in `inbox/{ds}/{job}/` and status in `review/{ds}/{job}/state.yaml`
(no `state.yaml` yet means `received`). Legacy layout: `{job}/` with empty `approved` and `done`
marker files (status `done` > `approved` > `received`) and `submitted_by` in `config.yaml`.

The folder is written by peers through sync, so it is treated as untrusted: every path is joined
with `resolve_inside` (no symlink may lead out of the SyftBox root), files are opened without
following a final symlink and without blocking on FIFOs, only regular files are read, YAML is read
with a size cap, and a bad entry is reported in `rejected` instead of failing the whole listing.
Hidden entries (names starting with ".") are skipped silently, as are plain files where job
folders are expected (`syft.pub.yaml` permission files live there).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syft_monitors.errors import JobFolderError, ProtocolError
from syft_monitors.job_folders.resolve import resolve_inside
from syft_monitors.protocol.emails import normalize_email, safe_repr, validate_email
from syft_monitors.protocol.jobs import (
    APPROVED_MARKER,
    CONFIG_FILE,
    DONE_MARKER,
    INBOX,
    JOB_ROOT,
    REVIEW,
    STATE_FILE,
    JobLayout,
    JobStatus,
    legacy_submitter,
    status_from_state,
    validate_job_name,
)
from syft_monitors.protocol.limits import DEFAULT_LIMITS, Limits
from syft_monitors.protocol.safe_yaml import load_yaml_mapping

logger = logging.getLogger(__name__)

STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
RETURNCODE_FILE = "returncode.txt"
_RETURNCODE_MAX_BYTES = 64
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


@dataclass(frozen=True)
class LocalJob:
    """One job folder on the data owner's disk.

    `path` is the submission folder (current `inbox/{ds}/{job}`, or the legacy job folder) and
    `review_path` the current layout's `review/{ds}/{job}` when it exists. `submitted_at` comes
    from `config.yaml`; `approved_at`/`completed_at` from `state.yaml` (legacy: the markers'
    mtimes); `updated_at` is the newest mtime of the files that carry status (`config.yaml`,
    `state.yaml`, markers, `returncode.txt`). A legacy job without a valid `submitted_by` in its
    `config.yaml` is rejected: a job is identified by (submitter, name).
    """

    name: str
    submitter: str
    datasite: str
    layout: JobLayout
    status: str
    config: dict[str, Any]
    state: dict[str, Any]
    path: Path
    review_path: Path | None
    submitted_at: dt.datetime | None
    updated_at: dt.datetime | None
    approved_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    return_code: int | None = None
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    returncode_path: Path | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Stable identity: (normalised submitter, name)."""
        return (normalize_email(self.submitter), self.name)


class LocalJobListing(list[LocalJob]):
    """The jobs found (this is a list of them) plus `rejected`: (entry path, why it was skipped)."""

    def __init__(
        self,
        jobs: Iterable[LocalJob] = (),
        rejected: Iterable[tuple[Path, ProtocolError]] = (),
    ) -> None:
        super().__init__(jobs)
        self.rejected: list[tuple[Path, ProtocolError]] = list(rejected)

    @property
    def jobs(self) -> list[LocalJob]:
        return list(self)


def list_local_jobs(
    syftbox_root: Path, do_email: str, *, limits: Limits = DEFAULT_LIMITS
) -> LocalJobListing:
    """Every job under `{syftbox_root}/{do_email}/app_data/job/`, newest `submitted_at` first.

    Raises only for unusable arguments: `InvalidEmailError` for `do_email`, `JobFolderError` when
    `syftbox_root` is not a directory. Problems inside are reported in `.rejected`, not raised.
    """
    root = Path(syftbox_root)
    validate_email(do_email, what="data owner email")
    if not root.is_dir():
        raise JobFolderError(f"SyftBox root {safe_repr(str(root))} is not a directory")
    scanner = _Scanner(root, f"{do_email}/{JOB_ROOT}", do_email, limits)
    scanner.scan()
    jobs = sorted(scanner.jobs, key=lambda job: (job.name, job.submitter))
    jobs.sort(key=lambda job: job.submitted_at or _EPOCH, reverse=True)
    return LocalJobListing(jobs, scanner.rejected)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class _Scanner:
    def __init__(self, root: Path, base: str, datasite: str, limits: Limits) -> None:
        self.root = root
        self.base = base
        self.datasite = datasite
        self.limits = limits
        self.jobs: list[LocalJob] = []
        self.rejected: list[tuple[Path, ProtocolError]] = []

    def reject(self, rel: str, error: ProtocolError) -> None:
        logger.warning("skipped job entry %s: %s", safe_repr(rel), error)
        self.rejected.append((self.root / rel, error))

    def scan(self) -> None:
        for name in self._directory_names(self.base):
            if name == REVIEW:
                continue  # read through the matching inbox entries
            if name == INBOX:
                for ds in self._directory_names(f"{self.base}/{INBOX}"):
                    try:
                        validate_email(ds, what="submitter folder")
                    except ProtocolError as error:
                        self.reject(f"{self.base}/{INBOX}/{ds}", error)
                        continue
                    for job in self._directory_names(f"{self.base}/{INBOX}/{ds}"):
                        self._try(f"{self.base}/{INBOX}/{ds}/{job}", self._current, ds, job)
            else:
                self._try(f"{self.base}/{name}", self._legacy, name)

    def _try(self, rel: str, build: Callable[..., LocalJob], *args: str) -> None:
        try:
            job = build(*args)
        except ProtocolError as error:
            self.reject(rel, error)
            return
        self.jobs.append(job)

    def _directory_names(self, rel: str) -> list[str]:
        """Names of the visible subdirectories of `rel`; problems are recorded as rejections."""
        try:
            directory = resolve_inside(self.root, rel)
            if not directory.is_dir():
                return []
            names: list[str] = []
            with os.scandir(directory) as entries:
                for count, entry in enumerate(entries):
                    if count >= self.limits.max_dir_entries:
                        raise JobFolderError(
                            f"more than {self.limits.max_dir_entries} entries in {safe_repr(rel)}"
                        )
                    if entry.name.startswith("."):
                        continue
                    names.append(entry.name)
        except ProtocolError as error:
            self.reject(rel, error)
            return []
        except OSError as error:
            self.reject(rel, JobFolderError(f"cannot list {safe_repr(rel)}: {error.strerror}"))
            return []
        result = []
        for name in sorted(names):
            child = f"{rel}/{name}"
            try:
                if resolve_inside(self.root, child).is_dir():
                    result.append(name)
            except ProtocolError as error:
                self.reject(child, error)
        return result

    def _optional(self, rel: str) -> Path | None:
        path = resolve_inside(self.root, rel)
        return path if os.path.lexists(path) else None

    def _yaml(self, rel: str, what: str) -> dict[str, Any]:
        data = _read_bounded(resolve_inside(self.root, rel), self.limits.max_yaml_bytes + 1, rel)
        return load_yaml_mapping(data, what=what, limits=self.limits)

    def _current(self, ds: str, job: str) -> LocalJob:
        job_rel = f"{self.base}/{INBOX}/{ds}/{job}"
        review_rel = f"{self.base}/{REVIEW}/{ds}/{job}"
        name = validate_job_name(job)
        submitter = validate_email(ds, what="submitter folder")
        path = resolve_inside(self.root, job_rel)
        config_rel = f"{job_rel}/{CONFIG_FILE}"
        config = self._yaml(config_rel, CONFIG_FILE)
        review = self._optional(review_rel)
        state_path = self._optional(f"{review_rel}/{STATE_FILE}")
        state: dict[str, Any] = {}
        status = JobStatus.RECEIVED
        if state_path is not None:
            state = self._yaml(f"{review_rel}/{STATE_FILE}", STATE_FILE)
            status = status_from_state(state)
        logs = _Logs.find(self, review_rel) if review is not None else _Logs()
        return_code = state.get("return_code")
        return LocalJob(
            name=name,
            submitter=submitter,
            datasite=self.datasite,
            layout=JobLayout.CURRENT,
            status=str(status),
            config=config,
            state=state,
            path=path,
            review_path=review if review is not None and review.is_dir() else None,
            submitted_at=parse_time(config.get("submitted_at")),
            updated_at=_newest(
                [resolve_inside(self.root, config_rel), state_path, logs.returncode_path]
            ),
            approved_at=parse_time(state.get("approved_at")),
            completed_at=parse_time(state.get("completed_at")),
            return_code=(
                return_code
                if isinstance(return_code, int) and not isinstance(return_code, bool)
                else logs.return_code
            ),
            stdout_path=logs.stdout_path,
            stderr_path=logs.stderr_path,
            returncode_path=logs.returncode_path,
        )

    def _legacy(self, job: str) -> LocalJob:
        job_rel = f"{self.base}/{job}"
        name = validate_job_name(job)
        path = resolve_inside(self.root, job_rel)
        config_rel = f"{job_rel}/{CONFIG_FILE}"
        config = self._yaml(config_rel, CONFIG_FILE)
        submitter = legacy_submitter(config)
        approved = self._optional(f"{job_rel}/{APPROVED_MARKER}")
        done = self._optional(f"{job_rel}/{DONE_MARKER}")
        if done is not None:
            status = JobStatus.DONE
        elif approved is not None:
            status = JobStatus.APPROVED
        else:
            status = JobStatus.RECEIVED
        logs = _Logs.find(self, job_rel)
        return LocalJob(
            name=name,
            submitter=submitter,
            datasite=self.datasite,
            layout=JobLayout.LEGACY,
            status=str(status),
            config=config,
            state={},
            path=path,
            review_path=None,
            submitted_at=parse_time(config.get("submitted_at")),
            updated_at=_newest(
                [resolve_inside(self.root, config_rel), approved, done, logs.returncode_path]
            ),
            approved_at=_mtime(approved),
            completed_at=_mtime(done),
            return_code=logs.return_code,
            stdout_path=logs.stdout_path,
            stderr_path=logs.stderr_path,
            returncode_path=logs.returncode_path,
        )


@dataclass(frozen=True)
class _Logs:
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    returncode_path: Path | None = None
    return_code: int | None = None

    @classmethod
    def find(cls, scanner: _Scanner, rel: str) -> _Logs:
        stdout = scanner._optional(f"{rel}/{STDOUT_FILE}")
        stderr = scanner._optional(f"{rel}/{STDERR_FILE}")
        returncode = scanner._optional(f"{rel}/{RETURNCODE_FILE}")
        code: int | None = None
        if returncode is not None:
            text = _read_bounded(returncode, _RETURNCODE_MAX_BYTES, rel).strip()
            if text.lstrip(b"-").isdigit() and len(text) <= 12:
                code = int(text)
        return cls(stdout, stderr, returncode, code)


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    """At most `limit` bytes of a regular file, opened without following a final symlink."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError as error:
        raise JobFolderError(f"{safe_repr(what)} is missing") from error
    except OSError as error:
        raise JobFolderError(f"cannot open {safe_repr(what)}: {error.strerror}") from error
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise JobFolderError(f"{safe_repr(what)} is not a regular file")
        chunks: list[bytes] = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 64 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise JobFolderError(f"cannot read {safe_repr(what)}: {error.strerror}") from error
    finally:
        os.close(fd)


def parse_time(value: object) -> dt.datetime | None:
    """An ISO-8601 string from `config.yaml`/`state.yaml` as an aware datetime (naive = UTC)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _mtime(path: Path | None) -> dt.datetime | None:
    if path is None:
        return None
    try:
        return dt.datetime.fromtimestamp(path.lstat().st_mtime, tz=dt.UTC)
    except OSError:
        return None


def _newest(paths: list[Path | None]) -> dt.datetime | None:
    times = [t for t in (_mtime(p) for p in paths) if t is not None]
    return max(times, default=None)
