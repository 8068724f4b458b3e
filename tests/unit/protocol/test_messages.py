"""The message wire format: file names, decoding, encoding and the builders."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syft_monitors.errors import CorruptMessageError, InvalidNameError
from syft_monitors.protocol.archive import MEMBER_NAME
from syft_monitors.protocol.limits import Limits
from syft_monitors.protocol.messages import (
    EventsMessage,
    FileChange,
    MessageFileName,
    MessageKind,
    ProposedChangesMessage,
    decode_message,
    is_message_filename,
    parse_message_filename,
)
from syft_sandbox.messages import encode_message, new_events_message, new_proposed_changes

DS = "first_last+tag@uni-x.edu"
DO = "data.owner@hospital.example.org"
UID = uuid.UUID("3f2c8a4e-1b7d-4c55-9a0e-2d6b8f1c7e90")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upstream_style_archive(document: dict[str, Any], *, indent: int | None = 2) -> bytes:
    """What a plain `tarfile` writer in mode w:gz produces (default PAX format, real mtime)."""
    payload = json.dumps(document, indent=indent).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(MEMBER_NAME)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def read_member_json(data: bytes) -> tuple[tarfile.TarInfo, str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [MEMBER_NAME]
        stream = tar.extractfile(members[0])
        assert stream is not None
        return members[0], stream.read().decode()


# --- file names ------------------------------------------------------------------------------


def test_parse_proposal_file_name() -> None:
    parsed = parse_message_filename(f"msgv2_1715690000.123456_{UID}.tar.gz")
    assert parsed == MessageFileName(MessageKind.PROPOSED_CHANGES, 1715690000.123456, UID)
    assert parsed.name == f"msgv2_1715690000.123456_{UID}.tar.gz"


def test_parse_events_file_name() -> None:
    parsed = parse_message_filename(f"syfteventsmessagev3_1715690001.5_{UID}.tar.gz")
    assert parsed.kind is MessageKind.EVENTS
    assert parsed.timestamp == 1715690001.5
    assert parsed.uid == UID


def test_name_renders_the_timestamp_like_python_str_float() -> None:
    assert MessageFileName(MessageKind.EVENTS, 1e16, UID).name == (
        f"syfteventsmessagev3_1e+16_{UID}.tar.gz"
    )
    assert MessageFileName(MessageKind.PROPOSED_CHANGES, 12.0, UID).name == (
        f"msgv2_12.0_{UID}.tar.gz"
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "msgv2_.tar.gz",
        f"msgv2_1715690000.1_{UID}.tar",
        f"msgv2_1715690000.1_{UID}.tar.gz.exe",
        f"msgv2_-1.0_{UID}.tar.gz",
        f"msgv2_nan_{UID}.tar.gz",
        f"msgv2_inf_{UID}.tar.gz",
        f"msgv2_1_000.5_{UID}.tar.gz",
        f"msgv2_ 1.5_{UID}.tar.gz",
        "msgv2_1.5_not-a-uuid.tar.gz",
        f"msgv2_1.5_{UID.hex}.tar.gz",
        f"msgv3_1.5_{UID}.tar.gz",
        f"syfteventsmessagev2_1.5_{UID}.tar.gz",
        f"../msgv2_1.5_{UID}.tar.gz",
        f"msgv2_1.5_{UID}.tar.gz\n",
        f"msgv2_1{'0' * 400}.5_{UID}.tar.gz",
        f"msgv2_1e999_{UID}.tar.gz",
        "SYFT_peers.json",
    ],
)
def test_invalid_file_names_are_rejected(name: str) -> None:
    assert not is_message_filename(name)
    with pytest.raises(InvalidNameError):
        parse_message_filename(name)


@given(
    kind=st.sampled_from(list(MessageKind)),
    timestamp=st.floats(min_value=0, max_value=1e13, allow_nan=False, allow_infinity=False),
    uid=st.uuids(),
)
def test_file_name_round_trip(kind: MessageKind, timestamp: float, uid: uuid.UUID) -> None:
    name = MessageFileName(kind, timestamp, uid).name
    assert is_message_filename(name)
    assert parse_message_filename(name) == MessageFileName(kind, timestamp, uid)


def test_file_name_rejects_bad_timestamps_on_construction() -> None:
    with pytest.raises(InvalidNameError):
        MessageFileName(MessageKind.EVENTS, float("nan"), UID)
    with pytest.raises(InvalidNameError):
        MessageFileName(MessageKind.EVENTS, -1.0, UID)


# --- codec round trips -----------------------------------------------------------------------

SEGMENT = st.text(
    alphabet=st.characters(
        whitelist_categories=("Lu", "Ll", "Lo", "Nd", "Zs", "So"), whitelist_characters="-_.@+"
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in {".", ".."})
PATH = st.lists(SEGMENT, min_size=1, max_size=5).map("/".join)
CONTENT = st.one_of(st.none(), st.text(max_size=200), st.binary(max_size=200))


@settings(max_examples=60, deadline=None)
@given(
    files=st.dictionaries(PATH, CONTENT, max_size=8),
    timestamp=st.floats(min_value=0, max_value=2e9, allow_nan=False),
)
def test_proposal_round_trip(files: dict[str, bytes | str | None], timestamp: float) -> None:
    message = new_proposed_changes(DS, DO, files, timestamp=timestamp)
    decoded = decode_message(encode_message(message))
    assert decoded == message
    for change in decoded.changes:
        original = files[change.path]
        if original is None:
            assert change.is_deleted
            assert change.content is None
            assert change.new_hash is None
        else:
            expected = original.encode() if isinstance(original, str) else original
            assert change.content == expected
            assert change.new_hash == sha(expected)


@settings(max_examples=60, deadline=None)
@given(
    files=st.dictionaries(PATH, CONTENT, max_size=8),
    timestamp=st.floats(min_value=0, max_value=2e9, allow_nan=False),
)
def test_events_round_trip(files: dict[str, bytes | str | None], timestamp: float) -> None:
    message = new_events_message(DO, files, timestamp=timestamp)
    decoded = decode_message(encode_message(message))
    assert decoded == message
    assert isinstance(decoded, EventsMessage)
    assert all(event.timestamp == timestamp for event in decoded.events)


def test_text_and_binary_are_decided_on_encode() -> None:
    message = new_proposed_changes(
        DS,
        DO,
        {"a.txt": "héllo", "b.txt": "ünï".encode(), "c.bin": b"\xff\xfe\x00", "d.txt": b"plain"},
        timestamp=1.0,
        binary={"d.txt"},
    )
    kinds = {change.path: change.is_binary for change in message.changes}
    assert kinds == {"a.txt": False, "b.txt": False, "c.bin": True, "d.txt": True}
    _, text = read_member_json(encode_message(message))
    document = json.loads(text)
    by_path = {c["path_in_datasite"]: c for c in document["proposed_file_changes"]}
    assert by_path["a.txt"]["content"] == "héllo"
    assert by_path["a.txt"]["content_type"] == "text"
    assert by_path["c.bin"]["content"] == base64.b64encode(b"\xff\xfe\x00").decode()
    assert by_path["c.bin"]["content_type"] == "binary"
    assert by_path["d.txt"]["content_type"] == "binary"


def test_text_property() -> None:
    message = new_proposed_changes(DS, DO, {"a": "x", "b": b"\xff", "c": None}, timestamp=1.0)
    texts = {change.path: change.text for change in message.changes}
    assert texts == {"a": "x", "b": None, "c": None}


# --- encoder output format -------------------------------------------------------------------


def test_proposal_json_layout_matches_upstream() -> None:
    message = new_proposed_changes(
        DS,
        DO,
        {"app_data/x.txt": "hi", "gone.txt": None},
        timestamp=1715690000.123456,
        old_hashes={"gone.txt": "ab" * 32},
    )
    info, text = read_member_json(encode_message(message))
    assert (info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname) == (
        0o644,
        0,
        0,
        0,
        "",
        "",
    )
    assert info.type == tarfile.REGTYPE
    assert text.startswith('{\n  "id": ')
    document = json.loads(text)
    assert list(document) == ["id", "sender_email", "message_filename", "proposed_file_changes"]
    assert document["message_filename"] == {
        "submitted_timestamp": 1715690000.123456,
        "uid": str(message.filename.uid),
    }
    first, deletion = document["proposed_file_changes"]
    assert list(first) == [
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
    assert deletion["content"] is None
    assert deletion["new_hash"] is None
    assert deletion["content_type"] is None
    assert deletion["old_hash"] == "ab" * 32
    assert deletion["is_deleted"] is True


def test_events_json_layout_matches_upstream() -> None:
    message = new_events_message(DO, {"app_data/x.txt": "hi"}, timestamp=12.5)
    _, text = read_member_json(encode_message(message))
    assert "\n" not in text
    assert ": " not in text
    document = json.loads(text)
    assert list(document) == ["events", "message_filepath"]
    assert document["message_filepath"] == {
        "id": str(message.id),
        "timestamp": 12.5,
        "extension": ".tar.gz",
    }
    assert list(document["events"][0]) == [
        "id",
        "path_in_datasite",
        "datasite_email",
        "content",
        "old_hash",
        "new_hash",
        "is_deleted",
        "submitted_timestamp",
        "timestamp",
        "content_type",
    ]


def test_encoding_is_reproducible() -> None:
    message = new_proposed_changes(DS, DO, {"a": "b"}, timestamp=3.0)
    assert encode_message(message) == encode_message(message)


def test_non_ascii_text_is_written_as_utf8_not_escaped() -> None:
    message = new_proposed_changes(DS, DO, {"café/ü.txt": "naïve ☕"}, timestamp=3.0)
    _, text = read_member_json(encode_message(message))
    assert "café/ü.txt" in text
    assert "naïve ☕" in text


# --- decoder leniency (what other writers may send) ------------------------------------------


def proposal_document(**change_overrides: Any) -> dict[str, Any]:
    content = "name: job1\n"
    change: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "old_hash": None,
        "new_hash": sha(content.encode()),
        "submitted_timestamp": 1715690000.4,
        "path_in_datasite": f"app_data/job/inbox/{DS}/job1/config.yaml",
        "content": content,
        "datasite_email": DO,
        "is_deleted": False,
        "content_type": "text",
    }
    change.update(change_overrides)
    for key in [k for k, v in change_overrides.items() if v is ...]:
        del change[key]
    return {
        "id": str(uuid.uuid4()),
        "sender_email": DS,
        "message_filename": {"submitted_timestamp": 1715690000.5, "uid": str(UID)},
        "proposed_file_changes": [change],
        "platform_id": "ignored-extra-field",
    }


def test_upstream_style_archive_decodes() -> None:
    message = decode_message(upstream_style_archive(proposal_document()))
    assert isinstance(message, ProposedChangesMessage)
    assert message.sender_email == DS
    assert message.filename == MessageFileName(MessageKind.PROPOSED_CHANGES, 1715690000.5, UID)
    (change,) = message.changes
    assert change.text == "name: job1\n"
    assert change.datasite_email == DO


def test_missing_new_hash_and_content_type_are_computed_like_upstream() -> None:
    document = proposal_document(new_hash=..., content_type=..., old_hash=..., is_deleted=...)
    (change,) = decode_message(upstream_style_archive(document)).changes
    assert change.new_hash == sha(b"name: job1\n")
    assert change.is_binary is False
    assert change.is_deleted is False


def test_upper_case_hashes_are_accepted_and_normalised() -> None:
    document = proposal_document(new_hash=sha(b"name: job1\n").upper(), old_hash="AB" * 32)
    (change,) = decode_message(upstream_style_archive(document)).changes
    assert change.new_hash == sha(b"name: job1\n")
    assert change.old_hash == "ab" * 32


def test_binary_content_is_base64_decoded() -> None:
    raw = bytes(range(256))
    document = proposal_document(
        content=base64.b64encode(raw).decode(), content_type="binary", new_hash=sha(raw)
    )
    (change,) = decode_message(upstream_style_archive(document)).changes
    assert change.content == raw
    assert change.is_binary
    assert change.text is None


def test_integer_timestamps_are_accepted() -> None:
    document = proposal_document(submitted_timestamp=1715690000)
    (change,) = decode_message(upstream_style_archive(document)).changes
    assert change.submitted_timestamp == 1715690000.0


def test_kind_is_guessed_or_enforced() -> None:
    data = upstream_style_archive(proposal_document())
    assert decode_message(data).kind is MessageKind.PROPOSED_CHANGES
    with pytest.raises(CorruptMessageError):
        decode_message(data, kind=MessageKind.EVENTS)
    with pytest.raises(CorruptMessageError):
        decode_message(upstream_style_archive({"something": []}))
    both: dict[str, Any] = {"events": [], "proposed_file_changes": []}
    with pytest.raises(CorruptMessageError):
        decode_message(upstream_style_archive(both))


def test_upstream_style_events_decode() -> None:
    state = "status: approved\n"
    document = {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "path_in_datasite": f"app_data/job/review/{DS}/job1/state.yaml",
                "datasite_email": DO,
                "content": state,
                "old_hash": None,
                "new_hash": sha(state.encode()),
                "is_deleted": False,
                "submitted_timestamp": 10.0,
                "timestamp": 11.0,
                "content_type": "text",
            }
        ],
        "message_filepath": {"id": str(UID), "timestamp": 11.5, "extension": ".tar.gz"},
    }
    message = decode_message(upstream_style_archive(document, indent=None))
    assert isinstance(message, EventsMessage)
    assert message.id == UID
    assert message.filename == MessageFileName(MessageKind.EVENTS, 11.5, UID)
    assert message.events[0].timestamp == 11.0
    assert message.changes == message.events


def test_archives_with_extra_safe_members_are_read() -> None:
    payload = json.dumps(proposal_document()).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("README.txt", b"extra"), (MEMBER_NAME, payload)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert decode_message(buffer.getvalue()).changes[0].text == "name: job1\n"


def test_limits_are_configurable() -> None:
    data = upstream_style_archive(proposal_document())
    with pytest.raises(ValueError, match="positive"):
        Limits(max_members=0)
    decode_message(data, limits=Limits(max_changes=1))
    with pytest.raises(ValueError, match="positive"):
        Limits(max_changes=True)


def test_gzip_header_without_tar_magic_still_needs_valid_tar() -> None:
    with pytest.raises(CorruptMessageError):
        decode_message(gzip.compress(b"\x00" * 10))


# --- invariants of the value types -----------------------------------------------------------


def test_file_change_checks_its_invariants() -> None:
    base: dict[str, Any] = {
        "path": "a.txt",
        "content": b"x",
        "is_binary": False,
        "is_deleted": False,
        "new_hash": sha(b"x"),
        "old_hash": None,
        "id": UID,
        "submitted_timestamp": 1.0,
        "datasite_email": DO,
    }
    FileChange(**base)
    with pytest.raises(CorruptMessageError):
        FileChange(**{**base, "is_deleted": True})
    with pytest.raises(CorruptMessageError):
        FileChange(**{**base, "content": b"\xff", "new_hash": sha(b"\xff")})
    with pytest.raises(CorruptMessageError):
        FileChange(**{**base, "old_hash": "not-a-hash"})


def test_messages_check_their_file_name_kind() -> None:
    events_name = MessageFileName(MessageKind.EVENTS, 1.0, UID)
    with pytest.raises(ValueError, match="msgv2"):
        ProposedChangesMessage(id=UID, sender_email=DS, filename=events_name, changes=())
    with pytest.raises(ValueError, match="uid"):
        EventsMessage(id=uuid.uuid4(), filename=events_name, events=())


def test_empty_old_hash_means_none() -> None:
    (change,) = decode_message(upstream_style_archive(proposal_document(old_hash=""))).changes
    assert change.old_hash is None
