"""Auto-approval rules as they live in the config file's `approve:` section.

A rule approves a pending job when the job's files under `code/` are exactly the rule's files,
every content-matched file has the rule's SHA-256, and the submitter is one of the rule's peers
(an empty list means any peer). `run.sh` is what actually runs and the data scientist writes it,
so a rule may also pin it (`run_sh_sha256`: the hashes of the run scripts it accepts). Rules are
data only here; matching lives in `approve.matching`.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syft_monitors.protocol.emails import normalize_email, validate_email

_HEX = re.compile(r"^[0-9a-f]{64}$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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


class AutoApprovalRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    #: Submitters allowed by this rule; empty means any accepted peer.
    peers: tuple[str, ...] = ()
    file_contents: tuple[FileHash, ...] = ()
    #: Files matched by path only (their content may vary, e.g. params.json).
    file_paths: tuple[str, ...] = ()
    #: Accepted SHA-256 hashes of the job's `run.sh`; empty means run.sh is not checked.
    run_sh_sha256: tuple[str, ...] = ()

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
