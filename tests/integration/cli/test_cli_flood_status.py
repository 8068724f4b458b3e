"""`syft-bg status` shows flood control: today's budget, folded mail waiting in digests, a pause."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from daemon_testkit import DaemonWorld

from syft_monitors.cli.main import cli
from syft_monitors.notify import flood as flood_policy
from syft_monitors.state.json_file import JsonStateManager
from syft_monitors.state.model import DigestItem, DigestRecord, StateDocument


def test_status_shows_budget_digests_and_pause(world: DaemonWorld) -> None:
    now = time.time()
    state = JsonStateManager(world.home / "state.json")

    def write(doc: StateDocument) -> None:
        flood = flood_policy.current(doc.flood, now)
        for _ in range(3):
            flood = flood_policy.count_send(flood, "new_job", "a@x.example", to_owner=True, now=now)
        flood = flood_policy.count_send(flood, "new_peer", "s@x.example", to_owner=True, now=now)
        item = DigestItem(key="new_peer:k:do", counterpart="s2@x.example", subject="New Peer")
        record = DigestRecord(group=flood_policy.BURST_GROUP, do_email="o@x", window_end=now)
        doc.flood = flood.model_copy(
            update={
                "digests": {"digest:k": record.model_copy(update={"items": [item]})},
                "paused_low_until": now + 600,
            }
        )

    state.update(write)
    table = CliRunner().invoke(cli, ["status"])
    assert (
        "sending budget today: 4 of 400 used, 79 of 80 left for peer requests; 1 folded email(s) "
        "in 1 digest(s) to send; peer requests paused until"
    ) in table.output, table.output
    document = json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)
    assert document["flood"]["remaining"] == 396
    assert document["flood"]["low_priority_paused_until"] is not None
