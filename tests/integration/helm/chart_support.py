"""Rendering the chart with the real helm, and reading what it rendered.

`ChartRenderer` runs `helm template` / `helm lint` with private helm folders and caches each
distinct rendering for the session (a render takes ~0.1 s, and most tests look at the same few).
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "syft-monitor"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitors.syft.openmined.org.yaml"
POOL_CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitorpools.syft.openmined.org.yaml"
PLAIN_RULES = ROOT / "deploy" / "prometheus" / "syft-monitor-rules.yaml"
RELEASE = "syft"
NAMESPACE = "syft-system"

Manifest = dict[str, Any]


class ChartRenderer:
    def __init__(self, helm: Path, env: dict[str, str]) -> None:
        self.helm = helm
        self.env = env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.helm), *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def template_text(
        self, *values: Path, sets: Sequence[str] = (), namespace: str = NAMESPACE
    ) -> str:
        return self._template(tuple(values), tuple(sets), namespace)

    @functools.cache  # noqa: B019 - one renderer per session; the cache is the point
    def _template(self, values: tuple[Path, ...], sets: tuple[str, ...], namespace: str) -> str:
        args = ["template", RELEASE, str(CHART), "--namespace", namespace]
        for path in values:
            args += ["--values", str(path)]
        for item in sets:
            args += ["--set", item]
        return self.run(*args).stdout

    def template(
        self, *values: Path, sets: Sequence[str] = (), namespace: str = NAMESPACE
    ) -> list[Manifest]:
        text = self.template_text(*values, sets=sets, namespace=namespace)
        return [doc for doc in yaml.safe_load_all(text) if doc]

    def lint(self, *values: Path, sets: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
        args = ["lint", "--strict", str(CHART)]
        for path in values:
            args += ["--values", str(path)]
        for item in sets:
            args += ["--set", item]
        return self.run(*args, check=False)


def by_kind(manifests: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") == kind]


def one(manifests: Iterable[Manifest], kind: str) -> Manifest:
    found = by_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]


def pod_specs(manifests: Iterable[Manifest]) -> list[tuple[str, Manifest]]:
    """(kind/name, pod spec) of every workload, whatever its kind."""
    out = []
    for manifest in manifests:
        spec = manifest.get("spec") or {}
        template = None
        if manifest.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
            template = spec.get("template")
        elif manifest.get("kind") == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
        elif manifest.get("kind") == "Pod":
            template = {"spec": spec}
        if template is not None:
            out.append((f"{manifest['kind']}/{manifest['metadata']['name']}", template["spec"]))
    return out


@functools.cache
def generator() -> ModuleType:
    """charts/syft-monitor/hack/generate.py, imported by path (it is not a package)."""
    path = CHART / "hack" / "generate.py"
    spec = importlib.util.spec_from_file_location("syft_chart_generate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
