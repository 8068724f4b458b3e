"""A monitor moving between shards is served by two pool processes at once for a while: the old
shard's pod keeps its owners until kubelet refreshes its mounted assignment (up to about a
minute), while the new shard's pod has already started them. Each owner's exactly-once state
(its state ConfigMap, replaced with optimistic concurrency, and its intents' holder leases) must
keep the two from sending any email twice, and neither may drop one.

Two `syft-bg pool --assignment` child processes (two pods) serve the same owners, with their
state on the test API server, Gmail sends slowed and the Sent-mail index lagging behind them (so
the one that finds the other's in-flight intent cannot see its send yet); jobs arrive while both
run, then the old one drops them, as when kubelet's refresh reaches it. Twice: as two processes
of one host (a holder's liveness is its PID), and as two pods, each in a UTS namespace of its own
with its own host name (as two pods on two nodes: only the holder leases in the state ConfigMap
tell that the other is alive).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from syft_monitors.state.model import StateDocument
from syft_sandbox import FaultRule, Sandbox
from syft_sandbox.pool_world import owners_world
from tests.integration.pool.kube_owners import NS, name_of, put_owner, write_assignment
from tests.integration.reliability.figures import record
from tests.integration.reliability.test_pool_crash import PoolChild, drained, wait_until
from tests.kubeapi import KubeApiServer

OWNERS = 6
JOBS = 24
SEND_SECONDS = 0.3
INDEX_LAG = 2.0


def _own_host(name: str) -> tuple[str, ...]:
    """A command prefix that runs the command with host name `name` (a pod's own)."""
    return ("unshare", "--uts", "sh", "-c", f'hostname {name} && exec "$@"', "sh")


def _can_rename_host() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*_own_host("probe"), "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.parametrize("hosts", ["one-host", "two-pods"])
def test_two_pools_serving_a_moving_owner_send_each_email_once(
    tmp_path: Path, kube_api: KubeApiServer, kubeconfig: Path, hosts: str
) -> None:
    if hosts == "two-pods" and not _can_rename_host():
        pytest.skip("needs unshare --uts (root) to give each pool a host name of its own")
    sandbox = Sandbox()

    def state(index: int) -> StateDocument:
        found = kube_api.get_object("v1", "configmaps", NS, f"{name_of(index)}-state")
        raw = ((found or {}).get("data") or {}).get("state.json")
        return StateDocument.model_validate_json(raw) if raw else StateDocument()

    with sandbox.serve() as server:
        world = owners_world(sandbox, server, tmp_path / "owners", OWNERS, scientists=2)
        for index in range(OWNERS):
            put_owner(kube_api, world, index, server)
        children = []
        for shard in ("old", "new"):
            assignment = tmp_path / shard / "assignment.json"
            assignment.parent.mkdir()
            write_assignment(assignment, list(range(OWNERS)), kube_api)
            source = ["--assignment", str(assignment), "--namespace", NS]
            source += ["--kubeconfig", str(kubeconfig)]
            prefix = _own_host(f"pool-{shard}") if hosts == "two-pods" else ()
            children.append(PoolChild(source, tmp_path / f"{shard}.log", server.url, prefix))
        old, new = children
        old.start()
        try:
            assert wait_until(lambda: all(state(i).cursors for i in range(OWNERS)), 120), (
                old.log.read_text()[-3000:]
            )
            sandbox.mail.index_lag = INDEX_LAG
            sandbox.faults.add(FaultRule.slow(SEND_SECONDS, api="gmail", method="messages.send"))
            new.start()  # the new shard starts the owners the old one still serves
            for job in range(JOBS):
                world.submit(job % OWNERS, f"moving {job}")
                if job == JOBS // 2:
                    # Both are serving: the new one has taken its first turns.
                    assert wait_until(lambda: "serving owner-" in new.log.read_text(), 60)
            expected = 2 * world.submitted
            assert drained(world, expected // 2), old.log.read_text()[-3000:]
            # kubelet's refresh reaches the old pod: its assignment no longer names the owners,
            # and it drops them (it lives on, serving its other owners, if any).
            write_assignment(tmp_path / "old" / "assignment.json", [], kube_api)
            assert wait_until(
                lambda: old.log.read_text().count("no longer serving") == OWNERS, 60
            ), old.log.read_text()[-3000:]
            assert drained(world, expected), (
                f"{len(world.all_keys_sent())} of {expected}\n{new.log.read_text()[-3000:]}"
            )
            assert wait_until(lambda: not any(state(i).intents for i in range(OWNERS)), 60)
            sandbox.faults.clear()
            wait_until(lambda: False, INDEX_LAG + 2.0)  # a late duplicate would be sent by now
        finally:
            for child in children:
                child.kill()
    keys: Counter[str] = world.all_keys_sent()
    duplicates = {key: n for key, n in keys.items() if n > 1}
    assert not duplicates, (duplicates, new.log.read_text()[-3000:])
    assert len(keys) == expected
    # They did race: each found an intent the other held (and waited for it).
    waited = old.log.read_text().count("being sent by another process")
    waited += new.log.read_text().count("being sent by another process")
    assert waited, new.log.read_text()[-3000:]
    record(
        f"pool_move_two_shards_{hosts}",
        owners=OWNERS,
        jobs=world.submitted,
        emails=len(keys),
        duplicates=len(duplicates),
        lost=expected - len(keys),
        waited_for_the_other=waited,
    )
