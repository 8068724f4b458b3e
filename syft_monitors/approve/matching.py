"""Does a job match an auto-approval rule? Strict, first match wins, every refusal explained.

A rule matches when (1) it is active (it pins what runs, or opted out explicitly: see
`AutoApprovalRule.inert`), (2) it allows the submitter (no peers listed = any peer), (3) the job's
file set equals the rule's exactly (a missing, an extra or a renamed file fails), (4) every
content-matched file has the rule's SHA-256, (5) `config.yaml` declares exactly the rule's job
type, entrypoint and dependencies, and (6) `run.sh` is one of the pinned scripts or the script
upstream's syft-job generates for that declaration. What a rule does not pin (only possible with
`allow_unreviewed_run_sh`) is not checked. Files are hashed lazily and at most once per
evaluation, and only after the cheap comparisons passed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from syft_monitors.approve.run_script import (
    BASH_SCRIPT,
    PYPROJECT,
    JobDeclaration,
    canonical_run_script,
)
from syft_monitors.approve_rules import AutoApprovalRule
from syft_monitors.protocol.emails import safe_repr

Hasher = Callable[[Path], str]
_MAX_LISTED = 3


@dataclasses.dataclass(frozen=True, slots=True)
class MatchResult:
    #: The first rule that matched, or None.
    rule: str | None
    #: Why each considered rule did not match (rule name -> one-line reason).
    refusals: dict[str, str]

    def explain(self) -> str:
        if self.rule is not None:
            return f"matched rule {self.rule!r}"
        if not self.refusals:
            return "no rule applies to this submitter"
        return "; ".join(f"{name}: {why}" for name, why in self.refusals.items())


@dataclasses.dataclass(frozen=True, slots=True)
class Submission:
    """What a rule is compared with: the code files, `run.sh` and the declaration."""

    files: Mapping[str, Path]
    run_script: Path | None
    #: The parsed declaration, or why `config.yaml` could not give one.
    declaration: JobDeclaration | str
    #: False for the legacy layout, whose scripts upstream's current syft-job never writes.
    canonical_layout: bool = True


def match_job(
    rules: Sequence[AutoApprovalRule],
    submitter: str,
    submission: Submission,
    hasher: Hasher,
) -> MatchResult:
    hashes: dict[Path, str] = {}

    def digest(path: Path) -> str:
        if path not in hashes:
            hashes[path] = hasher(path)
        return hashes[path]

    refusals: dict[str, str] = {}
    present = frozenset(submission.files)
    for rule in rules:
        if not rule.allows_submitter(submitter):
            continue
        if rule.inert:
            refusals[rule.name] = "inactive: it does not pin " + "; ".join(rule.unreviewed())
            continue
        reason = _refusal(rule, present, submission, digest)
        if reason is None:
            return MatchResult(rule.name, refusals)
        refusals[rule.name] = reason
    return MatchResult(None, refusals)


def _refusal(
    rule: AutoApprovalRule,
    present: frozenset[str],
    submission: Submission,
    digest: Hasher,
) -> str | None:
    files = submission.files
    wanted = rule.file_set()
    missing, extra = wanted - present, present - wanted
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_names(missing)}")
        if extra:
            parts.append(f"extra {_names(extra)}")
        return ", ".join(parts)
    for expected in rule.file_contents:
        if digest(files[expected.relative_path]) != expected.sha256:
            return f"hash mismatch in {safe_repr(expected.relative_path)}"
    declaration = submission.declaration
    if rule.job is not None:
        if isinstance(declaration, str):
            return declaration
        if declaration.type != rule.job.type:
            return f"config.yaml declares type {safe_repr(declaration.type)}"
        if declaration.entrypoint != rule.job.entrypoint:
            return f"config.yaml declares entrypoint {safe_repr(declaration.entrypoint)}"
        if declaration.dependencies != rule.job.dependencies:
            return f"config.yaml declares dependencies {safe_repr(list(declaration.dependencies))}"
    if rule.run_sh_sha256 or rule.canonical_run_sh:
        return _run_script_refusal(rule, submission, digest)
    return None


def _run_script_refusal(
    rule: AutoApprovalRule, submission: Submission, digest: Hasher
) -> str | None:
    run_script = submission.run_script
    if run_script is None:
        return "the job has no run.sh"
    actual = digest(run_script)
    if actual in rule.run_sh_sha256:
        return None
    if not rule.canonical_run_sh:
        return "run.sh differs from the accepted run scripts"
    declaration = submission.declaration
    if not submission.canonical_layout or isinstance(declaration, str):
        return "run.sh is not a pinned script and this job has no generated one"
    if declaration.type == "bash":
        script = submission.files.get(BASH_SCRIPT)
        if script is not None and digest(script) == actual:
            return None
        return "run.sh is not the job's code/script.sh, as syft-job writes it"
    expected = canonical_run_script(
        declaration, has_pyproject=PYPROJECT in submission.files, bash_script=None
    )
    if expected is not None and hashlib.sha256(expected).hexdigest() == actual:
        return None
    return "run.sh is not the script syft-job generates for the declared job"


def _names(paths: frozenset[str]) -> str:
    shown = sorted(paths)[:_MAX_LISTED]
    more = len(paths) - len(shown)
    text = ", ".join(safe_repr(path, limit=60) for path in shown)
    return f"{text} (+{more} more)" if more else text
