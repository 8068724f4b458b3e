"""What the image is: both entry points, uid 10001, and nothing that only building needed."""

from __future__ import annotations

import json

import pytest
from container_testkit import Docker

pytestmark = pytest.mark.container

# Run inside the image by its own Python (the venv's): what is installed and what lies around.
INSPECT = r"""
import importlib.util, json, os, pathlib, shutil, sysconfig
site = pathlib.Path(sysconfig.get_path("purelib"))
docs = site / "googleapiclient" / "discovery_cache" / "documents"
found = {
    "uid": os.getuid(), "gid": os.getgid(),
    "modules": {m: importlib.util.find_spec(m) is not None for m in ("pip", "setuptools", "wheel")},
    "commands": {c: shutil.which(c) for c in ("pip", "pip3", "gcc", "cc", "make", "g++", "ld")},
    "paths": {p: os.path.exists(p) for p in ("/src", "/wheels", "/root/.cache", "/tmp/.cache")},
    "discovery": sorted(p.name for p in docs.iterdir()),
    "kubernetes_aio": (site / "kubernetes" / "aio").exists(),
    "vendored_tests": sorted(str(p.relative_to(site)) for p in site.glob("*/tests")),
    "build_files": sorted(
        str(p) for p in pathlib.Path("/").glob("*/pyproject.toml")
    ) + sorted(str(p) for p in pathlib.Path("/opt").rglob("pyproject.toml")),
}
print(json.dumps(found))
"""


def test_runs_as_uid_10001_with_both_entry_points(docker: Docker) -> None:
    inspected = docker("image", "inspect", "--format", "{{json .Config}}", docker.image)
    config = json.loads(inspected.stdout)
    assert config["User"] == "10001:10001"
    assert config["Cmd"] == ["syft-operator", "--all-namespaces", "--standalone"]
    assert docker.run("id", "-u").stdout.strip() == "10001"
    assert "syft-bg, version" in docker.run("syft-bg", "--version").stdout
    assert "--all-namespaces" in docker.run("syft-operator", "--help").stdout


def test_ships_only_what_runs(docker: Docker) -> None:
    found = json.loads(docker.run("python", "-c", INSPECT).stdout)
    assert found["uid"] == 10001
    assert found["gid"] == 10001
    assert found["modules"] == {"pip": False, "setuptools": False, "wheel": False}
    assert found["commands"] == dict.fromkeys(found["commands"])
    assert not any(found["paths"].values()), found["paths"]
    assert found["build_files"] == []
    # syft_monitors/google/discovery.py builds the clients from these two and no others.
    assert found["discovery"] == ["drive.v3.json", "gmail.v1.json"]
    assert found["kubernetes_aio"] is False
    assert found["vendored_tests"] == []
