"""`SYFT_peers.json`: who a datasite owner has accepted, rejected or is waiting on.

The file is one JSON object keyed by peer email; each value holds a `state` and optionally a
`public_encryption_bundle`. Keys keep the case they were written with (so a rewrite changes nothing
it did not mean to), while lookups and the sets handed to monitors are case-insensitive, because the
same person can appear as `Alice@x.io` in one place and `alice@x.io` in another. Keys and fields we
do not know are preserved on a round trip: a newer client may have written them.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel, ValidationError, model_validator

from syft_monitors.errors import SyftFileError
from syft_monitors.protocol.emails import (
    is_valid_email,
    normalize_email,
    safe_repr,
    validate_email,
)
from syft_monitors.protocol.jsonfile import json_type, load_json_object, validation_summary
from syft_monitors.protocol.names import PEERS_FILE

logger = logging.getLogger(__name__)

#: Real files hold a few hundred bytes per peer; 5 MiB is thousands of peers with key bundles.
MAX_PEERS_FILE_BYTES = 5 * 1024 * 1024


class PeerState(StrEnum):
    ACCEPTED = "accepted"
    REQUESTED_BY_PEER = "requested_by_peer"
    REJECTED = "rejected"
    REQUESTED_BY_ME = "requested_by_me"


class PeerRecord(BaseModel):
    """One peer's entry. Unknown keys are kept (and written back) untouched."""

    model_config = ConfigDict(extra="allow", frozen=True, hide_input_in_errors=True)

    state: PeerState
    public_encryption_bundle: dict[str, Any] | None = None


class PeersFile(RootModel[dict[str, PeerRecord]]):
    """The whole file. Immutable: `with_state` returns a new value."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    @model_validator(mode="after")
    def _keys_are_emails(self) -> PeersFile:
        for email in self.root:
            if not is_valid_email(email):
                raise ValueError(f"key {safe_repr(email)} is not a valid email address")
        return self

    @property
    def peers(self) -> MappingProxyType[str, PeerRecord]:
        """Read-only view, keys in file order with their original case."""
        return MappingProxyType(self.root)

    def state_of(self, email: str) -> PeerState | None:
        """State of `email` in any case; an exact-case key wins over a case variant."""
        exact = self.root.get(email)
        if exact is not None:
            return exact.state
        key = self._key_for(email)
        return None if key is None else self.root[key].state

    def emails_in_state(self, state: PeerState) -> set[str]:
        """Normalized (lower-case) emails whose entry has `state`."""
        return {normalize_email(email) for email, rec in self.root.items() if rec.state is state}

    def accepted(self) -> set[str]:
        """Normalized (lower-case) emails of accepted peers, for case-blind membership tests."""
        return self.emails_in_state(PeerState.ACCEPTED)

    def with_state(self, email: str, state: PeerState) -> PeersFile:
        """A copy where `email` has `state`; an existing entry keeps its key case and other data."""
        validate_email(email, what="peer email")
        try:
            new_state = PeerState(state)
        except ValueError as e:
            raise SyftFileError(f"unknown peer state {safe_repr(state)}") from e
        key = email if email in self.root else self._key_for(email)
        updated = dict(self.root)
        if key is None:
            updated[email] = PeerRecord(state=new_state)
        else:
            updated[key] = self.root[key].model_copy(update={"state": new_state})
        return PeersFile(updated)

    def dumps(self) -> bytes:
        """JSON with a 2-space indent, as syft-client writes it."""
        document = {
            email: record.model_dump(mode="json", exclude_unset=True)
            for email, record in self.root.items()
        }
        return json.dumps(document, indent=2).encode("utf-8")

    def _key_for(self, email: str) -> str | None:
        wanted = normalize_email(email)
        return next((key for key in self.root if normalize_email(key) == wanted), None)


def parse_peers_file(data: bytes, *, max_bytes: int = MAX_PEERS_FILE_BYTES) -> PeersFile:
    """Parse the bytes of a `SYFT_peers.json`; `SyftFileError` if anything is off."""
    document = load_json_object(data, what=PEERS_FILE, max_bytes=max_bytes)
    states = {state.value for state in PeerState}
    for email, record in document.items():
        if not is_valid_email(email):
            raise SyftFileError(
                f"{PEERS_FILE}: key {safe_repr(email)} is not a valid email address"
            )
        if not isinstance(record, dict):
            raise SyftFileError(
                f"{PEERS_FILE}: entry for {email} must be an object, found {json_type(record)}"
            )
        state = record.get("state")
        if state is None:
            raise SyftFileError(f"{PEERS_FILE}: entry for {email} has no state")
        if not isinstance(state, str) or state not in states:
            shown = safe_repr(state) if isinstance(state, str) else f"({json_type(state)})"
            raise SyftFileError(
                f"{PEERS_FILE}: entry for {email} has unknown state {shown} "
                f"(expected one of {', '.join(sorted(states))})"
            )
    try:
        peers = PeersFile.model_validate(document)
    except ValidationError as e:
        raise SyftFileError(validation_summary(PEERS_FILE, e)) from e
    _warn_about_case_variants(peers)
    return peers


def _warn_about_case_variants(peers: PeersFile) -> None:
    seen: dict[str, str] = {}
    for email in peers.root:
        other = seen.setdefault(normalize_email(email), email)
        if other != email:
            # Not an error: clients have written both; lookups prefer the exact case.
            logger.warning(
                "%s lists one peer under two spellings: %s and %s", PEERS_FILE, other, email
            )


__all__ = [
    "MAX_PEERS_FILE_BYTES",
    "PeerRecord",
    "PeerState",
    "PeersFile",
    "parse_peers_file",
]
