"""A pool process in local mode: several owners in one process, each notified as on its own."""

from __future__ import annotations

from pathlib import Path

import yaml

from syft_sandbox import Sandbox
from syft_sandbox.pool_world import owners_world
from syft_sandbox.server import SandboxServer
from tests.integration.pool.conftest import RunPool, baselined, metric
from tests.support import eventually

FAST = {"interval": 1}


def test_each_owner_is_notified_of_its_own_jobs_once(
    sandbox_server: tuple[Sandbox, SandboxServer], tmp_path: Path, run_pool: RunPool
) -> None:
    sandbox, server = sandbox_server
    world = owners_world(sandbox, server, tmp_path / "owners", 3, config=FAST)
    pool = run_pool(world.folder)
    eventually(lambda: baselined(pool), what="baselines")
    world.submit(0, "alpha")
    world.submit(2, "gamma")
    eventually(lambda: len(world.keys_sent(0)) == 2 and len(world.keys_sent(2)) == 2, what="emails")
    assert world.keys_sent(1) == {}
    assert all(n == 1 for n in world.all_keys_sent().values())
    subjects = {
        i: {str(m.message["Subject"]) for m in sandbox.sent_mail(world.owners[i])} for i in (0, 2)
    }
    assert all("alpha" in subject for subject in subjects[0]), subjects
    assert all("gamma" in subject for subject in subjects[2]), subjects
    sent = 'syft_monitor_notifications_total{event="new_job",monitor="owner-0000",outcome="sent"}'
    # The counter moves just after Gmail accepted the send.
    eventually(lambda: f"{sent} 2.0" in pool.metrics.render().decode(), what="the counter")
    assert metric(pool, 'syft_monitor_polls_total{monitor="owner-0001",outcome="ok"}') >= 1


def test_owners_come_and_go_without_disturbing_the_others(
    sandbox_server: tuple[Sandbox, SandboxServer], tmp_path: Path, run_pool: RunPool
) -> None:
    sandbox, server = sandbox_server
    world = owners_world(sandbox, server, tmp_path / "owners", 3, config=FAST)
    hidden = world.owner_folder(2).rename(tmp_path / "later")
    pool = run_pool(world.folder)
    eventually(lambda: set(pool.owners) == {"owner-0000", "owner-0001"}, what="two owners")
    first = pool.owners["owner-0000"]
    eventually(lambda: baselined(pool, "owner-0000"), what="a poll")
    hidden.rename(world.owner_folder(2))
    eventually(lambda: "owner-0002" in pool.owners, what="the third owner")
    eventually(lambda: pool.owners["owner-0002"].monitor, what="its set-up")
    assert pool.owners["owner-0000"] is first  # untouched
    (world.owner_folder(1) / "config.yaml").unlink()
    eventually(lambda: "owner-0001" not in pool.owners, what="the owner to leave")
    assert 'monitor="owner-0001"' not in pool.metrics.render().decode()
    world.submit(0, "still-served")
    eventually(lambda: len(world.keys_sent(0)) == 2, what="emails of the first owner")
    assert pool.owners["owner-0000"] is first


def test_a_changed_config_rebuilds_that_owner_only(
    sandbox_server: tuple[Sandbox, SandboxServer], tmp_path: Path, run_pool: RunPool
) -> None:
    sandbox, server = sandbox_server
    world = owners_world(sandbox, server, tmp_path / "owners", 2, config=FAST)
    pool = run_pool(world.folder)
    eventually(lambda: all(o.monitor for o in pool.owners.values()), what="set-up")
    other = pool.owners["owner-0001"]
    path = world.owner_folder(0) / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["notify_on_new_job"] = False
    path.write_text(yaml.safe_dump(config) + "# changed\n")
    eventually(
        lambda: (
            pool.owners["owner-0000"].monitor
            and pool.owners["owner-0000"].monitor.config.get("notify_on_new_job") is False
        ),
        what="the new config",
    )
    assert pool.owners["owner-0001"] is other
