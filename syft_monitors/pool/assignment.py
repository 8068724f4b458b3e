"""The assignment of one pool shard: which SyftMonitors it serves, and where their parts are.

The operator writes it as `assignment.json` in the ConfigMap `<pool>-shard-<i>`, mounted at
`/etc/syft-pool/`; the pool process (`syft-bg pool --assignment ...`) reads it and re-reads it
when kubelet refreshes the file. This module is the one definition of that document: the operator
builds it with these models, the pool parses it with them.

    {"version": 1, "pool": "<pool>", "shard": i, "shards": N,
     "monitors": [{"name": "<SyftMonitor>", "configMap": "<name>-config",
                   "configKey": "config.yaml",
                   "tokens": {"drive": {"secret": "<name>", "key": "<key>"},
                              "gmail": {...}, "smtp_password": {...}},
                   "versions": {"configMap": "<resourceVersion>", "drive": "<rv>", ...}}]}

Only `tokens.drive` is required; `gmail` comes with the Gmail sender, `smtp_password` with SMTP
credentials. `versions` (optional; documents without it still parse) holds the resourceVersions
the operator's watch cache knows of the config ConfigMap and of each token's Secret: a rotated
Secret or an edited config changes the shard's document (never its pod template), and the pool
re-reads only the part whose version changed instead of every part on a timer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from syft_monitors.config import describe_validation_error
from syft_monitors.errors import ConfigError

ASSIGNMENT_VERSION = 1
#: Where the operator mounts the shard's ConfigMap, and the key of the document in it.
ASSIGNMENT_DIR = "/etc/syft-pool"
ASSIGNMENT_KEY = "assignment.json"
DEFAULT_CONFIG_KEY = "config.yaml"
#: A ConfigMap holds at most 1 MiB; an assignment is far smaller (about 300 bytes per monitor).
MAX_ASSIGNMENT_BYTES = 1024 * 1024
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_SECRET_KEY = r"^[-._a-zA-Z0-9]+$"  # noqa: S105 - a pattern, not a password
#: resourceVersions are opaque; etcd's are decimal numbers far shorter than this.
_MAX_VERSION = 128

TokenPurpose = Literal["drive", "gmail", "smtp_password"]


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class SecretKey(_Model):
    """One key of a Secret in the pool's namespace."""

    secret: str = Field(pattern=_DNS_SUBDOMAIN, max_length=253)
    key: str = Field(pattern=_SECRET_KEY, max_length=253)


class Tokens(_Model):
    drive: SecretKey
    gmail: SecretKey | None = None
    # Spelled as the purpose it names (the interface's word), not camelCased.
    smtp_password: SecretKey | None = Field(default=None, alias="smtp_password")

    def refs(self) -> dict[TokenPurpose, SecretKey]:
        """The Secret keys present, by purpose."""
        found: dict[TokenPurpose, SecretKey] = {"drive": self.drive}
        if self.gmail is not None:
            found["gmail"] = self.gmail
        if self.smtp_password is not None:
            found["smtp_password"] = self.smtp_password
        return found


class PartVersions(_Model):
    """The resourceVersions of a monitor's parts as the operator last saw them (opaque
    strings, compared for equality only; None: not known, e.g. not created yet)."""

    config_map: str | None = Field(default=None, max_length=_MAX_VERSION)
    drive: str | None = Field(default=None, max_length=_MAX_VERSION)
    gmail: str | None = Field(default=None, max_length=_MAX_VERSION)
    smtp_password: str | None = Field(default=None, alias="smtp_password", max_length=_MAX_VERSION)

    def token(self, purpose: TokenPurpose) -> str | None:
        found: str | None = getattr(self, purpose)
        return found

    def changed_tokens(self, before: PartVersions) -> list[TokenPurpose]:
        """The token purposes whose Secret's version differs from `before`."""
        purposes: tuple[TokenPurpose, ...] = ("drive", "gmail", "smtp_password")
        return [p for p in purposes if self.token(p) != before.token(p)]


class AssignedMonitor(_Model):
    """One SyftMonitor served by the shard."""

    name: str = Field(pattern=_DNS_SUBDOMAIN, max_length=253)
    config_map: str = Field(pattern=_DNS_SUBDOMAIN, max_length=253)
    config_key: str = Field(default=DEFAULT_CONFIG_KEY, pattern=_SECRET_KEY, max_length=253)
    tokens: Tokens
    versions: PartVersions | None = None

    def location(self) -> str:
        """Where the monitor's parts are, without their versions: a change here (another
        ConfigMap or Secret) makes the pool rebuild the owner; a new version does not."""
        return self.model_dump_json(exclude={"versions"})


class Assignment(_Model):
    version: Literal[1] = 1
    pool: str = Field(pattern=_DNS_SUBDOMAIN, max_length=253)
    shard: int = Field(ge=0)
    shards: int = Field(ge=1)
    monitors: list[AssignedMonitor] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Assignment:
        if self.shard >= self.shards:
            raise ValueError(f"shard {self.shard} is not below shards {self.shards}")
        names = [monitor.name for monitor in self.monitors]
        if len(names) != len(set(names)):
            raise ValueError("a monitor is assigned twice")
        return self

    def to_json(self) -> str:
        """The document as the operator stores it (camelCase, stable key order)."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


def shard_name(pool: str, shard: int) -> str:
    """The Deployment and ConfigMap of shard `shard` of pool `pool`."""
    return f"{pool}-shard-{shard}"


def parse_assignment(raw: bytes | str, *, source: str = ASSIGNMENT_KEY) -> Assignment:
    """The assignment in `raw`; `ConfigError` naming `source` and the problem otherwise."""
    if len(raw) > MAX_ASSIGNMENT_BYTES:
        raise ConfigError(f"{source} is larger than {MAX_ASSIGNMENT_BYTES} bytes")
    try:
        return Assignment.model_validate_json(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: {describe_validation_error(error)}") from error
