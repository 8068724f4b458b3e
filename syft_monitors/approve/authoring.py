"""Building and changing auto-approval rules (what the `syft-bg` rule commands do, minus I/O).

A rule is made from the data owner's own copies of the files a job may contain: each given file
is hashed (SHA-256 of its bytes) and stored under its path relative to the job's `code/` folder.
That path is the file's name, or its path below a given folder (a folder given as an argument,
or `--base-dir`). Folders are expanded recursively, leaving out what a SyftBox client never
sends (`__pycache__`, `.git`, `.venv`, ... and `syft.pub.yaml`). Only hashes are stored: the
service compares bytes, so no copy of the files is kept.

Every rule written pins what runs: the job's declaration (`job:` type, entrypoint, dependencies)
and its `run.sh` (the script syft-job generates for that declaration, or the scripts given with
`--run-sh`). `rule_from_job` takes all of it from a job the owner reviewed (a template job): its
code files by content, its `config.yaml` declaration, its `run.sh`, and its submitter as the
peer. A rule that would leave any of it open is refused unless `allow_unreviewed_run_sh` says so.

Removing a peer from a rule that names only that peer deletes the rule: an empty peer list means
"any peer", and a removal must never widen who a rule approves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from syft_monitors.approve.run_script import (
    BASH_SCRIPT,
    PYPROJECT,
    JobDeclaration,
    canonical_run_script,
)
from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule, FileHash, JobSpec
from syft_monitors.config import describe_validation_error
from syft_monitors.errors import ConfigError, SyftMonitorError
from syft_monitors.job_folders.approval import CODE_DIR, RUN_SCRIPT, submission_hashes
from syft_monitors.protocol.emails import is_valid_email, normalize_email, safe_repr
from syft_monitors.protocol.jobs import CONFIG_FILE

#: Never part of a submission: upstream's sync does not carry them.
SKIPPED_PARTS = frozenset(
    {
        ".venv",
        ".git",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "node_modules",
        ".DS_Store",
        "syft.pub.yaml",
    }
)
DEFAULT_NAME = "auto_approval"
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def collect_files(files: Sequence[Path], base_dir: Path | None) -> dict[str, Path]:
    """Relative path under `code/` -> local file, for the FILES arguments."""
    base = base_dir.resolve() if base_dir is not None else None
    found: dict[str, Path] = {}
    for given in files:
        path = Path(os.path.expanduser(str(given)))
        info = _lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise ConfigError(f"{safe_repr(str(path))} is a symbolic link; give the file itself")
        if stat.S_ISDIR(info.st_mode):
            anchor = base or path.resolve()
            for file in _walk(path):
                _add(found, _relative(file, anchor), file)
        elif stat.S_ISREG(info.st_mode):
            relative = _relative(path, base) if base is not None else path.name
            _add(found, relative, path)
        else:
            raise ConfigError(f"{safe_repr(str(path))} is not a regular file or a folder")
    return found


def _lstat(path: Path) -> os.stat_result:
    try:
        return path.lstat()
    except OSError as error:
        raise ConfigError(f"cannot read {safe_repr(str(path))}: {error.strerror}") from error


def _walk(folder: Path) -> Iterable[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.name in SKIPPED_PARTS:
            continue
        info = _lstat(entry)
        if stat.S_ISLNK(info.st_mode):
            raise ConfigError(f"{safe_repr(str(entry))} is a symbolic link")
        if stat.S_ISDIR(info.st_mode):
            yield from _walk(entry)
        elif stat.S_ISREG(info.st_mode):
            yield entry


def _relative(path: Path, anchor: Path) -> str:
    try:
        return path.resolve().relative_to(anchor).as_posix()
    except ValueError as error:
        raise ConfigError(
            f"{safe_repr(str(path))} is not inside {safe_repr(str(anchor))}"
        ) from error


def _add(found: dict[str, Path], relative: str, path: Path) -> None:
    if relative in found:
        raise ConfigError(f"two files would both be {safe_repr(relative)} in the job")
    found[relative] = path


def default_name(content_files: Sequence[str], taken: Iterable[str]) -> str:
    """The file's stem for a one-file rule, else `auto_approval`; `_1`, `_2`... when taken."""
    used = set(taken)
    base = DEFAULT_NAME
    if len(content_files) == 1:
        stem = Path(content_files[0]).stem
        cleaned = _NAME_BAD.sub("_", stem).strip("._-")[:90]
        if cleaned:
            base = cleaned
    name, counter = base, 0
    while name in used:
        counter += 1
        name = f"{base}_{counter}"
    return name


def build_rule(
    settings: ApproveSettings,
    *,
    files: Sequence[Path],
    name_only: Sequence[str] = (),
    peers: Sequence[str] = (),
    name: str | None = None,
    base_dir: Path | None = None,
    run_scripts: Sequence[Path] = (),
    job_type: str = "python",
    entrypoint: str | None = None,
    dependencies: Sequence[str] | None = None,
    allow_unreviewed_run_sh: bool = False,
) -> AutoApprovalRule:
    """A rule from the owner's copies of the files, pinning the declaration and run.sh.

    `entrypoint` defaults as syft-job picks it (`main.py`, else the only top-level `.py`);
    `dependencies` are the job's, as its config.yaml lists them (the syft-client install
    source first): without them the declaration is left open, which only
    `allow_unreviewed_run_sh` accepts.
    """
    _check_peers(peers)
    contents = collect_files(files, base_dir)
    job: JobSpec | None = None
    if job_type == "bash":
        job = _job_spec(job_type, None, ())
    elif dependencies is not None:
        entry = entrypoint or _default_entrypoint(contents)
        if entry is None:
            raise ConfigError(
                "cannot tell the entrypoint (no main.py, not one top-level .py): give --entrypoint"
            )
        job = _job_spec(job_type, entry, tuple(dependencies))
    elif not allow_unreviewed_run_sh:
        raise ConfigError(
            "give the job's dependencies as its config.yaml lists them (-d syft-client==VERSION "
            "-d PACKAGE...), or make the rule from the reviewed job itself (--from-job FOLDER)"
        )
    return _rule(
        settings,
        name=name,
        contents={rel: sha256_of(path) for rel, path in contents.items()},
        name_only=name_only,
        peers=peers,
        run_sh=tuple(sha256_of(Path(p)) for p in run_scripts),
        canonical=not run_scripts,
        job=job,
        allow_unreviewed_run_sh=allow_unreviewed_run_sh,
    )


def rule_from_job(
    settings: ApproveSettings,
    folder: Path,
    *,
    name_only: Sequence[str] = (),
    peers: Sequence[str] = (),
    name: str | None = None,
) -> AutoApprovalRule:
    """A rule approving exactly the job in `folder` (a current-layout submission folder).

    Its code files are matched by content (those in `name_only` by path), its declaration is
    pinned, and so is its run.sh: as "the generated script" when it is exactly that, else by
    hash. The peers default to the job's submitter (the name of the folder above it).
    """
    folder = Path(os.path.expanduser(str(folder)))
    try:
        hashes = submission_hashes(folder)
        raw = (folder / CONFIG_FILE).read_bytes()
    except (SyftMonitorError, OSError) as error:
        raise ConfigError(
            f"{safe_repr(str(folder))} is not a usable job folder: {error}"
        ) from error
    try:
        config = yaml.safe_load(raw)
        if not isinstance(config, dict):
            raise ConfigError(f"{CONFIG_FILE} of the job is not a mapping")
        declaration = JobDeclaration.from_config(config)
    except (yaml.YAMLError, SyftMonitorError) as error:
        raise ConfigError(f"cannot read the job's {CONFIG_FILE}: {error}") from error
    prefix = f"{CODE_DIR}/"
    code = {
        path.removeprefix(prefix): digest
        for path, digest in hashes.items()
        if path.startswith(prefix)
    }
    unknown = sorted(set(name_only) - set(code))
    if unknown:
        raise ConfigError(f"the job has no file {safe_repr(unknown[0])} under code/")
    run_sh = hashes[RUN_SCRIPT]
    script_bytes = (folder / CODE_DIR / BASH_SCRIPT).read_bytes() if BASH_SCRIPT in code else None
    expected = canonical_run_script(
        declaration, has_pyproject=PYPROJECT in code, bash_script=script_bytes
    )
    canonical = expected is not None and hashlib.sha256(expected).hexdigest() == run_sh
    submitter = folder.parent.name
    if not peers and not is_valid_email(submitter):
        raise ConfigError("cannot tell the job's submitter from its folder: give --peer")
    return _rule(
        settings,
        name=name,
        contents={rel: digest for rel, digest in code.items() if rel not in name_only},
        name_only=name_only,
        peers=peers or (submitter,),
        run_sh=() if canonical else (run_sh,),
        canonical=canonical,
        job=_job_spec(declaration.type, declaration.entrypoint, declaration.dependencies),
        allow_unreviewed_run_sh=False,
    )


def _check_peers(peers: Sequence[str]) -> None:
    for peer in peers:
        if not is_valid_email(peer):
            raise ConfigError(f"peer is not a valid email address: {safe_repr(peer)}")


def _default_entrypoint(contents: dict[str, Path]) -> str | None:
    if "main.py" in contents:
        return "main.py"
    top = [rel for rel in contents if "/" not in rel and rel.endswith(".py")]
    return top[0] if len(top) == 1 else None


def _job_spec(job_type: str, entrypoint: str | None, dependencies: tuple[str, ...]) -> JobSpec:
    try:
        return JobSpec.model_validate(
            {"type": job_type, "entrypoint": entrypoint, "dependencies": dependencies}
        )
    except ValidationError as error:
        raise ConfigError(f"invalid job declaration: {describe_validation_error(error)}") from error


def _rule(
    settings: ApproveSettings,
    *,
    name: str | None,
    contents: dict[str, str],
    name_only: Sequence[str],
    peers: Sequence[str],
    run_sh: tuple[str, ...],
    canonical: bool,
    job: JobSpec | None,
    allow_unreviewed_run_sh: bool,
) -> AutoApprovalRule:
    taken = [rule.name for rule in settings.auto_approvals]
    if name is not None and name in taken:
        raise ConfigError(
            f"a rule named {safe_repr(name)} exists; remove it first (syft-bg remove-auto-approval)"
        )
    _check_peers(peers)
    try:
        rule = AutoApprovalRule(
            name=name or default_name(list(contents), taken),
            peers=tuple(dict.fromkeys(peers)),
            file_contents=tuple(
                FileHash(relative_path=rel, sha256=digest)
                for rel, digest in sorted(contents.items())
            ),
            file_paths=tuple(dict.fromkeys(name_only)),
            run_sh_sha256=run_sh,
            canonical_run_sh=canonical,
            job=job,
            allow_unreviewed_run_sh=allow_unreviewed_run_sh,
        )
    except ValidationError as error:
        raise ConfigError(f"invalid rule: {describe_validation_error(error)}") from error
    refusal = rule.refusal()
    if refusal is not None:
        raise ConfigError(refusal)
    return rule


def add_rule(settings: ApproveSettings, rule: AutoApprovalRule) -> ApproveSettings:
    return _validated(settings, auto_approvals=(*settings.auto_approvals, rule))


def remove_rule(settings: ApproveSettings, name: str) -> ApproveSettings:
    if settings.rule(name) is None:
        raise ConfigError(f"no auto-approval rule named {safe_repr(name)}")
    kept = tuple(rule for rule in settings.auto_approvals if rule.name != name)
    return _validated(settings, auto_approvals=kept)


@dataclasses.dataclass(frozen=True, slots=True)
class PeerRemoval:
    settings: ApproveSettings
    #: Rules the peer was removed from (and that still name other peers).
    narrowed: tuple[str, ...]
    #: Rules deleted because the peer was the only one they named.
    deleted: tuple[str, ...]
    #: Whether the peer was removed from `approved_peers`.
    unlisted: bool


def remove_peer(settings: ApproveSettings, peer: str, *, name: str | None = None) -> PeerRemoval:
    """Remove `peer` from rule `name` (or every rule and `approved_peers` when None)."""
    wanted = normalize_email(peer)
    if name is not None and settings.rule(name) is None:
        raise ConfigError(f"no auto-approval rule named {safe_repr(name)}")
    narrowed: list[str] = []
    deleted: list[str] = []
    rules: list[AutoApprovalRule] = []
    for rule in settings.auto_approvals:
        listed = [p for p in rule.peers if normalize_email(p) == wanted]
        if (name is not None and rule.name != name) or not listed:
            rules.append(rule)
            continue
        remaining = tuple(p for p in rule.peers if normalize_email(p) != wanted)
        if remaining:
            narrowed.append(rule.name)
            rules.append(rule.model_copy(update={"peers": remaining}))
        else:
            deleted.append(rule.name)
    approved = settings.approved_peers
    unlisted = False
    if name is None:
        approved = tuple(p for p in settings.approved_peers if normalize_email(p) != wanted)
        unlisted = len(approved) != len(settings.approved_peers)
    if not (narrowed or deleted or unlisted):
        where = f"rule {safe_repr(name)}" if name else "any rule or approved_peers"
        raise ConfigError(f"{safe_repr(peer)} is not listed in {where}")
    updated = _validated(settings, auto_approvals=tuple(rules), approved_peers=approved)
    return PeerRemoval(updated, tuple(narrowed), tuple(deleted), unlisted)


def _validated(settings: ApproveSettings, **changes: object) -> ApproveSettings:
    data = settings.model_dump()
    data.update(changes)
    try:
        return ApproveSettings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"approve: {describe_validation_error(error)}") from error
