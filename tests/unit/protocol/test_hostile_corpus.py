"""Hostile inputs: each must fail with one exact error class and touch nothing on disk.

Every message case runs with the working directory inside a temporary arena that also holds a
sentinel folder; archive member names aim at that sentinel (`../sentinel/...`) and at absolute
paths. The arena's full listing (names, types, sizes, mtimes) is compared before and after, so an
accidental extraction anywhere under it would fail the test.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syft_monitors.errors import (
    CorruptMessageError,
    EncryptedMessageError,
    HashMismatchError,
    InvalidEmailError,
    InvalidJobError,
    MessageTooLargeError,
    ProtocolError,
    UnsafeArchiveError,
    UnsafePathError,
)
from syft_monitors.job_folders.listing import list_local_jobs
from syft_monitors.protocol.archive import MEMBER_NAME
from syft_monitors.protocol.jobs import extract_jobs
from syft_monitors.protocol.limits import MIB, Limits
from syft_monitors.protocol.messages import decode_message

DS = "ds@uni.example.edu"
DO = "do@hospital.example.org"
MIB_ZEROS_MEMBER = 51 * MIB  # one byte more than a MiB past the 50 MiB default


# --- archive builders --------------------------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def change(
    path: str = f"app_data/job/inbox/{DS}/job/config.yaml", **overrides: Any
) -> dict[str, Any]:
    content = overrides.pop("content", "name: job\n")
    result: dict[str, Any] = {
        "id": str(uuid.UUID(int=1)),
        "old_hash": None,
        "new_hash": sha(content.encode("utf-8", "replace")) if isinstance(content, str) else None,
        "submitted_timestamp": 1715690000.5,
        "path_in_datasite": path,
        "content": content,
        "datasite_email": DO,
        "is_deleted": False,
        "content_type": "text",
    }
    result.update(overrides)
    return result


def document(*changes: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": str(uuid.UUID(int=2)),
        "sender_email": DS,
        "message_filename": {"submitted_timestamp": 1715690000.5, "uid": str(uuid.UUID(int=3))},
        "proposed_file_changes": list(changes) or [change()],
    }
    result.update(overrides)
    return result


Member = tuple[str, bytes, bytes, dict[str, Any]]


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, **extra: Any) -> Member:
    return (name, data, kind, extra)


def tar_gz(*members: Member) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data, kind, extra in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            for key, value in extra.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


def message(doc: Any) -> bytes:
    return tar_gz(member(MEMBER_NAME, json.dumps(doc).encode()))


def raw_json(text: bytes) -> bytes:
    return tar_gz(member(MEMBER_NAME, text))


VALID = functools.partial(message, document())


@functools.cache
def bomb_member() -> bytes:
    # 51 MiB of zeros compress to about 50 KiB: a decompression bomb past the default limit.
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        info = tarfile.TarInfo("padding.bin")
        info.size = MIB_ZEROS_MEMBER

        class Zeros(io.RawIOBase):
            def __init__(self) -> None:
                self.left = MIB_ZEROS_MEMBER

            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                n = min(len(buffer), self.left)
                buffer[:n] = bytes(n)
                self.left -= n
                return n

        tar.addfile(info, io.BufferedReader(Zeros()))
        payload = json.dumps(document()).encode()
        info = tarfile.TarInfo(MEMBER_NAME)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def lying_size_header() -> bytes:
    # A member header that claims 200 MiB but carries a few bytes: the size must not be trusted.
    info = tarfile.TarInfo(MEMBER_NAME)
    info.size = 200 * MIB
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    return gzip.compress(header + b"{}" + bytes(1022))


def many_small_members() -> bytes:
    return tar_gz(*(member(f"f{i}.txt", b"x") for i in range(40)), member(MEMBER_NAME, b"{}"))


def truncated() -> bytes:
    data = VALID()
    return data[: len(data) // 2]


def trailing_garbage() -> bytes:
    return VALID() + b"\x00garbage-after-the-gzip-stream"


def deep_json() -> bytes:
    return raw_json(b'{"proposed_file_changes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], bytes]
    error: type[ProtocolError]
    limits: Limits | None = None


CASES = [
    # envelope and size
    Case(
        "encrypted-random-bytes",
        lambda: os.urandom(4096).replace(b"\x1f", b"\x00"),
        EncryptedMessageError,
    ),
    Case("empty-file", lambda: b"", EncryptedMessageError),
    Case("syc-envelope-like", lambda: b"SYC\x01" + os.urandom(200), EncryptedMessageError),
    Case("compressed-too-large", lambda: b"\x1f\x8b" + bytes(10 * MIB), MessageTooLargeError),
    Case("decompression-bomb", bomb_member, MessageTooLargeError),
    Case("member-size-header-lies", lying_size_header, MessageTooLargeError),
    Case(
        "skipped-members-add-up",
        many_small_members,
        MessageTooLargeError,
        Limits(max_uncompressed_bytes=16 * 1024, max_members=100),
    ),
    Case("too-many-members", many_small_members, MessageTooLargeError),
    # member types and names
    Case(
        "symlink-member",
        lambda: tar_gz(
            member("link", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), member(MEMBER_NAME, b"{}")
        ),
        UnsafeArchiveError,
    ),
    Case(
        "symlink-named-like-the-member",
        lambda: tar_gz(member(MEMBER_NAME, kind=tarfile.SYMTYPE, linkname="/etc/passwd")),
        UnsafeArchiveError,
    ),
    Case(
        "hardlink-member",
        lambda: tar_gz(
            member(MEMBER_NAME, b"{}"), member("hard", kind=tarfile.LNKTYPE, linkname=MEMBER_NAME)
        ),
        UnsafeArchiveError,
    ),
    Case(
        "char-device-member",
        lambda: tar_gz(
            member("tty", kind=tarfile.CHRTYPE, devmajor=5, devminor=0), member(MEMBER_NAME, b"{}")
        ),
        UnsafeArchiveError,
    ),
    Case(
        "block-device-member",
        lambda: tar_gz(
            member("sda", kind=tarfile.BLKTYPE, devmajor=8, devminor=0), member(MEMBER_NAME, b"{}")
        ),
        UnsafeArchiveError,
    ),
    Case(
        "fifo-member",
        lambda: tar_gz(member("pipe", kind=tarfile.FIFOTYPE), member(MEMBER_NAME, b"{}")),
        UnsafeArchiveError,
    ),
    Case(
        "directory-member",
        lambda: tar_gz(member("dir", kind=tarfile.DIRTYPE), member(MEMBER_NAME, b"{}")),
        UnsafeArchiveError,
    ),
    Case(
        "dotdot-member-name",
        lambda: tar_gz(member("../sentinel/pwned", b"x"), member(MEMBER_NAME, b"{}")),
        UnsafeArchiveError,
    ),
    Case(
        "absolute-member-name",
        lambda: tar_gz(member(MEMBER_NAME, b"{}"), member("/tmp/pwned-syft", b"x")),
        UnsafeArchiveError,
    ),
    Case(
        "backslash-member-name",
        lambda: tar_gz(member("..\\..\\pwned", b"x"), member(MEMBER_NAME, b"{}")),
        UnsafeArchiveError,
    ),
    Case(
        "duplicate-json-member",
        lambda: tar_gz(member(MEMBER_NAME, b"{}"), member(MEMBER_NAME, b"{}")),
        UnsafeArchiveError,
    ),
    # container corruption
    Case("bad-gzip", lambda: b"\x1f\x8b\x08\x00" + os.urandom(300), CorruptMessageError),
    Case("truncated-gzip", truncated, CorruptMessageError),
    Case("trailing-garbage", trailing_garbage, CorruptMessageError),
    Case(
        "gzip-but-not-tar",
        lambda: gzip.compress(json.dumps(document()).encode()),
        CorruptMessageError,
    ),
    Case("missing-member", lambda: tar_gz(member("other.json", b"{}")), CorruptMessageError),
    # JSON
    Case("invalid-utf8-json", lambda: raw_json(b'{"id": "\xff\xfe"}'), CorruptMessageError),
    Case("invalid-json-syntax", lambda: raw_json(b'{"id": '), CorruptMessageError),
    Case("json-bomb-deep-nesting", deep_json, MessageTooLargeError),
    Case(
        "json-nan-constant",
        lambda: raw_json(b'{"proposed_file_changes": [NaN]}'),
        CorruptMessageError,
    ),
    Case(
        "json-duplicate-keys",
        lambda: raw_json(b'{"sender_email": "a@b.org", "sender_email": "c@d.org"}'),
        CorruptMessageError,
    ),
    Case("json-top-level-array", lambda: message([document()]), CorruptMessageError),
    Case(
        "json-huge-integer", lambda: raw_json(b'{"id": ' + b"9" * 5000 + b"}"), CorruptMessageError
    ),
    # schema
    Case("wrong-type-sender", lambda: message(document(sender_email=123)), CorruptMessageError),
    Case(
        "wrong-type-changes",
        lambda: message(document(proposed_file_changes={"a": 1})),
        CorruptMessageError,
    ),
    Case(
        "wrong-type-is-deleted",
        lambda: message(document(change(is_deleted="no"))),
        CorruptMessageError,
    ),
    Case(
        "wrong-type-timestamp",
        lambda: message(document(change(submitted_timestamp="soon"))),
        CorruptMessageError,
    ),
    Case(
        "boolean-as-timestamp",
        lambda: message(document(change(submitted_timestamp=True))),
        CorruptMessageError,
    ),
    Case("bad-uuid", lambda: message(document(id="not-a-uuid")), CorruptMessageError),
    Case(
        "missing-field",
        lambda: message({"sender_email": DS, "proposed_file_changes": []}),
        CorruptMessageError,
    ),
    Case(
        "unknown-content-type",
        lambda: message(document(change(content_type="pickle"))),
        CorruptMessageError,
    ),
    Case(
        "deletion-with-content",
        lambda: message(document(change(is_deleted=True))),
        CorruptMessageError,
    ),
    Case(
        "lone-surrogate-text",
        lambda: raw_json(json.dumps(document(change(content="\ud800", new_hash=None))).encode()),
        CorruptMessageError,
    ),
    Case(
        "too-many-changes",
        lambda: message(document(*[change() for _ in range(5)])),
        MessageTooLargeError,
        Limits(max_changes=4),
    ),
    Case("hash-mismatch", lambda: message(document(change(new_hash="0" * 64))), HashMismatchError),
    Case(
        "hash-not-hex", lambda: message(document(change(new_hash="sha256:abc"))), HashMismatchError
    ),
    Case(
        "invalid-base64",
        lambda: message(
            document(change(content="!!not base64!!", content_type="binary", new_hash=None))
        ),
        CorruptMessageError,
    ),
    # paths in the datasite
    Case(
        "path-dotdot",
        lambda: message(document(change("app_data/../../etc/passwd"))),
        UnsafePathError,
    ),
    Case("path-absolute", lambda: message(document(change("/etc/passwd"))), UnsafePathError),
    Case("path-backslash", lambda: message(document(change("app_data\\..\\x"))), UnsafePathError),
    Case("path-nul", lambda: message(document(change("app_data/x\x00.yaml"))), UnsafePathError),
    Case("path-empty-segment", lambda: message(document(change("app_data//x"))), UnsafePathError),
    Case("path-bidi", lambda: message(document(change("app_data/gpj.\u202eexe"))), UnsafePathError),
    Case(
        "job-name-crlf",
        lambda: message(
            document(change(f"app_data/job/inbox/{DS}/a\r\nBcc: x@evil.org/config.yaml"))
        ),
        UnsafePathError,
    ),
    # identities
    Case(
        "invalid-sender-email",
        lambda: message(document(sender_email="ds@evil.org\r\nBcc: all@x.org")),
        InvalidEmailError,
    ),
    Case(
        "sender-not-an-email", lambda: message(document(sender_email="<script>")), InvalidEmailError
    ),
    Case(
        "invalid-datasite-email",
        lambda: message(document(change(datasite_email="../../do"))),
        InvalidEmailError,
    ),
]


# --- the sentinel arena ------------------------------------------------------------------------


def snapshot(top: Path) -> dict[str, tuple[int, int, int]]:
    result: dict[str, tuple[int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            result[str(path.relative_to(top))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return result


@pytest.fixture
def arena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    work = tmp_path / "work"
    work.mkdir()
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("untouched")
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    yield tmp_path
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/pwned-syft").exists()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_message(case: Case, arena: Path) -> None:
    data = case.build()
    with pytest.raises(ProtocolError) as caught:
        decode_message(data, limits=case.limits or Limits())
    assert type(caught.value) is case.error, f"{type(caught.value).__name__}: {caught.value}"
    text = str(caught.value)
    assert "\n" not in text
    assert "\r" not in text
    assert len(text) < 400


def test_valid_baseline_decodes(arena: Path) -> None:
    # Guards the corpus: the builders produce a readable message when nothing is wrong.
    assert decode_message(VALID()).changes[0].text == "name: job\n"


# --- job-level hostility (decoded fine, job rejected or preserved) ----------------------------


def test_html_job_name_is_accepted_and_preserved_literally(arena: Path) -> None:
    name = "<img src=x onerror=alert(1)>&amp;"
    data = message(document(change(f"app_data/job/inbox/{DS}/{name}/config.yaml")))
    (job,) = extract_jobs(decode_message(data)).jobs
    assert job.name == name


def test_yaml_alias_bomb_in_config_is_rejected(arena: Path) -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(9)
    )
    data = message(document(change(content=bomb)))
    extraction = extract_jobs(decode_message(data))
    assert extraction.jobs == []
    assert type(extraction.rejected[0][1]) is InvalidJobError


def test_python_tag_in_config_is_rejected_not_executed(arena: Path) -> None:
    data = message(
        document(change(content="x: !!python/object/apply:os.system ['touch ../sentinel/x']\n"))
    )
    extraction = extract_jobs(decode_message(data))
    assert type(extraction.rejected[0][1]) is InvalidJobError


# --- the data owner's disk ---------------------------------------------------------------------


def test_local_job_folder_symlink_escaping_the_root(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "config.yaml").write_text("name: escape\nsecret: hunter2\n")
    root = tmp_path / "SyftBox"
    inbox = root / DO / "app_data" / "job" / "inbox" / DS
    inbox.mkdir(parents=True)
    (inbox / "escape").symlink_to(sentinel)
    legacy = root / DO / "app_data" / "job" / "legacy-escape"
    legacy.mkdir()
    (legacy / "config.yaml").symlink_to(sentinel / "config.yaml")
    before = snapshot(tmp_path)
    listing = list_local_jobs(root, DO)
    assert snapshot(tmp_path) == before
    assert listing.jobs == []
    assert [type(error) for _, error in listing.rejected] == [UnsafePathError, UnsafePathError]
    assert all("hunter2" not in str(error) for _, error in listing.rejected)
