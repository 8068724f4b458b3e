"""Does a job match an auto-approval rule? Strict, first match wins, every refusal explained.

A rule matches when (1) it allows the submitter (no peers listed = any peer), (2) the job's file
set equals the rule's exactly (a missing or an extra file fails), (3) every content-matched file
has the rule's SHA-256, and (4) when the rule pins `run.sh`, the job's run script has one of the
accepted hashes. Files are hashed lazily and at most once per evaluation, and only after the
cheap set comparison passed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from syft_monitors.approve.rules import AutoApprovalRule
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


def match_job(
    rules: Sequence[AutoApprovalRule],
    submitter: str,
    files: Mapping[str, Path],
    run_script: Path | None,
    hasher: Hasher,
) -> MatchResult:
    hashes: dict[Path, str] = {}

    def digest(path: Path) -> str:
        if path not in hashes:
            hashes[path] = hasher(path)
        return hashes[path]

    refusals: dict[str, str] = {}
    present = frozenset(files)
    for rule in rules:
        if not rule.allows_submitter(submitter):
            continue
        reason = _refusal(rule, present, files, run_script, digest)
        if reason is None:
            return MatchResult(rule.name, refusals)
        refusals[rule.name] = reason
    return MatchResult(None, refusals)


def _refusal(
    rule: AutoApprovalRule,
    present: frozenset[str],
    files: Mapping[str, Path],
    run_script: Path | None,
    digest: Hasher,
) -> str | None:
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
    if rule.run_sh_sha256:
        if run_script is None:
            return "the job has no run.sh"
        if digest(run_script) not in rule.run_sh_sha256:
            return "run.sh differs from the accepted run scripts"
    return None


def _names(paths: frozenset[str]) -> str:
    shown = sorted(paths)[:_MAX_LISTED]
    more = len(paths) - len(shown)
    text = ", ".join(safe_repr(path, limit=60) for path in shown)
    return f"{text} (+{more} more)" if more else text
