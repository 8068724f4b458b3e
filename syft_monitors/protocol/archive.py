"""The SyftBox message container: a gzip-compressed tar holding one JSON member.

Reading never touches the disk and never trusts a header: the compressed size is checked first,
gunzip output is counted as it streams (tar headers and skipped members included), and the one
member we want is read into memory with a bounded read. Only regular files with canonical relative
names may appear in the archive; anything else (links, devices, FIFOs, directories, sparse files,
`..` or absolute names, duplicates of the member we read) makes the whole archive unsafe, because
a different reader (for example `tar -x` by a curious user) would act on it.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib

from syft_monitors.errors import (
    CorruptMessageError,
    EncryptedMessageError,
    MessageTooLargeError,
    UnsafeArchiveError,
    UnsafePathError,
)
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.limits import DEFAULT_LIMITS, Limits
from syft_monitors.protocol.paths import safe_relative_path

#: The only member upstream reads, for both `msgv2_*` and `syfteventsmessagev3_*` archives.
MEMBER_NAME = "proposed_file_changes.json"
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024


class _BoundedReader(io.RawIOBase):
    """File-like wrapper that raises once more than `limit` bytes have been read through it."""

    def __init__(self, inner: gzip.GzipFile, limit: int) -> None:
        super().__init__()
        self._inner = inner
        self._limit = limit
        self.total = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        # Never ask the decompressor for more than one byte past the limit, so a bomb costs at
        # most `limit` bytes of output before it is stopped.
        allowed = self._limit - self.total + 1
        want = allowed if size is None or size < 0 else min(size, allowed)
        chunk = self._inner.read(want)
        self.total += len(chunk)
        if self.total > self._limit:
            raise MessageTooLargeError(
                f"message expands to more than {self._limit} bytes when decompressed"
            )
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_member(
    data: bytes, *, limits: Limits = DEFAULT_LIMITS, member: str = MEMBER_NAME
) -> bytes:
    """Return the bytes of `member` from a gzip tar archive held in memory.

    Raises `EncryptedMessageError` (no gzip magic), `MessageTooLargeError` (compressed size,
    decompressed size, member count), `UnsafeArchiveError` (member types or names) and
    `CorruptMessageError` (bad or truncated gzip, not a tar, member missing).
    """
    if len(data) > limits.max_compressed_bytes:
        raise MessageTooLargeError(
            f"message is {len(data)} bytes, more than the limit of {limits.max_compressed_bytes}"
        )
    if not data.startswith(GZIP_MAGIC):
        raise EncryptedMessageError(
            "not a gzip archive: encrypted message, cannot be read without the peer's keys"
        )
    gz = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
    reader = _BoundedReader(gz, limits.max_uncompressed_bytes)
    try:
        payload = _scan_tar(reader, limits=limits, member=member)
        # The tar end marker can come before the gzip trailer; reading to the end makes gzip
        # verify its CRC and length, so truncated or tampered streams are caught here.
        while reader.read(_CHUNK):
            pass
    except (MessageTooLargeError, UnsafeArchiveError, CorruptMessageError):
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise CorruptMessageError(f"unreadable archive: {_describe(error)}") from error
    if payload is None:
        raise CorruptMessageError(f"archive has no {MEMBER_NAME!r} member")
    return payload


def _scan_tar(reader: _BoundedReader, *, limits: Limits, member: str) -> bytes | None:
    payload: bytes | None = None
    count = 0
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        for info in tar:
            count += 1
            if count > limits.max_members:
                raise MessageTooLargeError(f"archive has more than {limits.max_members} members")
            _check_member(info, limits=limits)
            if info.name != member:
                continue  # a safe regular file we do not need; tarfile skips its data
            if payload is not None:
                raise UnsafeArchiveError(f"archive has more than one {member!r} member")
            if info.size > limits.max_uncompressed_bytes:
                raise MessageTooLargeError(
                    f"member {member!r} declares {info.size} bytes, more than the limit"
                )
            stream = tar.extractfile(info)
            if stream is None:  # pragma: no cover - regular files always have a stream
                raise CorruptMessageError(f"member {member!r} has no data")
            payload = stream.read(info.size)
            if len(payload) != info.size:
                raise CorruptMessageError(f"member {member!r} is truncated")
    return payload


def _check_member(info: tarfile.TarInfo, *, limits: Limits) -> None:
    try:
        safe_relative_path(info.name, what="archive member name", max_length=limits.max_path_length)
    except UnsafePathError as error:
        raise UnsafeArchiveError(f"unsafe archive member name: {error}") from error
    if info.issym() or info.islnk():
        raise UnsafeArchiveError(f"archive member {safe_repr(info.name)} is a link")
    if info.ischr() or info.isblk() or info.isfifo():
        raise UnsafeArchiveError(f"archive member {safe_repr(info.name)} is a device or FIFO")
    if info.isdir():
        raise UnsafeArchiveError(f"archive member {safe_repr(info.name)} is a directory")
    if not info.isreg() or info.issparse():
        raise UnsafeArchiveError(
            f"archive member {safe_repr(info.name)} is not a regular file (type {info.type!r})"
        )


def write_member(payload: bytes, *, member: str = MEMBER_NAME) -> bytes:
    """Build a gzip tar with one regular member, byte-for-byte reproducible.

    Owner, group and times are zeroed (also in the gzip header) so the bytes depend only on the
    payload; upstream readers only look the member up by name.
    """
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        info = tarfile.TarInfo(member)
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _describe(error: BaseException) -> str:
    # Library messages may quote header bytes; keep only the class and a bounded, printable text.
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {safe_repr(text, limit=60)}" if text else type(error).__name__
