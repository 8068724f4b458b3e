"""`JobMonitor.from_client` / `PeerMonitor.from_client` with upstream's real logged-in client.

The data owner and the data scientist log in with upstream's own `sc.login_do` / `sc.login_ds`
(syft-client 0.1.117 from the interop venv) against the sandbox, reached as Google through a
TLS-terminating proxy: the only way in, since upstream's Drive root is fixed. The monitors built
from the owner's client must find its Drive token (kept in upstream's connection configs) and
email the data owner a peer request and a job; a client without a token must be refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google_tls_proxy import GoogleTlsProxy
from interop_support import HERE, SCRIPT_TIMEOUT_SECONDS, VENV, tail, upstream_env

from syft_sandbox import Sandbox

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"


def interop_site_packages() -> Path:
    found = sorted(VENV.glob("lib/python3*/site-packages"))
    assert found, f"no site-packages under {VENV}"
    return found[0]


def test_from_client_finds_upstream_token_and_emails(interop_python: Path, tmp_path: Path) -> None:
    sandbox = Sandbox(seed=5)
    for user in (DO, DS):
        sandbox.add_user(user)
    with sandbox.serve() as server, GoogleTlsProxy(server.port, tmp_path / "tls") as proxy:
        tokens = server.write_token_files(tmp_path / "tokens")
        env = upstream_env(tmp_path / "home")
        env.update(proxy.environment())
        result = subprocess.run(
            [
                sys.executable,
                str(HERE / "upstream_client_monitor.py"),
                str(interop_site_packages()),
                str(tmp_path),
                server.url,
                str(tokens[DO]),
                str(tokens[DS]),
            ],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=tmp_path,
            env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
            timeout=SCRIPT_TIMEOUT_SECONDS,
            check=False,
        )
        assert result.returncode == 0, tail(result.stderr)
        out = json.loads(result.stdout.strip().splitlines()[-1])
        subjects = [str(m.message["Subject"]) for m in sandbox.sent_mail(DO)]

    # The SyftBox folder is upstream's default for the owner.
    assert out["syftbox_root"] == str(tmp_path / "home" / f"SyftBox_{DO}")
    assert out["baseline"]["jobs"]["baseline"] is True
    assert out["peer_request"]["emails"] >= 1, out
    assert out["job"]["emails"] >= 1, out
    assert f"New Peer Request from {DS}" in subjects
    assert "Job: count rows" in subjects
    # The client built without a token file is refused, by both monitors, with what to do.
    assert len(out["no_token"]) == 2, out
    assert all("no Drive token found on the client" in m for m in out["no_token"])
    assert all("drive_token_path=" in m for m in out["no_token"])
