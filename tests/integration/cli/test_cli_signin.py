"""`syft-bg init` signs in with Google (the sandbox's OAuth endpoints, no real Google): in a
browser on this machine, on a server by pasting the address, and asked step by step in a
terminal. Token files are 0600 and work for `doctor`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from daemon_testkit import DO, DaemonWorld

HERE = Path(__file__).resolve().parent
FAKE_BROWSER = HERE / "fake_browser.py"
MODIFY = "https://www.googleapis.com/auth/gmail.modify"
SEND = "https://www.googleapis.com/auth/gmail.send"
DRIVE = "https://www.googleapis.com/auth/drive"


def _env(world: DaemonWorld, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(world.root / "person"),
        "BROWSER": f"{sys.executable} {FAKE_BROWSER} %s",
        **extra,
    }
    env.pop("DISPLAY", None)
    (world.root / "person").mkdir(exist_ok=True)
    return env


def _secrets(world: DaemonWorld) -> Path:
    return world.server.write_client_secrets(world.root / "credentials.json")


def _init(world: DaemonWorld, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    world.config_path.unlink(missing_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "syft_monitors.cli", "init", "--api-root", world.server.url, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_env(world),
    )


def _token(world: DaemonWorld) -> dict[str, Any]:
    path = world.home / "token.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _doctor(world: DaemonWorld) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "syft_monitors.cli", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_env(world),
    )
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_init_signs_in_with_the_browser_on_this_machine(world: DaemonWorld) -> None:
    done = _init(world, "-e", DO, "--client-secrets", str(_secrets(world)), "--no-interactive")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"signed in: token saved to {world.home / 'token.json'} (mode 0600" in done.stdout
    token = _token(world)
    assert set(token["scopes"]) == {DRIVE, MODIFY}
    assert token["refresh_token"].startswith("sbx-rt-")
    assert token["token"] not in done.stdout + done.stderr  # never printed
    config = world.config_path.read_text()
    assert f'drive_token_path: "{world.home / "token.json"}"' in config
    assert f'gmail_token_path: "{world.home / "token.json"}"' in config
    doctor = _doctor(world)
    assert doctor["ok"] is True, doctor


def test_init_signs_in_on_a_server_by_pasting_the_address(world: DaemonWorld) -> None:
    world.config_path.unlink()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syft_monitors.cli",
            "init",
            "--api-root",
            world.server.url,
            "-e",
            DO,
            "--client-secrets",
            str(_secrets(world)),
            "--headless",
            "--send-only",
            "--no-interactive",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(world),
    )
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        lines = []
        while not (line := process.stdout.readline()).startswith("http"):
            assert line, "init ended before printing the sign-in address"
            lines.append(line)
        assert any("may arrive twice" in seen for seen in lines), lines  # send-only, stated
        # The person's browser elsewhere: it ends on the loopback address nothing listens on.
        opener = urllib.request.build_opener(_NoRedirect())
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(line.strip(), timeout=10)
        landed = answer.value.headers["Location"]
        assert landed.startswith("http://127.0.0.1:1/?")
        out, err = process.communicate(landed + "\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, out + err
    assert "Drive and gmail.send only" in out
    assert set(_token(world)["scopes"]) == {DRIVE, SEND}


def test_a_pasted_address_from_another_sign_in_is_refused(world: DaemonWorld) -> None:
    forged = "http://127.0.0.1:1/?state=not-ours&code=sbx-code-x\n"
    done = _init(
        world,
        "-e",
        DO,
        "--client-secrets",
        str(_secrets(world)),
        "--headless",
        "--no-interactive",
        stdin=forged,
    )
    assert done.returncode == 1
    assert "the pasted address is not from this sign-in" in done.stderr
    assert "Traceback" not in done.stderr
    assert not world.config_path.exists()


def test_init_asks_in_a_terminal(world: DaemonWorld) -> None:
    secrets = _secrets(world)
    answers = "\n".join(
        [
            DO,  # email
            "",  # SyftBox folder: the detected default
            str(secrets),  # client secrets file
            "1",  # gmail.modify
            "y",  # a browser here
        ]
    )
    done = _init(world, "--interactive", stdin=answers + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    person = world.root / "person"
    assert f"Your SyftBox folder (not there yet) [{person / f'SyftBox_{DO}'}]" in done.stdout
    assert set(_token(world)["scopes"]) == {DRIVE, MODIFY}
    assert f'syftbox_root: "{person / f"SyftBox_{DO}"}"' in world.config_path.read_text()

    # A second run finds the token where upstream keeps it and offers it instead of a sign-in.
    upstream = person / ".syft-bg" / "token.json"
    upstream.parent.mkdir()
    upstream.write_text((world.home / "token.json").read_text())
    again = _init(world, "--interactive", stdin=f"{DO}\n\ny\n")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Found a token file at {upstream}. Use it?" in again.stdout
    assert "signed in" not in again.stdout
    assert f'drive_token_path: "{upstream}"' in world.config_path.read_text()


def test_init_without_a_terminal_names_the_missing_option(world: DaemonWorld) -> None:
    done = _init(world, "--no-interactive")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: give the data owner's email with -e EMAIL (or run in a terminal)"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
