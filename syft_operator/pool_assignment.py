"""The document a pool shard reads: `assignment.json` in its ConfigMap `<pool>-shard-<i>`.

The pool process owns this interface (`syft_monitors.pool.assignment`, the same models); until
that module is on this branch the operator builds the document with this copy, field for field
and alias for alias, so the bytes are the same. Monitors are sorted by name and keys come in a
fixed order, so an unchanged assignment renders the same bytes and writes nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

DEFAULT_CONFIG_KEY = "config.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class SecretKey(_Model):
    secret: str
    key: str


class Tokens(_Model):
    drive: SecretKey
    gmail: SecretKey | None = None
    # Spelled as the purpose it names (the interface's word), not camelCased.
    smtp_password: SecretKey | None = Field(default=None, alias="smtp_password")


class AssignedMonitor(_Model):
    name: str
    config_map: str
    config_key: str = DEFAULT_CONFIG_KEY
    tokens: Tokens


class Assignment(_Model):
    version: Literal[1] = 1
    pool: str
    shard: int = Field(ge=0)
    shards: int = Field(ge=1)
    monitors: list[AssignedMonitor] = Field(default_factory=list)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)
