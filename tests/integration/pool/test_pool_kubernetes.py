"""Kubernetes mode: the pool reads its shard's assignment file, each owner's config ConfigMap
and token Secrets through the API (test API server), and keeps each owner's state and heartbeat
in that owner's own ConfigMaps, as a single-owner pod does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syft_monitors.pool.kube_source import AssignmentSource
from syft_monitors.pool.process import Pool
from syft_operator.status import mirror_heartbeat
from syft_sandbox import Sandbox
from syft_sandbox.pool_world import owners_world
from tests.integration.pool.conftest import baselined, metric
from tests.integration.pool.kube_owners import NS, name_of, put_owner, put_tokens, write_assignment
from tests.kubeapi import KubeApiServer
from tests.support import eventually


@pytest.fixture
def kube_pool(
    kube_api: KubeApiServer, kube_client: Any, tmp_path: Path
) -> Iterator[tuple[Pool, Path]]:
    path = tmp_path / "etc" / "assignment.json"
    path.parent.mkdir()
    write_assignment(path, [])
    source = AssignmentSource(path, NS, api_client=kube_client, outbox_root=tmp_path / "outbox")
    pool = Pool(source, workers=3, spread=0.0, refresh_every=1.0)
    thread = threading.Thread(target=pool.run, kwargs={"watch_every": 0.2}, daemon=True)
    thread.start()
    yield pool, path
    pool.stop()
    thread.join(30)


def poll_time(kube_api: KubeApiServer, owner: str) -> str | None:
    """The owner's lastPollTime as the operator mirrors it from the heartbeat ConfigMap."""
    beat = kube_api.get_object("v1", "configmaps", NS, f"{owner}-heartbeat") or {}
    fields = mirror_heartbeat(beat.get("data")) or {}
    return fields.get("lastPollTime")


def test_the_pool_follows_its_assignment_and_keeps_state_per_owner(
    kube_api: KubeApiServer, kube_pool: tuple[Pool, Path], tmp_path: Path
) -> None:
    pool, path = kube_pool
    sandbox = Sandbox()
    with sandbox.serve() as server:
        world = owners_world(sandbox, server, tmp_path / "owners", 3)
        for index in range(3):
            put_owner(kube_api, world, index, server)
        write_assignment(path, [0, 1])
        eventually(lambda: baselined(pool, name_of(0), name_of(1)), what="two owners polling")
        world.submit(0, "zero")
        eventually(lambda: len(world.keys_sent(0)) == 2, what="owner 0's emails")
        state = kube_api.get_object("v1", "configmaps", NS, "owner-0000-state")
        assert state is not None
        document = json.loads(state["data"]["state.json"])
        assert any(key.startswith("new_job:") for key in document["notified"])
        beat = eventually(lambda: poll_time(kube_api, "owner-0001"), what="owner 1's heartbeat")
        assert beat.endswith("Z")
        first = pool.owners[name_of(0)]
        # The operator moves owner 1 away and brings owner 2: owner 0 is not disturbed.
        write_assignment(path, [0, 2])
        eventually(lambda: set(pool.owners) == {name_of(0), name_of(2)}, what="the new shard")
        assert pool.owners[name_of(0)] is first
        # Owner 2 never ran anywhere: its first poll takes the baseline (an owner moved in from
        # another shard or pod finds its cursor in its state ConfigMap instead).
        eventually(lambda: baselined(pool, name_of(2)), what="owner 2's baseline")
        world.submit(2, "two")
        world.submit(1, "one, now elsewhere")
        eventually(lambda: len(world.keys_sent(2)) == 2, what="owner 2's emails")
        assert world.keys_sent(1) == {}
        assert 'monitor="owner-0001"' not in pool.metrics.render().decode()
        assert all(n == 1 for n in world.all_keys_sent().values())


def test_a_rotated_secret_is_read_again_without_a_restart(
    kube_api: KubeApiServer, kube_pool: tuple[Pool, Path], tmp_path: Path
) -> None:
    pool, path = kube_pool
    sandbox = Sandbox()
    with sandbox.serve() as server:
        world = owners_world(sandbox, server, tmp_path / "owners", 2)
        for index in range(2):
            put_owner(kube_api, world, index, server)
        write_assignment(path, [0, 1])
        eventually(lambda: baselined(pool, name_of(0), name_of(1)), what="polls")
        sandbox.revoke_user(world.owners[0])
        eventually(lambda: pool.owners[name_of(0)].monitor.auth_failing, what="the refusal")
        sandbox.add_user(world.owners[0])  # the data owner signs in again
        for token in ("drive_token.json", "gmail_token.json"):
            sandbox.write_token_file(
                world.owners[0], world.owner_folder(0) / token, token_uri=server.token_uri
            )
        put_tokens(kube_api, world, 0)  # ... and the new token lands in the Secret
        world.submit(0, "after rotation")
        eventually(lambda: len(world.keys_sent(0)) == 2, timeout=60, what="emails after rotation")


def test_an_unreadable_owner_is_counted_and_does_not_stop_the_others(
    kube_api: KubeApiServer, kube_pool: tuple[Pool, Path], tmp_path: Path
) -> None:
    pool, path = kube_pool
    sandbox = Sandbox()
    with sandbox.serve() as server:
        world = owners_world(sandbox, server, tmp_path / "owners", 2)
        put_owner(kube_api, world, 0, server)  # owner 1 has no ConfigMap nor Secret
        write_assignment(path, [0, 1])
        eventually(
            lambda: pool.owners.get(name_of(1)) and pool.owners[name_of(1)].setup_error,
            what="owner 1's set-up error",
        )
        assert "does not exist" in str(pool.owners[name_of(1)].setup_error)
        eventually(lambda: baselined(pool, name_of(0)), what="owner 0's baseline")
        world.submit(0, "zero")
        eventually(lambda: len(world.keys_sent(0)) == 2, what="owner 0's emails")
        assert metric(pool, 'syft_monitor_errors_total{kind="config",monitor="owner-0001"}') >= 1
        path.write_text("{not json")  # a broken assignment: the known owners stay served
        world.submit(0, "still")
        eventually(lambda: len(world.keys_sent(0)) == 4, what="owner 0 still served")
        assert set(pool.owners) == {name_of(0), name_of(1)}


def _part_reads(kube_api: KubeApiServer) -> list[str]:
    """The GETs of config ConfigMaps and token Secrets (not of state and heartbeat maps, which
    every poll reads and writes, as a single-owner pod does)."""
    return [
        f"{r.resource}/{r.name}"
        for r in kube_api.requests
        if r.verb == "get"
        and r.resource in ("configmaps", "secrets")
        and not str(r.name).endswith(("-state", "-heartbeat"))
    ]


def test_an_idle_pool_reads_no_part_and_a_rotation_rereads_only_its_secret(
    kube_api: KubeApiServer, kube_pool: tuple[Pool, Path], tmp_path: Path
) -> None:
    # The fixture's pool re-reads unversioned owners every second: with versions in the
    # assignment (as the operator writes it) it must not.
    pool, path = kube_pool
    sandbox = Sandbox()
    with sandbox.serve() as server:
        world = owners_world(sandbox, server, tmp_path / "owners", 3)
        for index in range(3):
            put_owner(kube_api, world, index, server)
        write_assignment(path, [0, 1, 2], kube_api)
        eventually(lambda: baselined(pool, *(name_of(i) for i in range(3))), what="polls")
        kube_api.clear_requests()
        polls = metric(pool, f'syft_monitor_polls_total{{monitor="{name_of(0)}",outcome="ok"}}')
        # Several of the fixture's 1 s refresh periods, as several polls of every owner show.
        eventually(
            lambda: (
                metric(pool, f'syft_monitor_polls_total{{monitor="{name_of(0)}",outcome="ok"}}')
                >= polls + 4
            ),
            what="four more polls",
        )
        assert _part_reads(kube_api) == []
        # Owner 1's Secret is rotated; the operator writes its new version into the assignment.
        sandbox.write_token_file(
            world.owners[1], world.owner_folder(1) / "drive_token.json", token_uri=server.token_uri
        )
        before = kube_api.get_object("v1", "secrets", NS, f"{name_of(1)}-google")
        put_tokens(kube_api, world, 1)
        after = kube_api.get_object("v1", "secrets", NS, f"{name_of(1)}-google")
        assert before is not None
        assert after is not None
        assert before["metadata"]["resourceVersion"] != after["metadata"]["resourceVersion"]
        write_assignment(path, [0, 1, 2], kube_api)
        eventually(lambda: _part_reads(kube_api), what="the rotated Secret read")
        polls = metric(pool, f'syft_monitor_polls_total{{monitor="{name_of(2)}",outcome="ok"}}')
        eventually(
            lambda: (
                metric(pool, f'syft_monitor_polls_total{{monitor="{name_of(2)}",outcome="ok"}}')
                >= polls + 3
            ),
            what="three more polls",
        )
        assert _part_reads(kube_api) == [f"secrets/{name_of(1)}-google"]
        world.submit(1, "after rotation")
        eventually(lambda: len(world.keys_sent(1)) == 2, what="owner 1 still served")
        assert pool.owners[name_of(1)].setup_error is None
