"""The JSON file backend: on-disk format, permissions, corruption, caching."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from syft_monitors.errors import StateError
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import SCHEMA_VERSION, JsonStateManager, PeerRetryRecord, StateDocument


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_file_reads_as_empty_and_creates_nothing(tmp_path: Path) -> None:
    manager = JsonStateManager(tmp_path / "sub" / "state.json")
    assert manager.load() == StateDocument()
    assert manager.size_bytes() == 0
    assert not (tmp_path / "sub").exists()


def test_first_write_creates_private_directories_and_files(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        manager = JsonStateManager(tmp_path / "a" / "b" / "state.json")
        manager.set_cursor("1")
    finally:
        os.umask(old_umask)
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(tmp_path / "a" / "b" / "state.json") == 0o600
    assert _mode(tmp_path / "a" / "b" / "state.json.lock") == 0o600
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == [
        "state.json",
        "state.json.lock",
    ]


def test_existing_directory_mode_is_not_changed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    JsonStateManager(shared / "state.json").set_cursor("1")
    assert _mode(shared) == 0o755


def test_rewrite_tightens_a_loose_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    JsonStateManager(path).set_cursor("1")
    assert _mode(path) == 0o600


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    manager = JsonStateManager("~/.syft-bg/notify/state.json")
    assert manager.path == tmp_path / ".syft-bg" / "notify" / "state.json"
    manager.set_data("k", 1)
    assert (tmp_path / ".syft-bg" / "notify" / "state.json").is_file()


def test_file_is_compact_versioned_json(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    manager = JsonStateManager(path)
    manager.mark_notified("job1", "new")
    raw = path.read_bytes()
    assert raw.endswith(b"}\n")
    obj = json.loads(raw)
    assert obj["schema_version"] == SCHEMA_VERSION
    assert "job1:new" in obj["notified"]
    assert manager.size_bytes() == len(raw)


def test_two_managers_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first, second = JsonStateManager(path), JsonStateManager(path)
    assert not Ledger(second).is_seen("file:1")  # primes the cache of `second`
    Ledger(first).mark_seen(["file:1"], "msgv2")
    assert Ledger(second).is_seen("file:1")
    for n in range(20):  # same-size rewrites in quick succession must not look unchanged
        first.set_data("n", n % 10)
        assert second.get_data("n") == n % 10


def test_nested_update_is_refused(tmp_path: Path) -> None:
    manager = JsonStateManager(tmp_path / "state.json")

    def nested(doc: StateDocument) -> None:
        manager.set_data("inner", 1)

    with pytest.raises(RuntimeError, match="inside an update"):
        manager.update(nested)


def test_reads_inside_an_update_see_the_starting_state(tmp_path: Path) -> None:
    manager = JsonStateManager(tmp_path / "state.json")
    manager.set_data("n", 1)

    def peek(doc: StateDocument) -> object:
        doc.data["n"] = 2
        return manager.get_data("n")

    assert manager.update(peek) == 1
    assert manager.get_data("n") == 2


def test_leftover_temporary_files_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    leftover = tmp_path / ".state.json.tmp-999-deadbeef"
    leftover.write_bytes(b'{"half": ')
    unrelated = tmp_path / ".other.json.tmp-1-2"
    unrelated.write_bytes(b"")
    JsonStateManager(path).set_cursor("1")
    assert not leftover.exists()
    assert unrelated.exists()


# --- bad files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"schema_version": 1, "cursor": ', "not valid JSON"),
        (b"\xff\xfe garbage", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema_version": 1, "seen": {"k": {"at": "never", "kind": "x"}}}', "first at"),
        (b'{"schema_version": 1, "surprise": true}', "not a valid state document"),
        (b'{"schema_version": "1x"}', "not a valid state document"),
        (b'{"notified_jobs": ["not", "a", "map"]}', "legacy format"),
        # Once a RecursionError traceback; a seed-format file takes the same path.
        (b'{"schema_version": 1, "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "deeper than 64"),
        (b'{"notified_jobs": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001, "deeper than 64"),
    ],
)
def test_corrupt_file_is_an_error_by_default(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    manager = JsonStateManager(path)
    with pytest.raises(StateError, match=reason) as info:
        manager.load()
    assert "state.json" in str(info.value)
    assert info.value.hint is not None
    with pytest.raises(StateError):
        manager.set_cursor("1")
    assert path.read_bytes() == content  # never silently reset


def test_error_message_does_not_echo_file_contents(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"schema_version": 1, "cursor": 12345678901234567890123, "token": "ya29.x"}')
    with pytest.raises(StateError) as info:
        JsonStateManager(path).load()
    assert "ya29" not in str(info.value)
    assert "12345678901234567890123" not in str(info.value)


def test_corrupt_file_is_moved_aside_in_backup_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"{ torn write")
    manager = JsonStateManager(path, on_corrupt="backup")
    with caplog.at_level(logging.WARNING, logger="syft_monitors.state"):
        assert manager.load() == StateDocument()
    backups = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == b"{ torn write"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    manager.set_cursor("fresh")
    assert JsonStateManager(path).get_cursor() == "fresh"

    path.write_bytes(b"again")
    assert JsonStateManager(path, on_corrupt="backup").get_cursor() is None
    assert len(list(tmp_path.glob("state.json.corrupt-*"))) == 2


def test_backup_mode_inside_update(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"nope")
    manager = JsonStateManager(path, on_corrupt="backup")
    manager.set_data("k", "v")
    assert manager.get_data("k") == "v"
    assert len(list(tmp_path.glob("state.json.corrupt-*"))) == 1


@pytest.mark.parametrize("mode", ["error", "backup"])
def test_newer_schema_is_refused_in_every_mode(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "state.json"
    content = json.dumps({"schema_version": SCHEMA_VERSION + 1, "whatever": {}}).encode()
    path.write_bytes(content)
    manager = JsonStateManager(path, on_corrupt=mode)  # type: ignore[arg-type]
    with pytest.raises(StateError, match="newer version"):
        manager.load()
    with pytest.raises(StateError, match="newer version"):
        manager.set_cursor("1")
    assert path.read_bytes() == content
    assert list(tmp_path.glob("state.json.corrupt-*")) == []


def test_on_corrupt_must_be_known(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_corrupt"):
        JsonStateManager(tmp_path / "s.json", on_corrupt="ignore")  # type: ignore[arg-type]


def test_seed_format_file_is_converted_on_read_and_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    seed = {
        "notified_jobs": {"job1": ["new", "executed"], "msg_1AbC": ["processed"]},
        "peer_snapshot": ["ds@x.org"],
    }
    path.write_text(json.dumps(seed, indent=2))
    manager = JsonStateManager(path)
    assert manager.was_notified("job1", "new")
    assert manager.was_notified("msg_1AbC", "processed")
    assert not manager.was_notified("job1", "approved")
    assert manager.get_data("peer_snapshot") == ["ds@x.org"]
    manager.mark_notified("job1", "approved")
    rewritten = json.loads(path.read_bytes())
    assert rewritten["schema_version"] == SCHEMA_VERSION
    assert set(rewritten["notified"]) == {
        "job1:new",
        "job1:executed",
        "msg_1AbC:processed",
        "job1:approved",
    }


def test_empty_object_is_an_empty_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")  # what the seed creates for a new file
    assert JsonStateManager(path).load() == StateDocument()


def test_read_only_directory_can_still_be_read(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    directory = tmp_path / "ro"
    directory.mkdir()
    JsonStateManager(directory / "state.json").set_cursor("c")
    (directory / "state.json.lock").unlink()
    os.chmod(directory, 0o500)
    try:
        manager = JsonStateManager(directory / "state.json")
        assert manager.get_cursor() == "c"
        with pytest.raises(StateError, match="lock"):
            manager.set_cursor("d")
    finally:
        os.chmod(directory, 0o700)


ALICE = "alice@" + "example.org"
#: A state file as the previous version (schema 2) wrote it: the approve service kept its peer
#: retries in free-form data. The second entry cannot be retried (no folder) and is dropped.
VERSION_2_WITH_APPROVE_RETRIES = (
    '{"schema_version":2,"cursor":null,"cursors":{"approve":"812","notify":"811"},'
    '"data":{"mine":1,"approve":{"peer_retries":{'
    '"ALICE":{"email":"ALICE","folder":"syft_outbox_inbox_do@example.org_to_ALICE",'
    '"attempts":2,"next_at":1767225600.5,"error":"HTTP 500"},'
    '"bob":{"email":"bob","attempts":1,"next_at":0}},'
    '"kept":"x"}}}'
).replace("ALICE", ALICE)


def test_a_version_2_document_keeps_its_approve_retries_as_typed_records(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(VERSION_2_WITH_APPROVE_RETRIES, encoding="utf-8")
    state = JsonStateManager(path)
    doc = state.load()
    assert doc.approve_retries == {
        ALICE: PeerRetryRecord(
            email=ALICE,
            folder=f"syft_outbox_inbox_do@example.org_to_{ALICE}",
            attempts=2,
            next_at=1767225600.5,
            error="HTTP 500",
        )
    }
    assert doc.data == {"mine": 1, "approve": {"kept": "x"}}
    assert doc.cursors == {"approve": "812", "notify": "811"}
    state.set_data("mine", 2)  # the first write stores the new format
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["schema_version"] == SCHEMA_VERSION
    assert stored["data"] == {"mine": 2, "approve": {"kept": "x"}}
    assert stored["approve_retries"][ALICE]["attempts"] == 2
