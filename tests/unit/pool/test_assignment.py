"""The shard assignment document: the operator writes it, the pool reads it."""

from __future__ import annotations

import json

import pytest

from syft_monitors.errors import ConfigError
from syft_monitors.pool.assignment import (
    AssignedMonitor,
    Assignment,
    SecretKey,
    Tokens,
    parse_assignment,
    shard_name,
)

DOCUMENT = {
    "version": 1,
    "pool": "campus",
    "shard": 1,
    "shards": 3,
    "monitors": [
        {
            "name": "alice",
            "configMap": "alice-config",
            "configKey": "config.yaml",
            "tokens": {
                "drive": {"secret": "alice-drive", "key": "token.json"},
                "gmail": {"secret": "alice-gmail", "key": "token.json"},
            },
        },
        {
            "name": "bob",
            "configMap": "bob-config",
            "tokens": {
                "drive": {"secret": "bob", "key": "drive"},
                "smtp_password": {"secret": "bob", "key": "smtp"},
            },
        },
    ],
}


def test_the_document_of_the_interface_parses_and_round_trips() -> None:
    assignment = parse_assignment(json.dumps(DOCUMENT))
    assert [m.name for m in assignment.monitors] == ["alice", "bob"]
    assert assignment.monitors[1].config_key == "config.yaml"
    assert set(assignment.monitors[0].tokens.refs()) == {"drive", "gmail"}
    assert assignment.monitors[1].tokens.refs()["smtp_password"] == SecretKey(
        secret="bob", key="smtp"
    )
    again = json.loads(assignment.to_json())
    assert again["monitors"][0]["configMap"] == "alice-config"
    assert again["monitors"][1]["tokens"]["smtp_password"] == {"secret": "bob", "key": "smtp"}
    assert parse_assignment(assignment.to_json()) == assignment


def test_the_operator_builds_it_with_python_names() -> None:
    built = Assignment(
        pool="campus",
        shard=0,
        shards=1,
        monitors=[
            AssignedMonitor(
                name="carol",
                config_map="carol-config",
                tokens=Tokens(drive=SecretKey(secret="carol-drive", key="token.json")),
            )
        ],
    )
    assert json.loads(built.to_json())["monitors"][0] == {
        "name": "carol",
        "configMap": "carol-config",
        "configKey": "config.yaml",
        "tokens": {"drive": {"secret": "carol-drive", "key": "token.json"}},
    }
    assert shard_name("campus", 2) == "campus-shard-2"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"version": 2}, "version"),
        ({"shard": 3}, "not below shards"),
        ({"monitors": [DOCUMENT["monitors"][0]] * 2}, "assigned twice"),  # type: ignore[index]
        ({"extra": 1}, "unknown key"),
        ({"pool": "Not_A_Name"}, "pool"),
    ],
)
def test_bad_documents_are_refused_with_a_clear_error(
    change: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_assignment(json.dumps({**DOCUMENT, **change}), source="assignment.json")


def test_a_monitor_without_a_drive_token_is_refused() -> None:
    broken = json.loads(json.dumps(DOCUMENT))
    del broken["monitors"][0]["tokens"]["drive"]
    with pytest.raises(ConfigError, match="drive"):
        parse_assignment(json.dumps(broken))


def test_not_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_assignment(b"{not json")


def test_versions_are_optional_and_not_part_of_where_a_monitor_lives() -> None:
    old = parse_assignment(json.dumps(DOCUMENT))  # an operator that writes no versions
    assert all(m.versions is None for m in old.monitors)
    document = json.loads(json.dumps(DOCUMENT))
    document["monitors"][0]["versions"] = {"configMap": "41", "drive": "42", "gmail": "43"}
    new = parse_assignment(json.dumps(document))
    alice = new.monitors[0]
    assert alice.versions is not None
    assert (alice.versions.config_map, alice.versions.token("gmail")) == ("41", "43")
    assert (
        json.loads(new.to_json())["monitors"][0]["versions"] == document["monitors"][0]["versions"]
    )
    assert alice.location() == old.monitors[0].location()
    rotated = alice.versions.model_copy(update={"drive": "44"})
    assert rotated.changed_tokens(alice.versions) == ["drive"]
    document["monitors"][0]["versions"]["secret"] = "1"
    with pytest.raises(ConfigError):
        parse_assignment(json.dumps(document))
