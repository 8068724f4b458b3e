"""One atomic write for every file we replace: old content or new, durable, no leftovers."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import pytest

from syft_monitors.files import write_atomically
from syft_monitors.private_files import write_private_text

ROOT = Path(__file__).resolve().parents[3]


def test_write_atomically_replaces_the_file_with_the_given_mode(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("old")
    write_atomically(target, b"new", mode=0o640)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_write_atomically_keeps_the_old_file_and_no_temporary_when_the_write_fails(
    tmp_path: Path,
) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")

    def refuse() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"new", before_replace=refuse)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_write_atomically_fsyncs_the_file_and_then_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        synced.append("folder" if stat.S_ISDIR(mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomically(tmp_path / "a.eml", b"x")
    assert synced == ["file", "folder"]


def test_private_files_are_durable_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`syft-bg init` wrote its config without fsync; now it goes through the shared routine."""
    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    path = write_private_text(tmp_path / "private" / "config.yaml", "token: x\n")
    assert synced == [False, True]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_write_atomically_never_writes_through_a_planted_temporary_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("untouched")
    folder = tmp_path / "jobs"
    folder.mkdir()
    for pid_like in range(3):
        (folder / f".state.yaml.tmp-{pid_like}").symlink_to(outside)
    write_atomically(folder / "state.yaml", b"status: approved\n")
    assert outside.read_text() == "untouched"
    assert (folder / "state.yaml").read_bytes() == b"status: approved\n"


def _replacing_modules() -> list[str]:
    found = []
    for package in ("syft_monitors", "syft_operator"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == "replace"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                ):
                    found.append(str(path.relative_to(ROOT)))
    return sorted(set(found))


def test_the_atomic_write_exists_once() -> None:
    """Every file the product replaces goes through the one routine: `os.replace` is called in
    `syft_monitors/files.py` and nowhere else."""
    assert _replacing_modules() == ["syft_monitors/files.py"]
