"""Canonical relative paths and joining them under a root without escaping it."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syft_monitors.errors import UnsafePathError
from syft_monitors.job_folders.resolve import resolve_inside
from syft_monitors.protocol.paths import check_segment, safe_relative_path

ACCEPTED = [
    "a",
    "a/b",
    "app_data/job/inbox/first_last+tag@uni-x.edu/Job - 1a2b3c4d/config.yaml",
    "données/café ☕/main.py",
    "<b>job</b>/run.sh",
    "a/.hidden",
    "a/..b/c..",
    ("a" * 100 + "/") * 10 + "a" * 14,  # exactly 1024 characters
]

REJECTED = [
    "",
    "/etc/passwd",
    "a/",
    "a//b",
    "./a",
    "a/./b",
    "../a",
    "a/../../b",
    "a/..",
    "a\\b",
    "..\\a",
    "a\x00b",
    "a\nb",
    "a\r\nb",
    "a\tb",
    "a\x1b[31mb",
    "a\x7fb",
    "a\u0085b",
    "a\u202eb",
    "a\u2066b",
    "a\u200fb",
    "a\u2028b",
    "a\ufeffb",
    "a\ud800b",
    "x" * 1025,
    "a/" + "b" * 256,
]


@pytest.mark.parametrize("path", ACCEPTED)
def test_canonical_relative_paths_are_accepted_unchanged(path: str) -> None:
    assert safe_relative_path(path) == PurePosixPath(path)
    assert safe_relative_path(path).as_posix() == path


@pytest.mark.parametrize("path", REJECTED)
def test_unsafe_paths_are_rejected(path: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_relative_path(path)


def test_non_strings_are_rejected() -> None:
    with pytest.raises(UnsafePathError):
        safe_relative_path(b"a/b")  # type: ignore[arg-type]


def test_length_limit_is_configurable_and_named_in_the_error() -> None:
    safe_relative_path("abcd", max_length=4)
    with pytest.raises(UnsafePathError, match="longer than 3"):
        safe_relative_path("abcd", max_length=3)
    with pytest.raises(UnsafePathError, match="job path"):
        safe_relative_path("../x", what="job path")


def test_error_messages_do_not_echo_control_characters() -> None:
    with pytest.raises(UnsafePathError) as caught:
        safe_relative_path("../\x1b[2J")
    assert "\x1b" not in str(caught.value)


@pytest.mark.parametrize("segment", ["", ".", "..", "a/b", "a\\b", "a\nb", "a\u202eb"])
def test_check_segment_rejects(segment: str) -> None:
    with pytest.raises(UnsafePathError):
        check_segment(segment)


SEGMENT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
        blacklist_characters="/\\\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff",
    ),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in {".", ".."})


@given(st.lists(SEGMENT, min_size=1, max_size=6))
def test_any_join_of_safe_segments_is_accepted(segments: list[str]) -> None:
    path = "/".join(segments)
    assert safe_relative_path(path).parts == tuple(segments)


@given(st.lists(SEGMENT, min_size=1, max_size=4), st.integers(min_value=0, max_value=4))
def test_inserting_dotdot_anywhere_is_rejected(segments: list[str], index: int) -> None:
    segments.insert(min(index, len(segments)), "..")
    with pytest.raises(UnsafePathError):
        safe_relative_path("/".join(segments))


# --- resolve_inside --------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "file.txt").write_text("inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    return root, outside


def test_resolves_plain_paths_inside_the_root(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    assert resolve_inside(root, "a/b/file.txt") == root.resolve() / "a" / "b" / "file.txt"
    assert resolve_inside(root, PurePosixPath("a/b")) == root.resolve() / "a" / "b"


def test_missing_components_are_allowed(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    assert resolve_inside(root, "a/new/deeper.txt") == root.resolve() / "a" / "new" / "deeper.txt"


def test_symlinks_that_stay_inside_are_followed(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / "link").symlink_to(root / "a" / "b")
    (root / "rel").symlink_to("a/b/file.txt")
    assert resolve_inside(root, "link/file.txt") == root.resolve() / "a" / "b" / "file.txt"
    assert resolve_inside(root, "rel") == root.resolve() / "a" / "b" / "file.txt"


def test_final_symlink_out_of_root_is_refused(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root / "a" / "leak.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(UnsafePathError, match="outside"):
        resolve_inside(root, "a/leak.txt")


def test_intermediate_symlink_out_of_root_is_refused(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root / "a" / "escape").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        resolve_inside(root, "a/escape/secret.txt")


def test_relative_symlink_climbing_out_is_refused(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / "a" / "up").symlink_to("../../outside")
    with pytest.raises(UnsafePathError):
        resolve_inside(root, "a/up/secret.txt")


def test_dangling_symlink_pointing_outside_is_refused(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root / "dangling").symlink_to(outside / "does-not-exist")
    with pytest.raises(UnsafePathError):
        resolve_inside(root, "dangling")


def test_root_itself_may_be_a_symlink(tree: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = tree
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    assert resolve_inside(alias, "a/b/file.txt") == root.resolve() / "a" / "b" / "file.txt"


def test_unsafe_relative_paths_are_refused_before_touching_disk(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    for rel in ("../outside/secret.txt", "/etc/passwd", "a//b"):
        with pytest.raises(UnsafePathError):
            resolve_inside(root, rel)


def test_symlink_loop_does_not_hang(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    # Either refused or returned inside the root; it must never escape or spin.
    try:
        result = resolve_inside(root, "loop1/x")
    except UnsafePathError:
        return
    assert result.is_relative_to(root.resolve())
