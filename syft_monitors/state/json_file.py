"""The state document in one JSON file, safe against crashes and concurrent processes.

- Atomic replacement (`syft_monitors.files.write_atomically`): the new content goes to a temporary
  file in the same directory (created with O_EXCL, mode 0600), is fsynced, renamed over the old
  file with `os.replace`, and the directory is fsynced. A reader or a crash sees the old
  document or the new one, never a mix.
- Locking: an exclusive `flock` on the sibling `<name>.lock` around every read-modify-write, a
  shared one around reads, and a `threading.RLock` for the threads of this process (the cache
  below is shared by them). The lock file is never deleted: deleting a lock file lets two
  processes lock two different inodes.
- Cache: the parsed document is kept and reused while the file's (st_mtime_ns, st_size, st_ino)
  and a random token the last writer put in the lock file are unchanged. The token is needed
  because timestamps are coarse (one clock tick) and a freed inode number can come back, so two
  quick same-size writes can look identical to `stat`.
- A missing directory is created with mode 0700; `~` is expanded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import glob
import json
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar, cast

from pydantic import ValidationError

from syft_monitors.errors import StateError
from syft_monitors.files import file_kind, temporary_name, write_atomically
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.jsonfile import MAX_JSON_DEPTH, json_depth_exceeds
from syft_monitors.state.base import StateManager, Unchanged
from syft_monitors.state.compaction import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_RETENTION,
    CompactionPolicy,
)
from syft_monitors.state.holders import file_lease_alive, hold_file_lease, live_holders
from syft_monitors.state.model import SCHEMA_VERSION, StateDocument

logger = logging.getLogger(__name__)

T = TypeVar("T")

OnCorrupt = Literal["error", "backup"]

_TOKEN_SIZE = 16
_CORRUPT_HINT = "move the state file away, or start with on_corrupt='backup'"

_CacheKey = tuple[int, int, int, bytes]

#: Per state path, the last document this process read or wrote in our own format: what a reset
#: (the file replaced by `{}` or a seed-format file under a running service) is undone with.
#: Per process, not per manager: a config reload builds a new manager on the same file.
_last_known: dict[Path, StateDocument] = {}


class _CorruptError(Exception):
    """Internal: the file exists but is not a state document. `reason` is safe to print."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NeedsExclusiveError(Exception):
    """Internal: a corrupt file must be moved aside, which needs the exclusive lock."""


class JsonStateManager(StateManager):
    """State in a JSON file. `on_corrupt="backup"` moves a corrupt file aside and starts fresh;
    the default refuses to run on it. A file from a newer version is always refused."""

    def __init__(
        self,
        path: Path | str,
        *,
        on_corrupt: OnCorrupt = "error",
        retention: dt.timedelta = DEFAULT_RETENTION,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int | None = None,
    ) -> None:
        if on_corrupt not in ("error", "backup"):
            raise ValueError("on_corrupt must be 'error' or 'backup'")
        super().__init__(
            policy=CompactionPolicy(
                retention=retention, max_entries=max_entries, max_bytes=max_bytes
            )
        )
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        #: One flock'ed file per live process that may send (see `holders`).
        self.lease_dir = self.path.with_name(self.path.name + ".holders")
        self.on_corrupt: OnCorrupt = on_corrupt
        self._thread_lock = threading.RLock()
        self._local = threading.local()
        self._cache: tuple[_CacheKey, StateDocument] | None = None
        self._swept = False
        self._told_fresh = False

    def __repr__(self) -> str:
        return f"JsonStateManager({str(self.path)!r})"

    # --- StateManager primitives ------------------------------------------------------------

    def _view(self) -> StateDocument:
        return self._committed()

    def _update(self, fn: Callable[[StateDocument], T]) -> T:
        with self._thread_lock:
            if self._in_update:
                # The exclusive flock is held through another descriptor: this would deadlock.
                raise RuntimeError("update() cannot be called from inside an update function")
            with self._locked(exclusive=True) as lock_fd:
                self._in_update = True
                try:
                    current = self._read_locked(lock_fd, exclusive=True)
                    work = current.working_copy()
                    try:
                        result = fn(work)
                    except Unchanged as unchanged:
                        return cast(T, unchanged.result)
                    self._write_locked(lock_fd, work)
                    return result
                finally:
                    self._in_update = False

    def _hold_lease(self) -> None:
        self._ensure_directory()
        hold_file_lease(self.lease_dir)

    def _holder_alive(self, holder: str, doc: StateDocument) -> bool:
        return file_lease_alive(self.lease_dir, holder)

    def announce(self, role: str) -> list[str]:
        """Take this process's lease as `role` now; the other live holders with that role."""
        self._ensure_directory()
        hold_file_lease(self.lease_dir, role)
        return [holder for holder, theirs in live_holders(self.lease_dir) if theirs == role]

    def _renew_lease(self, doc: StateDocument) -> None:
        pass  # the flock is the lease: nothing to renew, nothing stored in the document

    def size_bytes(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise StateError(f"cannot stat state file {self._name}: {e.strerror}") from e

    # --- reading ----------------------------------------------------------------------------

    @property
    def _in_update(self) -> bool:
        return bool(getattr(self._local, "in_update", False))

    @_in_update.setter
    def _in_update(self, value: bool) -> None:
        self._local.in_update = value

    @property
    def _key(self) -> Path:
        return self.path.absolute()

    @property
    def _name(self) -> str:
        return safe_repr(str(self.path), limit=200)

    def _committed(self) -> StateDocument:
        """The stored document (shared: never mutate it)."""
        with self._thread_lock:
            if self._in_update:
                # Reads from inside an update function see the state it started from.
                return self._cache[1] if self._cache is not None else StateDocument()
            try:
                with self._locked(exclusive=False) as lock_fd:
                    return self._read_locked(lock_fd, exclusive=False)
            except _NeedsExclusiveError:
                with self._locked(exclusive=True) as lock_fd:
                    return self._read_locked(lock_fd, exclusive=True)

    def _read_locked(self, lock_fd: int | None, *, exclusive: bool) -> StateDocument:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._cache = None
            return StateDocument()
        except OSError as e:
            raise StateError(f"cannot read state file {self._name}: {e.strerror}") from e
        self._refuse_special(st.st_mode)
        token = os.pread(lock_fd, _TOKEN_SIZE, 0) if lock_fd is not None else b""
        key = (st.st_mtime_ns, st.st_size, st.st_ino, token)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        try:
            # O_NONBLOCK: a FIFO swapped in after the stat above must not hang the open.
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with open(fd, "rb") as f:
                st = os.fstat(fd)
                self._refuse_special(st.st_mode)
                raw = f.read()
        except FileNotFoundError:
            # Only possible for lock-less reads (read-only directory) racing a writer.
            self._cache = None
            return StateDocument()
        except OSError as e:
            raise StateError(f"cannot read state file {self._name}: {e.strerror}") from e
        try:
            doc = self._parse(raw)
        except _CorruptError as corrupt:
            if self.on_corrupt == "error":
                err = StateError(f"state file {self._name} is corrupt: {corrupt.reason}")
                err.hint = _CORRUPT_HINT
                raise err from None
            if not exclusive:
                raise _NeedsExclusiveError from None
            self._move_aside(corrupt.reason)
            self._cache = None
            return StateDocument()
        if b'"schema_version"' not in raw:  # `{}` or a seed file: not written by us
            known = _last_known.get(self._key)
            if known is not None and lock_fd is not None:
                if not exclusive:
                    raise _NeedsExclusiveError
                return self._undo_reset(lock_fd, known)
            if doc.is_empty and not self._told_fresh:
                self._told_fresh = True
                logger.warning(
                    "state file %s holds no record of earlier polls: starting fresh (what is"
                    " already in Drive is recorded without emails)",
                    self._name,
                )
        else:
            _last_known[self._key] = doc
        self._cache = ((st.st_mtime_ns, st.st_size, st.st_ino, token), doc)
        return doc

    def _undo_reset(self, lock_fd: int, known: StateDocument) -> StateDocument:
        # Accepting it would make the next poll a silent baseline: the jobs waiting since the
        # last poll would never be emailed, and every record of what was sent would be gone.
        logger.error(
            "state file %s was reset (replaced by an empty or seed-format document) while this"
            " service was running; restored the last state it knew (%d sent, %d pending)."
            " Stop the services before resetting their state",
            self._name,
            len(known.notified),
            len(known.intents) + len(known.work),
        )
        self._write_locked(lock_fd, known)
        return known

    def _refuse_special(self, mode: int) -> None:
        # A FIFO would block every read (and ignore SIGTERM); /dev/null would swallow the state;
        # a directory cannot be replaced by a file.
        if not stat.S_ISREG(mode):
            error = StateError(f"state file {self._name} is {file_kind(mode)}, not a regular file")
            error.hint = "set state_file to a file path in a private folder"
            raise error

    def check(self) -> None:
        """Raise StateError (one line) unless the state can be read and written here: the path
        is a regular file (or absent) holding a readable document, in a writable folder."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        except OSError as e:
            raise StateError(f"cannot use state file {self._name}: {e.strerror}") from e
        if st is not None:
            self._refuse_special(st.st_mode)
        folder = self.path.parent
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            error = StateError(
                f"state file {self._name} cannot be written: folder"
                f" {safe_repr(str(folder), limit=200)} is not writable"
            )
            error.hint = "fix the folder's permissions or set state_file elsewhere"
            raise error
        if st is not None:
            if not os.access(self.path, os.W_OK):
                error = StateError(f"state file {self._name} is read-only")
                error.hint = "make it writable (chmod u+w) or set state_file elsewhere"
                raise error
            self._committed()  # corrupt, newer schema, unreadable: its own one-line StateError
            if self.lock_path.exists() and not os.access(self.lock_path, os.R_OK | os.W_OK):
                raise StateError(f"state lock {self._name}.lock is not writable")

    def _parse(self, raw: bytes) -> StateDocument:
        try:
            return StateDocument.model_validate_json(raw)
        except ValidationError as e:
            first = e
        # Slow path: say precisely what is wrong, or convert a seed-format file.
        if json_depth_exceeds(raw.decode("utf-8", errors="replace")):
            # json.loads would recurse until a RecursionError traceback.
            raise _CorruptError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _CorruptError("not valid JSON") from None
        if not isinstance(obj, dict):
            raise _CorruptError("not a JSON object")
        version = obj.get("schema_version")
        if version is None:
            try:
                doc = StateDocument.from_legacy(obj)
            except ValueError as e:
                raise _CorruptError(f"legacy format not understood ({e})") from None
            logger.info("state file %s is in the seed format; converting it", self._name)
            return doc
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise StateError(
                f"state file {self._name} written by a newer version"
                f" (schema {version}; this version reads up to {SCHEMA_VERSION})"
            ) from None
        errors = first.errors()
        where = ".".join(str(part) for part in errors[0]["loc"]) if errors else "?"
        raise _CorruptError(
            f"not a valid state document ({len(errors)} errors, first at {safe_repr(where)})"
        )

    def _move_aside(self, reason: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.rename(self.path, target)
        except OSError as e:
            raise StateError(f"cannot move corrupt state file {self._name}: {e.strerror}") from e
        logger.warning(
            "state file %s was corrupt (%s); moved it to %s and started with empty state",
            self._name,
            reason,
            safe_repr(target.name, limit=200),
        )

    # --- locking ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[int | None]:
        """Hold the flock; yields the lock file descriptor, or None for an unlockable read."""
        if exclusive:
            self._ensure_directory()
            with contextlib.suppress(FileNotFoundError):
                self._refuse_special(os.stat(self.path).st_mode)
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(self.lock_path, flags, 0o600)
        except OSError as e:
            if not exclusive and e.errno in (errno.ENOENT, errno.EACCES, errno.EROFS):
                # No directory yet, or a read-only mount: whole-file replacement keeps a
                # lock-less read consistent, it just may be one write behind.
                yield None
                return
            raise StateError(f"cannot open state lock {self._name}.lock: {e.strerror}") from e
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StateError(f"state lock {self._name}.lock is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield fd
        finally:
            os.close(fd)  # also releases the flock

    def _ensure_directory(self) -> None:
        parent = self.path.parent
        if parent.is_dir():
            return
        missing: list[Path] = []
        probe = parent
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for directory in reversed(missing):
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                continue
            except OSError as e:
                raise StateError(
                    f"cannot create state directory {safe_repr(str(directory), limit=200)}:"
                    f" {e.strerror}"
                ) from e
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask

    # --- writing ----------------------------------------------------------------------------

    def _write_locked(self, lock_fd: int | None, doc: StateDocument) -> None:
        assert lock_fd is not None  # writes always hold the exclusive lock
        payload = doc.to_json_bytes() + b"\n"
        if not self._swept:
            self._sweep_temporaries()
            self._swept = True
        token = secrets.token_bytes(_TOKEN_SIZE)

        def new_token() -> None:
            # The token changes before the file does: a reader that sees the new token re-reads.
            os.pwrite(lock_fd, token, 0)

        try:
            write_atomically(self.path, payload, mode=0o600, before_replace=new_token)
            st = os.stat(self.path)
        except OSError as e:
            self._cache = None
            raise StateError(f"cannot write state file {self._name}: {e.strerror}") from e
        except BaseException:
            self._cache = None
            raise
        self._cache = ((st.st_mtime_ns, st.st_size, st.st_ino, token), doc)
        _last_known[self._key] = doc

    def _sweep_temporaries(self) -> None:
        # Under the exclusive lock nobody else is writing, so any temporary is a crash leftover.
        pattern = f"{glob.escape(temporary_name(self.path))}*"
        for leftover in self.path.parent.glob(pattern):
            with contextlib.suppress(OSError):
                leftover.unlink()
                logger.debug("removed leftover temporary file %s", leftover.name)
