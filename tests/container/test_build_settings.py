"""scripts/pip_build_settings.py: what of this machine's pip settings goes into the image build."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pip_build_settings.py"


def test_keeps_remote_indexes_and_the_ca_bundle_drops_host_paths(tmp_path: Path) -> None:
    bundle = tmp_path / "proxy-ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("torch<=2\n")
    (tmp_path / "pip.conf").write_text(
        "[global]\n"
        f"cert = {bundle}\n"
        f"constraint = {constraints}\n"
        f"find-links = {tmp_path} https://wheels.example/\n"
        "extra-index-url = file:///opt/pypi/simple https://mirror.example/simple\n"
        "trusted-host = mirror.example\n"
        "timeout = 99\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PIP_") and key not in ("SSL_CERT_FILE",)
    }
    env |= {"PIP_CONFIG_FILE": str(tmp_path / "pip.conf"), "HOME": str(tmp_path)}
    out_conf, out_ca = tmp_path / "out.conf", tmp_path / "out-ca.crt"
    subprocess.run(
        [sys.executable, str(SCRIPT), str(out_conf), str(out_ca)],
        env=env,
        check=True,
        timeout=60,
    )
    written = configparser.ConfigParser()
    written.read(out_conf)
    assert dict(written["global"]) == {
        "find-links": "https://wheels.example/",
        "extra-index-url": "https://mirror.example/simple",
        "trusted-host": "mirror.example",
        "timeout": "99",
        "cert": "/run/secrets/ca-bundle.crt",
    }
    assert out_ca.read_text() == bundle.read_text()
