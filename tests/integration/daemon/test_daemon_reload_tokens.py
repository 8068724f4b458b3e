"""SIGHUP to a real daemon with a config whose token file is missing or broken: refused.

The reload used to accept any token path, so a typo in a SIGHUP'd config swapped a working
monitor for one whose every poll failed. Now the reload checks token files as `start` does, keeps
the old config with one logged line, and a fixed config is picked up by the next SIGHUP.
"""

from __future__ import annotations

import os
import signal

from daemon_testkit import DaemonWorld, wait_for


def test_sighup_with_a_bad_token_file_keeps_the_old_config(world: DaemonWorld) -> None:
    manager = world.manager()
    assert manager.start() is True
    pid = manager.get_pid()
    assert pid is not None
    broken = world.root / "broken.json"
    broken.write_text("{}", encoding="utf-8")
    cases = [
        (world.root / "nope.json", "drive_token_path: token file", "does not exist"),
        (broken, "drive_token_path: token file", "no refresh_token, client_id, client_secret"),
    ]
    for count, (path, key, problem) in enumerate(cases, start=1):
        world.write_config(drive_token_path=str(path))
        os.kill(pid, signal.SIGHUP)
        wait_for(
            lambda n=count: world.log_text(errors=True).count("config reload rejected") >= n,
            f"reload {count} rejected",
        )
        line = world.log_text(errors=True).strip().splitlines()[-1]
        assert "keeping the previous config" in line
        assert key in line
        assert problem in line
        # Still alive and still polling with the old config.
        before = world.drive_requests("changes.list")
        wait_for(
            lambda b=before: world.drive_requests("changes.list") >= b + 2,
            "polls after the rejection",
        )
    assert "config reloaded" not in world.log_text()
    world.write_config()
    os.kill(pid, signal.SIGHUP)
    world.wait_for_log("config reloaded from")
    assert manager.get_pid() == pid
    assert manager.stop() is True
