"""A state file reset to `{}` under a running daemon: said loudly, and no waiting job is lost.

Before, `{}` was read as an empty (seed-format) state: the next poll took a new silent baseline,
so the job submitted since the previous poll was recorded as pre-existing and never emailed.
"""

from __future__ import annotations

import os
import signal

from daemon_testkit import DO, DS, DaemonWorld, wait_for

from syft_monitors.state.json_file import JsonStateManager


def test_reset_state_keeps_the_waiting_job(world: DaemonWorld) -> None:
    world.write_config(interval=3600)  # polls only at start and on SIGHUP
    manager = world.manager()
    assert manager.start() is True
    state = world.home / "state.json"
    wait_for(lambda: bool(JsonStateManager(state).load().cursors), "the first (silent) baseline")
    world.scientist().submit_job(DO, "waiting", {"main.py": "print(1)\n"})
    state.write_text("{}")
    pid = manager.get_pid()
    assert pid is not None
    os.kill(pid, signal.SIGHUP)  # the next poll, now
    # The owner's and the scientist's emails leave one after the other: wait for both.
    wait_for(
        lambda: any("waiting" in str(m.message["Subject"]) for m in world.sandbox.sent_mail(DO)),
        "the waiting job's email",
    )
    wait_for(
        lambda: any(DS in str(m.message["To"]) for m in world.sandbox.sent_mail(DO)),
        "the scientist's email about the waiting job",
    )
    assert "was reset" in world.log_text(errors=True)
    assert manager.stop() is True
    assert JsonStateManager(state).load().cursors  # the restored state, not an empty one
