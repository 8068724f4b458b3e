"""A data owner's job folders as the approve service reads and writes them.

Reading: the files a rule is compared with are every regular file under the job's `code/` folder
(legacy layout: the job folder itself, minus its `config.yaml` and `run.sh`), as POSIX paths
relative to it. Permission files (`syft.pub.yaml`) are left out, as upstream does. Nothing else
is: a pending job has never run, and the owner's sync never delivers generated folders
(`__pycache__`, `.venv`, ...), so such files mean the submission differs from what the rule
describes, and the job must wait for a human. A symbolic link, a device or a FIFO anywhere in the
job makes it ineligible for the same reason.

Writing: an approval is written the way upstream's `syft-job` writes it. Current layout: the
job's `review/{ds}/{job}/state.yaml` gets `status: approved`, `approved_by`, `approved_at` (ISO
UTC), `approval_method: auto`, keeping every other key (a job without a state file, "received",
also gets `received_at`), plus `approved_hashes`: the SHA-256 of every file of the submission
(`config.yaml`, `run.sh`, `code/...`) as approved. Upstream's `JobState` ignores keys it does not
know, so its tools read the file as before. Legacy layout: an empty `approved` marker file in the
job folder. Both are written atomically and never through a symbolic link.

The data scientist can still write into the job folder after the approval (a later message), and
the owner's runner runs whatever is there. `approval_problem` says whether an approval recorded
with its hashes still describes the folder; `withdraw_approval` puts a changed job back to
`pending` (what upstream's runner never runs and its `approve()` accepts again), with the reason
in `review_reason`.

`SyncLock` is the owner client's own lock (`{syftbox_root}/.sync.lock`, an exclusive `flock` held
for a whole sync): holding it while reading and approving means never seeing a job whose files
are half written by the owner's sync.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from syft_monitors.errors import JobFolderError
from syft_monitors.files import write_atomically
from syft_monitors.job_folders.listing import LocalJob
from syft_monitors.job_folders.resolve import resolve_inside
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.jobs import (
    APPROVED_MARKER,
    CONFIG_FILE,
    INBOX,
    JOB_ROOT,
    REVIEW,
    STATE_FILE,
    JobLayout,
    JobStatus,
)

SYNC_LOCK_FILE = ".sync.lock"
RUN_SCRIPT = "run.sh"
CODE_DIR = "code"
PERMISSION_FILE = "syft.pub.yaml"
#: The folder shape upstream's syft-job accepts; anything else it rejects, so we never approve it.
SUBMISSION_ENTRIES = frozenset({CODE_DIR, RUN_SCRIPT, CONFIG_FILE})
MAX_CODE_FILES = 5000
MAX_DEPTH = 32
_HASH_CHUNK = 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_STATE_KEYS = (
    "status",
    "received_at",
    "approved_by",
    "approved_at",
    "approval_method",
    "rejected_by",
    "rejected_at",
    "review_reason",
    "completed_at",
    "return_code",
)


def is_eligible(job: LocalJob) -> bool:
    """Waiting for a decision: current layout received or pending, legacy without markers."""
    if job.layout is JobLayout.CURRENT:
        return job.status in (JobStatus.RECEIVED.value, JobStatus.PENDING.value)
    return job.status == JobStatus.RECEIVED.value


@dataclass(frozen=True)
class CodeFiles:
    """What a rule is matched against, with the stat data that changes when any of it does."""

    files: dict[str, Path]
    run_script: Path | None
    fingerprint: tuple[Any, ...]


def collect_code_files(job: LocalJob) -> CodeFiles:
    """The job's user files; `JobFolderError` when the job cannot be approved automatically."""
    code = _collect(job.path, job.layout)
    state_stamp = _stamp(job.review_path / STATE_FILE) if job.review_path else None
    return dataclasses.replace(code, fingerprint=(*code.fingerprint, state_stamp, job.status))


def _collect(folder: Path, layout: JobLayout) -> CodeFiles:
    job_path = folder
    if layout is JobLayout.CURRENT:
        _check_submission_shape(job_path)
        base = job_path / CODE_DIR
        skip_top: frozenset[str] = frozenset()
    else:
        base = job_path
        skip_top = frozenset({CONFIG_FILE, RUN_SCRIPT})
    files: dict[str, Path] = {}
    stamps: list[tuple[str, int, int]] = []
    for relative, path, info in _walk(base, skip_top):
        files[relative] = path
        stamps.append((relative, info.st_size, info.st_mtime_ns))
    run_script = job_path / RUN_SCRIPT
    run_stamp = _stamp(run_script)
    config_stamp = _stamp(job_path / CONFIG_FILE)
    return CodeFiles(
        files=files,
        run_script=run_script if run_stamp is not None else None,
        fingerprint=(tuple(sorted(stamps)), run_stamp, config_stamp),
    )


# --- what was approved ---------------------------------------------------------------------------

#: `state.yaml` key holding the hashes of the submission as approved (job-relative path -> hex).
APPROVED_HASHES = "approved_hashes"
WITHDRAWN_PREFIX = "approval withdrawn: "
#: `state.yaml` key naming the Gmail message of the reply that approved or rejected the job.
DECIDED_BY_REPLY = "decided_by_reply"


def submission_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a current-layout submission, keyed by path in the job folder.

    `JobFolderError` when the folder no longer has the shape syft-job accepts.
    """
    code = _collect(folder, JobLayout.CURRENT)
    hashes = {
        CONFIG_FILE: sha256_file(folder / CONFIG_FILE),
        RUN_SCRIPT: sha256_file(folder / RUN_SCRIPT),
    }
    for relative, path in code.files.items():
        hashes[f"{CODE_DIR}/{relative}"] = sha256_file(path)
    return hashes


def approval_problem(approved: Mapping[str, str], folder: Path) -> str | None:
    """Why an approval recorded with hashes `approved` no longer holds for the job at `folder`.

    None while every file is still there with the approved content and no file was added; else
    a one-line reason naming what changed. Shared by every approval path (rules, replies).
    """
    try:
        current = submission_hashes(folder)
    except JobFolderError as error:
        return f"the job folder changed: {error}"
    changed = sorted(p for p in approved.keys() & current.keys() if approved[p] != current[p])
    added = sorted(current.keys() - approved.keys())
    removed = sorted(approved.keys() - current.keys())
    parts = []
    if changed:
        parts.append(f"changed {_listed(changed)}")
    if added:
        parts.append(f"added {_listed(added)}")
    if removed:
        parts.append(f"removed {_listed(removed)}")
    return "; ".join(parts) + " after the approval" if parts else None


def _listed(paths: list[str]) -> str:
    shown = ", ".join(safe_repr(p, limit=60) for p in paths[:3])
    return f"{shown} (+{len(paths) - 3} more)" if len(paths) > 3 else shown


def recorded_hashes(state: Mapping[str, Any]) -> dict[str, str] | None:
    """The hashes an approved `state.yaml` was written with; None when it carries none."""
    if state.get("status") != JobStatus.APPROVED.value:
        return None
    value = state.get(APPROVED_HASHES)
    if not isinstance(value, dict) or not value:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


def _check_submission_shape(folder: Path) -> None:
    try:
        entries = {name for name in os.listdir(folder) if name != PERMISSION_FILE}
    except OSError as error:
        raise JobFolderError(f"cannot list the job folder: {error.strerror}") from error
    if entries != SUBMISSION_ENTRIES:
        extra = sorted(entries - SUBMISSION_ENTRIES)
        missing = sorted(SUBMISSION_ENTRIES - entries)
        raise JobFolderError(
            f"job folder must hold exactly code/, run.sh and config.yaml "
            f"(extra: {safe_repr(extra)}, missing: {safe_repr(missing)})"
        )
    for name, want_dir in ((CODE_DIR, True), (RUN_SCRIPT, False), (CONFIG_FILE, False)):
        info = os.lstat(folder / name)
        ok = stat.S_ISDIR(info.st_mode) if want_dir else stat.S_ISREG(info.st_mode)
        if not ok:
            kind = "a folder" if want_dir else "a regular file"
            raise JobFolderError(f"{name} must be {kind}")


def _walk(base: Path, skip_top: frozenset[str]) -> Iterator[tuple[str, Path, os.stat_result]]:
    count = 0
    stack: list[tuple[Path, str, int]] = [(base, "", 0)]
    while stack:
        folder, prefix, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise JobFolderError(f"code folders nest deeper than {MAX_DEPTH} levels")
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            raise JobFolderError(f"cannot list the code folder: {error.strerror}") from error
        for entry in entries:
            relative = f"{prefix}{entry.name}"
            if not prefix and entry.name in skip_top:
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                stack.append((Path(entry.path), relative + "/", depth + 1))
                continue
            if not stat.S_ISREG(info.st_mode):
                raise JobFolderError(
                    f"{safe_repr(relative)} is not a regular file (link, device or pipe)"
                )
            if entry.name == PERMISSION_FILE:
                continue
            count += 1
            if count > MAX_CODE_FILES:
                raise JobFolderError(f"more than {MAX_CODE_FILES} files in the code folder")
            yield relative, Path(entry.path), info


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    return (info.st_mode, info.st_size, info.st_mtime_ns)


def sha256_file(path: Path) -> str:
    """SHA-256 of a regular file's bytes, read without following a final symbolic link."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise JobFolderError(f"cannot open {safe_repr(path.name)}: {error.strerror}") from error
    digest = hashlib.sha256()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise JobFolderError(f"{safe_repr(path.name)} is not a regular file")
        while chunk := os.read(fd, _HASH_CHUNK):
            digest.update(chunk)
    except OSError as error:
        raise JobFolderError(f"cannot read {safe_repr(path.name)}: {error.strerror}") from error
    finally:
        os.close(fd)
    return digest.hexdigest()


def read_code_preview(
    files: dict[str, Path], *, prefix: str, max_file: int, max_total: int
) -> dict[str, bytes]:
    """Bounded contents of the code files, keyed `{prefix}{path}` like the notify pipeline's."""
    preview: dict[str, bytes] = {}
    total = 0
    for relative in sorted(files):
        if total >= max_total:
            break
        try:
            fd = os.open(files[relative], _OPEN_FLAGS)
        except OSError:
            continue
        try:
            data = os.read(fd, max_file + 1)
        except OSError:
            continue
        finally:
            os.close(fd)
        preview[f"{prefix}{relative}"] = data
        total += len(data)
    return preview


# --- approval -----------------------------------------------------------------------------------


def write_approval(
    syftbox_root: Path,
    job: LocalJob,
    approved_by: str,
    now: dt.datetime,
    hashes: Mapping[str, str] | None = None,
    method: str = "auto",
    reply_id: str | None = None,
) -> dict[str, Any]:
    """Record the approval (with `hashes`, and how it was made) on disk; returns the state.

    `reply_id` (current layout) names the email reply that decided it (`DECIDED_BY_REPLY`), so
    that handling that reply again after a crash recognises its own decision.
    """
    if job.layout is JobLayout.LEGACY:
        rel = f"{job.datasite}/{JOB_ROOT}/{job.name}/{APPROVED_MARKER}"
        marker = resolve_inside(syftbox_root, rel)
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            return {"status": JobStatus.APPROVED.value}
        except OSError as error:
            raise JobFolderError(f"cannot write the approved marker: {error.strerror}") from error
        os.close(fd)
        return {"status": JobStatus.APPROVED.value, "approved_by": approved_by}
    target = _state_target(syftbox_root, job)
    stamp = now.astimezone(dt.UTC).isoformat()
    state: dict[str, Any] = {key: None for key in _STATE_KEYS}
    state.update(job.state)
    if job.status == JobStatus.RECEIVED.value or not state.get("received_at"):
        state["received_at"] = stamp
    state.update(
        status=JobStatus.APPROVED.value,
        approved_by=approved_by,
        approved_at=stamp,
        approval_method=method,
        review_reason=None,
    )
    if hashes:
        state[APPROVED_HASHES] = dict(sorted(hashes.items()))
    if reply_id is not None:
        state[DECIDED_BY_REPLY] = reply_id
    _write_state(target, state)
    return state


def write_rejection(
    syftbox_root: Path,
    job: LocalJob,
    rejected_by: str,
    now: dt.datetime,
    reason: str | None,
    reply_id: str | None = None,
) -> dict[str, Any]:
    """Record a rejection as upstream's `syft-job` `reject(reason)` does (current layout only:
    the legacy layout never had a rejected marker)."""
    if job.layout is JobLayout.LEGACY:
        raise JobFolderError("a legacy-layout job cannot be rejected on disk (no such marker)")
    target = _state_target(syftbox_root, job)
    stamp = now.astimezone(dt.UTC).isoformat()
    state: dict[str, Any] = {key: None for key in _STATE_KEYS}
    state.update(job.state)
    if not state.get("received_at"):
        state["received_at"] = stamp
    state.pop(APPROVED_HASHES, None)
    state.update(
        status=JobStatus.REJECTED.value,
        rejected_by=rejected_by,
        rejected_at=stamp,
        review_reason=reason,
        approved_by=None,
        approved_at=None,
        approval_method=None,
    )
    if reply_id is not None:
        state[DECIDED_BY_REPLY] = reply_id
    _write_state(target, state)
    return state


def withdraw_approval(
    syftbox_root: Path, job: LocalJob, approved: Mapping[str, str], reason: str
) -> dict[str, Any] | None:
    """Put an approved job back to `pending` with `reason`; None if its state moved on.

    The state file is read again first: only the approval recorded with `approved` is withdrawn,
    never a later one, nor a job the runner already started.
    """
    target = _state_target(syftbox_root, job)
    try:
        current = yaml.safe_load(target.read_bytes())
    except (OSError, yaml.YAMLError) as error:
        raise JobFolderError(f"cannot read {STATE_FILE}: {error}") from error
    if not isinstance(current, dict) or recorded_hashes(current) != dict(approved):
        return None
    state = dict(current)
    state.pop(APPROVED_HASHES, None)
    state.update(
        status=JobStatus.PENDING.value,
        approved_by=None,
        approved_at=None,
        approval_method=None,
        review_reason=(WITHDRAWN_PREFIX + reason)[:1000],
    )
    _write_state(target, state)
    return state


def _state_target(syftbox_root: Path, job: LocalJob) -> Path:
    review_rel = f"{job.datasite}/{JOB_ROOT}/{REVIEW}/{job.submitter}/{job.name}"
    review = resolve_inside(syftbox_root, review_rel)
    review.mkdir(parents=True, exist_ok=True)
    # Not resolved: a state file that is a link (even one pointing inside the root) is refused.
    return review / STATE_FILE


def _write_state(target: Path, state: Mapping[str, Any]) -> None:
    data = yaml.safe_dump(dict(state), default_flow_style=False, sort_keys=True, allow_unicode=True)
    _replace(target, data.encode("utf-8"))


def _replace(target: Path, data: bytes) -> None:
    if target.is_symlink():
        raise JobFolderError(f"{STATE_FILE} is a symbolic link; not writing through it")
    write_atomically(target, data, mode=0o644)


# --- the owner client's sync lock ---------------------------------------------------------------


@contextmanager
def sync_lock(syftbox_root: Path) -> Iterator[bool]:
    """Hold the owner client's sync lock if it is free; yields False (not held) when busy."""
    path = syftbox_root / SYNC_LOCK_FILE
    flags = os.O_RDONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        raise JobFolderError(f"cannot open the sync lock: {error.strerror}") from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                yield False
                return
            raise JobFolderError(f"cannot lock the sync lock: {error.strerror}") from error
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def job_folder_names(syftbox_root: Path, do_email: str) -> frozenset[tuple[str, ...]]:
    """Names of the job folders on disk, listed without reading any file (the per-tick check)."""
    base = syftbox_root / do_email / JOB_ROOT
    names: set[tuple[str, ...]] = set()
    for entry in _subfolders(base):
        if entry == REVIEW:
            continue
        if entry == INBOX:
            for ds in _subfolders(base / INBOX):
                names.update((INBOX, ds, job) for job in _subfolders(base / INBOX / ds))
        else:
            names.add((entry,))
    return frozenset(names)


def _subfolders(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [
                e.name
                for e in entries
                if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
            ]
    except OSError:
        return []
