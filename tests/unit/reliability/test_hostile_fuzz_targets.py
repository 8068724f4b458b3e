"""The atheris targets in tests/fuzz, run here without atheris: over their seeds, over seeded
random mutations of them, and over hypothesis data (raw bytes, text, JSON documents).

This is the CI half of the fuzzing (`make soak` runs the targets under atheris for N runs). It
covers what the protocol tests' property tests do not: arbitrary bytes into the codec and the
peers-file parser, arbitrary text into the name parsers and folder classification, arbitrary JSON
into the message schema, and the emails planned from whatever decodes.
"""

from __future__ import annotations

import json
import random
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import fuzz_codec, fuzz_names, fuzz_peers

TARGETS: dict[str, ModuleType] = {"codec": fuzz_codec, "names": fuzz_names, "peers": fuzz_peers}
HOSTILE_SNIPPETS = [
    b"\r\nBcc: all@x.example",
    b"<script>alert(1)</script>",
    "\u202e".encode(),
    "\u0430".encode(),
    b"\x00",
    b"$(touch /tmp/pwned)",
    b"../../",
    b'"',
    b"\\u0000",
    b"[" * 70,
]
MUTATIONS = 250

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(5)
        position = rng.randrange(len(buffer) + 1)
        if choice == 0 and buffer:
            buffer[min(position, len(buffer) - 1)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            buffer[position:position] = rng.choice(HOSTILE_SNIPPETS)
        elif choice == 2:
            del buffer[position : position + rng.randint(1, 16)]
        elif choice == 3:
            buffer = buffer[:position]
        else:
            buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(buffer)


@pytest.mark.parametrize("target", TARGETS.values(), ids=TARGETS.keys())
def test_seeds_pass(target: ModuleType) -> None:
    seeds = target.seeds()
    assert seeds
    for seed in seeds:
        target.one_input(seed)


@pytest.mark.parametrize("target", TARGETS.values(), ids=TARGETS.keys())
def test_mutated_seeds_pass(target: ModuleType) -> None:
    rng = random.Random(20240514)
    seeds = target.seeds()
    for _ in range(MUTATIONS):
        target.one_input(mutate(rng.choice(seeds), rng))


@PROPERTY_SETTINGS
@given(st.binary(max_size=4096))
def test_codec_any_bytes(data: bytes) -> None:
    fuzz_codec.one_input(data)


@PROPERTY_SETTINGS
@given(st.binary(max_size=4096))
def test_peers_any_bytes(data: bytes) -> None:
    fuzz_peers.one_input(data)


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_names_any_text(text: str) -> None:
    fuzz_names.one_input(text.encode("utf-8", "surrogatepass"))


_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.sampled_from(["accepted", "rejected", "requested_by_peer", "a@x.example", "\r\n"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=16,
)
_emails = st.sampled_from(
    ["alice@uni.example", "Alice@Uni.example", "\u0430lice@uni.example", "x@y", "a@b.example\r\n"]
)


@PROPERTY_SETTINGS
@given(st.dictionaries(st.one_of(_emails, st.text(max_size=20)), _json, max_size=6))
def test_peers_any_json_object(document: dict[str, Any]) -> None:
    fuzz_peers.one_input(json.dumps(document).encode())


def _proposal_document(overrides: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    base_change: dict[str, Any] = {
        "id": "00000000-0000-0000-0000-000000000001",
        "old_hash": None,
        "new_hash": None,
        "submitted_timestamp": 1715690000.5,
        "path_in_datasite": "app_data/job/inbox/alice@uni.example/train/config.yaml",
        "content": "name: train\n",
        "datasite_email": "owner@hospital.example",
        "is_deleted": False,
        "content_type": "text",
    }
    base_change.update(change)
    document: dict[str, Any] = {
        "id": "00000000-0000-0000-0000-000000000002",
        "sender_email": "alice@uni.example",
        "message_filename": {
            "submitted_timestamp": 1715690000.5,
            "uid": "00000000-0000-0000-0000-000000000003",
        },
        "proposed_file_changes": [base_change],
    }
    document.update(overrides)
    return document


_change_keys = st.sampled_from(
    [
        "id",
        "old_hash",
        "new_hash",
        "submitted_timestamp",
        "path_in_datasite",
        "content",
        "datasite_email",
        "is_deleted",
        "content_type",
    ]
)
_message_keys = st.sampled_from(
    ["id", "sender_email", "message_filename", "proposed_file_changes", "events"]
)


@PROPERTY_SETTINGS
@given(
    st.dictionaries(_message_keys, _json, max_size=2),
    st.dictionaries(_change_keys, _json, max_size=3),
)
def test_codec_any_message_fields(overrides: dict[str, Any], change: dict[str, Any]) -> None:
    document = _proposal_document(overrides, change)
    fuzz_codec.one_input(json.dumps(document).encode())


def test_mutation_helper_changes_its_input() -> None:
    # Guards the mutation test against silently testing the seeds only.
    rng = random.Random(1)
    seed = fuzz_names.seeds()[0]
    changed = sum(mutate(seed, rng) != seed for _ in range(50))
    assert changed >= 45
