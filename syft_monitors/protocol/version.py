"""`SYFT_version.json`: the client and protocol versions a datasite speaks.

Each user keeps one in their `SyftBox` folder and shares it read-only with their peers, who read it
to decide whether they can talk. Keys we do not know are ignored. `attestation_token` is a
credential-like value: it is kept out of `repr` and never appears in messages.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
)

from syft_monitors.errors import SyftFileError
from syft_monitors.protocol.jsonfile import load_json_object, validation_summary
from syft_monitors.protocol.names import VERSION_FILE, is_valid_version

#: The real file is a few hundred bytes; the bound leaves room for a long attestation token.
MAX_VERSION_FILE_BYTES = 256 * 1024
_MAX_TEXT = 4096


class VersionInfo(BaseModel):
    """The parsed file; version fields must pass `names.is_valid_version`."""

    # Inputs stay out of pydantic's own messages too: a chained cause may reach a log.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    syft_client_version: str
    min_supported_syft_client_version: str
    protocol_version: str
    min_supported_protocol_version: str
    syft_client_install_source: str | None = Field(default=None, max_length=_MAX_TEXT)
    updated_at: datetime
    attestation_token: str | None = Field(default=None, repr=False)

    @field_validator(
        "syft_client_version",
        "min_supported_syft_client_version",
        "protocol_version",
        "min_supported_protocol_version",
    )
    @classmethod
    def _is_version(cls, value: str) -> str:
        if not is_valid_version(value):
            raise ValueError("not a MAJOR.MINOR.PATCH version")
        return value

    @field_validator("updated_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # Writers differ on whether they add an offset; naive times are UTC in practice, and
        # mixing naive and aware datetimes would make later comparisons raise.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    @field_serializer("updated_at")
    def _isoformat(self, value: datetime) -> str:
        # Python's own ISO form (`+00:00`), which every reader's `fromisoformat` accepts.
        return value.isoformat()

    def dumps(self) -> bytes:
        """JSON with a 2-space indent, every field present (absent optional ones as null)."""
        return json.dumps(self.model_dump(mode="json"), indent=2).encode("utf-8")


def parse_version_file(data: bytes, *, max_bytes: int = MAX_VERSION_FILE_BYTES) -> VersionInfo:
    """Parse the bytes of a `SYFT_version.json`; `SyftFileError` if anything is off."""
    document = load_json_object(data, what=VERSION_FILE, max_bytes=max_bytes)
    try:
        return VersionInfo.model_validate(document)
    except ValidationError as e:
        raise SyftFileError(validation_summary(VERSION_FILE, e)) from e


def dump_version_file(info: VersionInfo) -> bytes:
    return info.dumps()


__all__ = [
    "MAX_VERSION_FILE_BYTES",
    "VersionInfo",
    "dump_version_file",
    "parse_version_file",
]
