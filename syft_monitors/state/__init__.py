"""What the monitors remember: dedup of notifications, send intents, the changes cursor.

`StateManager` is the interface; `JsonStateManager` stores one JSON file, `MemoryStateManager`
keeps state in the process. See `base` for the update contract and `compaction` for how the
document stays bounded.
"""

from __future__ import annotations

from syft_monitors.state.base import OptimisticStateManager, StateManager, Unchanged, legacy_key
from syft_monitors.state.compaction import CompactionPolicy, CompactionReport, compact_document
from syft_monitors.state.json_file import JsonStateManager, OnCorrupt
from syft_monitors.state.memory import MemoryStateManager
from syft_monitors.state.model import (
    SCHEMA_VERSION,
    EmailRepliesRecord,
    HandledReply,
    Heartbeat,
    NotifiedRecord,
    PeerRetryRecord,
    SeenRecord,
    SendIntent,
    StateDocument,
    ThreadRecord,
    to_timestamp,
)

__all__ = [
    "SCHEMA_VERSION",
    "CompactionPolicy",
    "CompactionReport",
    "EmailRepliesRecord",
    "HandledReply",
    "Heartbeat",
    "JsonStateManager",
    "MemoryStateManager",
    "NotifiedRecord",
    "OnCorrupt",
    "OptimisticStateManager",
    "PeerRetryRecord",
    "SeenRecord",
    "SendIntent",
    "StateDocument",
    "StateManager",
    "ThreadRecord",
    "Unchanged",
    "compact_document",
    "legacy_key",
    "to_timestamp",
]
