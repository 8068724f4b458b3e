"""Error isolation between the owners of one pool: one owner's revoked token or hostile Drive
item neither delays nor breaks the others, and the broken owner recovers on its own."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
import uuid
from pathlib import Path

from syft_monitors.protocol.messages import MessageFileName, MessageKind
from syft_sandbox import FaultRule, Sandbox
from syft_sandbox.pool_world import owners_world
from syft_sandbox.server import SandboxServer
from tests.integration.pool.conftest import RunPool, baselined, metric
from tests.support import eventually

FAST = {"interval": 1}


def message_name() -> str:
    return MessageFileName(MessageKind.PROPOSED_CHANGES, time.time(), uuid.uuid4()).name


MIB = 1024 * 1024


def test_a_revoked_token_of_one_owner_leaves_the_others_on_time(
    sandbox_server: tuple[Sandbox, SandboxServer], tmp_path: Path, run_pool: RunPool
) -> None:
    sandbox, server = sandbox_server
    world = owners_world(sandbox, server, tmp_path / "owners", 3, config=FAST)
    pool = run_pool(world.folder, refresh_every=1.0)
    eventually(lambda: baselined(pool), what="polls")
    sandbox.revoke_user(world.owners[0])
    auth_errors = 'syft_monitor_errors_total{kind="auth",monitor="owner-0000"}'
    eventually(lambda: metric(pool, auth_errors) >= 1, what="owner 0's auth error")
    world.submit(1, "one")
    world.submit(2, "two")
    eventually(lambda: len(world.keys_sent(1)) == 2 and len(world.keys_sent(2)) == 2, what="emails")
    assert metric(pool, 'syft_monitor_errors_total{kind="auth",monitor="owner-0001"}') == 0
    assert pool.owners["owner-0000"].monitor.auth_failing  # type: ignore[union-attr]
    # Re-authorizing (a new token file, as a new Secret would be) brings owner 0 back, without
    # a restart: the pool re-reads the token of an owner whose token was refused.
    sandbox.add_user(world.owners[0])
    for token in ("drive_token.json", "gmail_token.json"):
        sandbox.write_token_file(
            world.owners[0], world.owner_folder(0) / token, token_uri=server.token_uri
        )
    world.submit(0, "zero")
    eventually(lambda: len(world.keys_sent(0)) == 2, timeout=60, what="owner 0's emails")
    assert all(n == 1 for n in world.all_keys_sent().values())


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        info = tarfile.TarInfo("padding.bin")
        info.size = 51 * MIB
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    return buffer.getvalue()


def test_a_hostile_slow_item_of_one_owner_does_not_hold_the_others(
    sandbox_server: tuple[Sandbox, SandboxServer], tmp_path: Path, run_pool: RunPool
) -> None:
    sandbox, server = sandbox_server
    world = owners_world(sandbox, server, tmp_path / "owners", 3, config=FAST)
    pool = run_pool(world.folder, workers=2)
    eventually(lambda: baselined(pool), what="polls")
    victim = world.owners[0]
    # Owner 0's next download hangs for a long while, then brings a decompression bomb.
    sandbox.faults.add(
        FaultRule.slow(20.0, api="drive", method="files.get_media", user=victim, times=1)
    )
    ds = world.scientists[world.peer_of[0]]
    ds.upload(message_name(), ds._inbox[victim], _bomb())
    eventually(lambda: pool.scheduler.is_running("owner-0000"), what="owner 0 stuck in its poll")
    world.submit(1, "one")
    world.submit(2, "two")
    eventually(lambda: len(world.keys_sent(1)) == 2 and len(world.keys_sent(2)) == 2, what="emails")
    # Both other owners were served while owner 0's poll was still waiting for its item.
    assert pool.scheduler.is_running("owner-0000")
    protocol = 'syft_monitor_errors_total{kind="protocol",monitor="owner-0000"}'
    eventually(lambda: metric(pool, protocol) == 1, timeout=60, what="the bomb refused")
    assert metric(pool, 'syft_monitor_errors_total{kind="protocol",monitor="owner-0001"}') == 0
    world.submit(0, "after")
    eventually(lambda: len(world.keys_sent(0)) == 2, what="owner 0 served again")
    assert all(n == 1 for n in world.all_keys_sent().values())
