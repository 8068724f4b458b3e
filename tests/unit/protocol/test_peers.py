"""`SYFT_peers.json`: parsing, strict refusal of bad files, immutable updates, exact round trips."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syft_monitors.errors import InvalidEmailError, ProtocolError, SyftFileError
from syft_monitors.protocol.peers import (
    MAX_PEERS_FILE_BYTES,
    PeerRecord,
    PeersFile,
    PeerState,
    parse_peers_file,
)

UPSTREAM_SHAPED = b"""{
  "ds@lab.org": {
    "state": "accepted"
  },
  "Requester@Other.org": {
    "state": "requested_by_peer"
  },
  "spam@bad.example": {
    "state": "rejected"
  },
  "do2@uni.edu": {
    "state": "requested_by_me",
    "public_encryption_bundle": {
      "identity_key": "abc",
      "signed_prekey": {
        "key": "def",
        "signature": "ghi"
      }
    },
    "added_by_a_newer_client": [
      1,
      2
    ]
  }
}"""


def test_parses_every_state() -> None:
    peers = parse_peers_file(UPSTREAM_SHAPED)
    assert peers.state_of("ds@lab.org") is PeerState.ACCEPTED
    assert peers.state_of("requester@other.org") is PeerState.REQUESTED_BY_PEER
    assert peers.state_of("spam@bad.example") is PeerState.REJECTED
    assert peers.state_of("do2@uni.edu") is PeerState.REQUESTED_BY_ME
    assert peers.state_of("nobody@x.io") is None
    record = peers.peers["do2@uni.edu"]
    assert record.public_encryption_bundle == {
        "identity_key": "abc",
        "signed_prekey": {"key": "def", "signature": "ghi"},
    }
    assert list(peers.peers) == [
        "ds@lab.org",
        "Requester@Other.org",
        "spam@bad.example",
        "do2@uni.edu",
    ]


def test_round_trip_is_byte_identical_and_keeps_unknown_keys() -> None:
    assert parse_peers_file(UPSTREAM_SHAPED).dumps() == UPSTREAM_SHAPED


def test_an_explicit_null_bundle_survives_the_round_trip() -> None:
    data = json.dumps({"a@x.io": {"state": "accepted", "public_encryption_bundle": None}}, indent=2)
    assert parse_peers_file(data.encode()).dumps() == data.encode()


def test_empty_file_is_no_peers() -> None:
    peers = parse_peers_file(b"{}")
    assert peers.accepted() == set()
    assert peers.dumps() == b"{}"


def test_accepted_is_normalized_for_case_blind_membership() -> None:
    data = b'{"Alice@Uni.EDU": {"state": "accepted"}, "bob@x.io": {"state": "rejected"}}'
    peers = parse_peers_file(data)
    assert peers.accepted() == {"alice@uni.edu"}
    assert peers.emails_in_state(PeerState.REJECTED) == {"bob@x.io"}


def test_with_state_returns_a_new_file_and_leaves_the_old_one_alone() -> None:
    peers = parse_peers_file(UPSTREAM_SHAPED)
    updated = peers.with_state("REQUESTER@other.org", PeerState.ACCEPTED)
    assert peers.state_of("Requester@Other.org") is PeerState.REQUESTED_BY_PEER
    assert updated.state_of("Requester@Other.org") is PeerState.ACCEPTED
    # The existing key keeps its spelling; no duplicate entry appears.
    assert list(updated.peers) == list(peers.peers)
    assert updated.accepted() == {"ds@lab.org", "requester@other.org"}


def test_with_state_keeps_the_rest_of_the_record() -> None:
    updated = parse_peers_file(UPSTREAM_SHAPED).with_state("do2@uni.edu", PeerState.ACCEPTED)
    document = json.loads(updated.dumps())
    assert document["do2@uni.edu"] == {
        "state": "accepted",
        "public_encryption_bundle": {
            "identity_key": "abc",
            "signed_prekey": {"key": "def", "signature": "ghi"},
        },
        "added_by_a_newer_client": [1, 2],
    }


def test_with_state_adds_a_new_peer_at_the_end() -> None:
    updated = parse_peers_file(UPSTREAM_SHAPED).with_state("New@Peer.io", PeerState.REJECTED)
    assert list(updated.peers)[-1] == "New@Peer.io"
    assert json.loads(updated.dumps())["New@Peer.io"] == {"state": "rejected"}


def test_with_state_validates_its_arguments() -> None:
    peers = parse_peers_file(b"{}")
    with pytest.raises(InvalidEmailError):
        peers.with_state("not an email", PeerState.ACCEPTED)
    with pytest.raises(SyftFileError):
        peers.with_state("a@x.io", "friends")  # type: ignore[arg-type]


def test_models_are_immutable() -> None:
    peers = parse_peers_file(UPSTREAM_SHAPED)
    with pytest.raises(ValueError, match="frozen"):
        peers.peers["ds@lab.org"].state = PeerState.REJECTED  # type: ignore[misc]
    with pytest.raises(TypeError):
        peers.peers["x@y.io"] = PeerRecord(state=PeerState.ACCEPTED)  # type: ignore[index]


def test_exact_case_wins_and_case_variants_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    data = b'{"Alice@x.io": {"state": "rejected"}, "alice@x.io": {"state": "accepted"}}'
    with caplog.at_level(logging.WARNING, logger="syft_monitors.protocol.peers"):
        peers = parse_peers_file(data)
    assert "two spellings" in caplog.text
    assert peers.state_of("alice@x.io") is PeerState.ACCEPTED
    assert peers.state_of("Alice@x.io") is PeerState.REJECTED
    assert peers.state_of("ALICE@X.IO") is PeerState.REJECTED  # first in file order


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'{"a@x.io": {"state": "accepted"}} trailing', "not valid JSON"),
        (b"[]", "must be a JSON object, found an array"),
        (b"null", "found null"),
        (b'"a@x.io"', "found a string"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'\xef\xbb\xbf{"a@x.io": {"state": "accepted"}}', "not valid JSON"),  # BOM
        (b'{"not-an-email": {"state": "accepted"}}', "is not a valid email"),
        (b'{"a@x.io\\r\\nBcc: x@y.io": {"state": "accepted"}}', "is not a valid email"),
        (b'{"a@x.io": "accepted"}', "must be an object, found a string"),
        (b'{"a@x.io": {}}', "has no state"),
        (b'{"a@x.io": {"state": null}}', "has no state"),
        (b'{"a@x.io": {"state": "friends"}}', "unknown state 'friends'"),
        (b'{"a@x.io": {"state": "ACCEPTED"}}', "unknown state"),
        (b'{"a@x.io": {"state": 1}}', "unknown state (a number)"),
        (b'{"a@x.io": {"state": "accepted", "public_encryption_bundle": 5}}', "bundle"),
        (b'{"a@x.io": {"state": "accepted"}, "a@x.io": {"state": "rejected"}}', "repeats"),
        (b'{"a@x.io": {"state": "accepted", "n": NaN}}', "NaN"),
        (b'{"a@x.io": {"state": "accepted", "n": ' + b"9" * 5000 + b"}}", "too large"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(data: bytes, fragment: str) -> None:
    with pytest.raises(SyftFileError, match=r"SYFT_peers\.json") as caught:
        parse_peers_file(data)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ProtocolError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("depth", [63, 100_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    # 63 + the two objects around it: one level past the bound, far below Python's recursion limit.
    data = b'{"a@x.io": {"state": "accepted", "x": ' + b"[" * depth + b"]" * depth + b"}}"
    with pytest.raises(SyftFileError, match="nests JSON values deeper than 64 levels"):
        parse_peers_file(data)
    shallow = b'{"a@x.io": {"state": "accepted", "x": ' + b"[" * 62 + b"]" * 62 + b"}}"
    assert parse_peers_file(shallow).accepted() == {"a@x.io"}


def test_size_limit_is_enforced_before_parsing_and_configurable() -> None:
    data = b'{"a@x.io": {"state": "accepted"}}'
    assert parse_peers_file(data, max_bytes=len(data)).accepted() == {"a@x.io"}
    with pytest.raises(SyftFileError, match="more than the 10-byte limit"):
        parse_peers_file(data, max_bytes=10)
    with pytest.raises(SyftFileError, match="limit"):
        parse_peers_file(b" " * (MAX_PEERS_FILE_BYTES + 1))


def test_messages_never_contain_other_file_contents() -> None:
    data = b'{"a@x.io": {"state": "accepted", "public_encryption_bundle": "SECRET-KEY-MATERIAL"}}'
    with pytest.raises(SyftFileError) as caught:
        parse_peers_file(data)
    assert "SECRET" not in str(caught.value)
    assert "SECRET" not in str(caught.value.__cause__)


def test_direct_construction_checks_keys_too() -> None:
    with pytest.raises(ValueError, match="not a valid email"):
        PeersFile({"nope": PeerRecord(state=PeerState.ACCEPTED)})


_emails = st.builds(
    lambda local, domain: f"{local}@{domain}.org",
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_+.-]{0,10}[A-Za-z0-9]", fullmatch=True).filter(
        lambda s: ".." not in s
    ),
    st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z]", fullmatch=True),
)


@given(st.dictionaries(_emails, st.sampled_from(list(PeerState)), max_size=8))
def test_any_file_round_trips(states: dict[str, PeerState]) -> None:
    data = json.dumps({email: {"state": state.value} for email, state in states.items()}, indent=2)
    peers = parse_peers_file(data.encode())
    assert peers.dumps() == data.encode()
    assert {email: peers.state_of(email) for email in states} == states
