"""This machine's pip settings and CA bundle, in the form the Dockerfile's build secrets take.

    python3 scripts/pip_build_settings.py OUT_PIP_CONF OUT_CA_BUNDLE

Reads what pip itself resolves (`pip config list`: its config files and PIP_* variables) and keeps
only what means the same inside the build: index and find-links URLs (http/https), trusted hosts,
timeouts, retries, a proxy. Host paths (file:// indexes, local wheel folders, constraint files)
would not exist in the builder and are dropped. `cert` points at the CA bundle secret, copied from
pip's own `cert` setting or the system bundle. Exits 1 (writing nothing) when pip is unavailable.
"""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Where the Dockerfile mounts the CA bundle secret (BuildKit's default target for the id).
CA_TARGET = "/run/secrets/ca-bundle.crt"
URL_KEYS = ("index-url", "extra-index-url", "find-links")
PLAIN_KEYS = ("trusted-host", "timeout", "default-timeout", "retries", "proxy")
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def resolved_settings() -> dict[str, str]:
    """`pip config list` as key -> value; later lines (PIP_* variables) win, as in pip."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    settings: dict[str, str] = {}
    for line in listing.splitlines():
        name, sep, raw = line.partition("=")
        if not sep:
            continue
        section, _, key = name.rpartition(".")
        if section not in ("global", "install", "download", "wheel", ":env:"):
            continue
        settings[key] = str(ast.literal_eval(raw))
    return settings


def remote_only(value: str) -> str:
    return " ".join(u for u in value.split() if u.startswith(("http://", "https://")))


def main(pip_conf: Path, ca_bundle: Path) -> int:
    try:
        settings = resolved_settings()
    except (OSError, subprocess.CalledProcessError):
        return 1
    out: dict[str, str] = {}
    for key in URL_KEYS:
        if key in settings and (urls := remote_only(settings[key])):
            out[key] = urls
    for key in PLAIN_KEYS:
        if key in settings:
            out[key] = settings[key]
    candidates = [settings.get("cert"), os.environ.get("SSL_CERT_FILE"), *SYSTEM_BUNDLES]
    bundle = next((c for c in candidates if c and Path(c).is_file()), None)
    if bundle:
        shutil.copyfile(bundle, ca_bundle)
        out["cert"] = CA_TARGET
    config = configparser.ConfigParser()
    config["global"] = out
    with pip_conf.open("w", encoding="utf-8") as f:
        config.write(f)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
