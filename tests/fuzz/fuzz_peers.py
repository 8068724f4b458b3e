"""Fuzz the `SYFT_peers.json` parser and what the monitor derives from a parsed file.

    python tests/fuzz/fuzz_peers.py -atheris_runs=100000

Expected: a `PeersFile` or a one-line `SyftFileError` that quotes no file content beyond a key;
a parsed file writes back to bytes that parse to the same states; the peer events the monitor
derives name valid peers only, and their emails carry only our headers.
"""

from __future__ import annotations

import json

from syft_monitors.errors import SyftFileError
from syft_monitors.monitors.extract import peer_events_from_peers_file, peer_states
from syft_monitors.notify.plan import NotifyConfig, plan_notifications
from syft_monitors.protocol.emails import is_valid_email
from syft_monitors.protocol.peers import parse_peers_file

try:
    from tests.fuzz.fuzzing import check_error_text, check_outgoing, main
except ModuleNotFoundError:  # run as a script: this folder is sys.path[0]
    from fuzzing import check_error_text, check_outgoing, main  # type: ignore[no-redef]

DO = "owner@hospital.example"


def one_input(data: bytes) -> None:
    try:
        peers = parse_peers_file(data)
    except SyftFileError as error:
        check_error_text(error)
        return
    again = parse_peers_file(peers.dumps())
    assert {k: r.state for k, r in again.peers.items()} == {
        k: r.state for k, r in peers.peers.items()
    }
    assert all(is_valid_email(email) for email in peers.accepted())
    for event in peer_events_from_peers_file(peers, {}, DO):
        assert event.peer is not None
        assert is_valid_email(event.peer)
        for outgoing in plan_notifications(event, config=NotifyConfig()):
            check_outgoing(outgoing, frozenset({event.peer}))
    assert set(peer_states(peers)) <= {email.lower() for email in peers.peers}


def seeds() -> list[bytes]:
    documents = [
        {},
        {"alice@uni.example": {"state": "accepted"}},
        {
            "Alice@Uni.example": {"state": "requested_by_peer", "public_encryption_bundle": {}},
            "bob+lab@research.example": {"state": "rejected", "extra": [1, 2, {"x": None}]},
            "carol@legacy.example": {"state": "requested_by_me"},
        },
    ]
    return [json.dumps(doc, indent=2).encode() for doc in documents] + [
        b'{"a@x.io\\r\\nBcc: x@y.io": {"state": "accepted"}}',
        b'{"\\u0430lice@uni.example": {"state": "accepted"}}',
    ]


if __name__ == "__main__":
    main(one_input, seeds)
