"""Auto-approval rules as they live in the config file's `approve:` section.

A rule approves a pending job when the job's files under `code/` are exactly the rule's files,
every content-matched file has the rule's SHA-256, and the submitter is one of the rule's peers
(an empty list means any peer). Everything else that decides what runs is part of the match too:
`run.sh`, which the owner's runner executes and the data scientist writes, must be one of the
pinned scripts (`run_sh_sha256`) or the script upstream's `syft-job` generates for the job's
declaration (`canonical_run_sh`), and `config.yaml` must declare exactly the rule's `job:` type,
entrypoint and dependencies.

A rule that leaves any of that open approves code nobody reviewed. Such a rule is still *loaded*
(an old config keeps working for everything else), but it never approves: `unreviewed()` names
what it leaves open, the service warns once per rule, and every command that writes a rule
refuses it. Only `allow_unreviewed_run_sh: true`, a name that states the risk, makes it active.
Rules are data only here; matching lives in `approve.matching`.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syft_monitors.protocol.emails import normalize_email, validate_email

_HEX = re.compile(r"^[0-9a-f]{64}$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# The generated script runs `python {entrypoint}` unquoted and each dependency inside double
# quotes: a value outside these sets would be shell syntax, not a file or a package.
_ENTRYPOINT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$")
_DEPENDENCY_BAD = re.compile(r"[\x00-\x1f\x7f\"$`\\]")
#: Files uv reads in `code/` (the generated script runs it there): they decide what is installed.
_INSTALL_FILES = frozenset({"pyproject.toml", "uv.lock", "uv.toml"})
#: Path-only files with these suffixes are code the job runs or imports (`PYTHONPATH=.`).
_CODE_SUFFIXES = (".py", ".pyc", ".pth", ".so", ".sh")
UNREVIEWED_OPTION = "allow_unreviewed_run_sh"


def _relative_path(value: str) -> str:
    """A clean POSIX path relative to `code/`: no absolute paths, no `..`, no empty parts."""
    if not value or value.startswith("/") or "\\" in value or "\x00" in value:
        raise ValueError(f"not a relative path: {value!r}")
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a clean relative path: {value!r}")
    return str(PurePosixPath(value))


class FileHash(BaseModel):
    """One content-matched file: its path under `code/` and the SHA-256 of its bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relative_path: str
    sha256: str

    @field_validator("relative_path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _relative_path(value)

    @field_validator("sha256")
    @classmethod
    def _hash(cls, value: str) -> str:
        return _sha256(value)


def _sha256(value: str) -> str:
    text = value.strip().lower().removeprefix("sha256:")
    if not _HEX.match(text):
        raise ValueError("must be 64 hex digits (optionally prefixed sha256:)")
    return text


def email_domain(email: str) -> str:
    """The part after the last `@`, lower-cased: what `approved_domains` is compared with."""
    return email.rpartition("@")[2].strip().lower()


class JobSpec(BaseModel):
    """What the job's `config.yaml` must declare, exactly (upstream's defaults when absent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Required (no default) so that the config file always says it.
    type: Literal["python", "bash"]
    #: Relative to `code/`; None for bash jobs.
    entrypoint: str | None = None
    #: In order, the syft-client install source first, as `syft-job` writes them.
    dependencies: tuple[str, ...] = ()

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = _relative_path(value)
        if not _ENTRYPOINT.match(path):
            raise ValueError(f"entrypoint has characters a file name should not: {value!r}")
        return path

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for dep in value:
            if not dep.strip() or _DEPENDENCY_BAD.search(dep):
                raise ValueError(f"not a dependency (empty, or shell characters): {dep!r}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> JobSpec:
        if self.type == "python" and self.entrypoint is None:
            raise ValueError("a python job needs an entrypoint")
        if self.type == "bash" and (self.entrypoint is not None or self.dependencies):
            raise ValueError("a bash job declares no entrypoint and no dependencies")
        return self


class AutoApprovalRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    #: Submitters allowed by this rule; empty means any accepted peer.
    peers: tuple[str, ...] = ()
    file_contents: tuple[FileHash, ...] = ()
    #: Files matched by path only (their content may vary, e.g. params.json).
    file_paths: tuple[str, ...] = ()
    #: Accepted SHA-256 hashes of the job's `run.sh`.
    run_sh_sha256: tuple[str, ...] = ()
    #: Also accept the `run.sh` upstream's syft-job generates for the job's declaration.
    canonical_run_sh: bool = False
    #: What `config.yaml` must declare; None leaves it unchecked (refused unless opted in).
    job: JobSpec | None = None
    #: Approve although run.sh or the declaration is not pinned: the data scientist then
    #: decides what runs on the owner's machine.
    allow_unreviewed_run_sh: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _RULE_NAME.match(value):
            raise ValueError("letters, digits, '.', '_' or '-', at most 100 characters")
        return value

    @field_validator("peers")
    @classmethod
    def _peers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_email(peer, what="peer") for peer in value)

    @field_validator("file_paths")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_relative_path(path) for path in value)

    @field_validator("run_sh_sha256")
    @classmethod
    def _run_sh(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_sha256(item) for item in value))

    @model_validator(mode="after")
    def _files(self) -> AutoApprovalRule:
        paths = [f.relative_path for f in self.file_contents] + list(self.file_paths)
        if not paths:
            raise ValueError(f"rule {self.name!r} lists no files")
        if len(set(paths)) != len(paths):
            raise ValueError(f"rule {self.name!r} lists a file twice")
        return self

    def unreviewed(self) -> tuple[str, ...]:
        """What this rule lets the data scientist choose without review (empty: nothing)."""
        open_parts: list[str] = []
        if not (self.run_sh_sha256 or self.canonical_run_sh):
            open_parts.append("run.sh (pin it: run_sh_sha256 or canonical_run_sh)")
        if self.job is None:
            open_parts.append("the job's type, entrypoint and dependencies (job:)")
        else:
            pinned = {f.relative_path for f in self.file_contents}
            if self.job.entrypoint is not None and self.job.entrypoint not in pinned:
                open_parts.append(f"the entrypoint {self.job.entrypoint} (not content-matched)")
            if self.job.type == "bash" and "script.sh" not in pinned:
                open_parts.append("code/script.sh, the bash job's script (not content-matched)")
        for path in self.file_paths:
            if PurePosixPath(path).name in _INSTALL_FILES:
                open_parts.append(f"{path}, which decides what is installed (path-only)")
            elif path.endswith(_CODE_SUFFIXES):
                open_parts.append(f"{path}, code the job runs (path-only)")
        return tuple(open_parts)

    @property
    def inert(self) -> bool:
        """Loaded but never approving: something is unreviewed and the rule did not opt in."""
        return not self.allow_unreviewed_run_sh and bool(self.unreviewed())

    def refusal(self) -> str | None:
        """Why this rule may not be written or used as it is (None: it may)."""
        if not self.inert:
            return None
        return (
            f"rule {self.name!r} does not pin {'; '.join(self.unreviewed())}: a data scientist "
            f"could change what runs; pin it, or set {UNREVIEWED_OPTION}: true to accept that"
        )

    def file_set(self) -> frozenset[str]:
        return frozenset(f.relative_path for f in self.file_contents) | frozenset(self.file_paths)

    def allows_submitter(self, email: str) -> bool:
        """An empty peer list allows anyone; otherwise a case-blind exact match."""
        wanted = normalize_email(email)
        return not self.peers or any(normalize_email(peer) == wanted for peer in self.peers)


class ApproveSettings(BaseModel):
    """The `approve:` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: int = Field(default=5, ge=1, le=86400)
    #: Peer requests from these domains (exact match after the last `@`) are accepted.
    approved_domains: tuple[str, ...] = ()
    #: Peer requests from these emails are accepted (so are the peers named in any rule).
    approved_peers: tuple[str, ...] = ()
    auto_approvals: tuple[AutoApprovalRule, ...] = ()
    #: Read the owner's replies to new-job emails (approve / deny [reason] / auto-approve)
    #: from Gmail's history feed; needs the SyftBox folder and a token that may read mail.
    email_replies: bool = False

    @field_validator("approved_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for domain in value:
            text = domain.strip().lower().lstrip("@")
            if not _DOMAIN.match(text):
                raise ValueError(f"not a domain name: {domain!r}")
            out.append(text)
        return tuple(out)

    @field_validator("approved_peers")
    @classmethod
    def _approved_peers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_email(peer, what="approved peer") for peer in value)

    @model_validator(mode="after")
    def _unique_names(self) -> ApproveSettings:
        names = [rule.name for rule in self.auto_approvals]
        if len(set(names)) != len(names):
            raise ValueError("two auto-approval rules share a name")
        return self

    def auto_accept_emails(self) -> frozenset[str]:
        """Normalized emails whose peer requests are accepted (listed, or named by a rule)."""
        emails = {normalize_email(peer) for peer in self.approved_peers}
        for rule in self.auto_approvals:
            emails.update(normalize_email(peer) for peer in rule.peers)
        return frozenset(emails)

    def accepts_peer(self, email: str) -> bool:
        """Whether a peer request from `email` is accepted automatically.

        Exact matches only: `a@x.example.com` is not in domain `example.com`, and
        `evil-example.com` is not `example.com`.
        """
        if normalize_email(email) in self.auto_accept_emails():
            return True
        return email_domain(email) in self.approved_domains

    @property
    def accepts_any_peer(self) -> bool:
        """False when no domain or email is listed: the peer side has nothing to do."""
        return bool(self.approved_domains or self.auto_accept_emails())

    def rule(self, name: str) -> AutoApprovalRule | None:
        return next((rule for rule in self.auto_approvals if rule.name == name), None)
