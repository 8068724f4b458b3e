"""What a hardened pod spec is, as one checker the unit and integration tests share.

The settings are those of the Pod Security Standards' "restricted" profile (non-root, no
privilege escalation, every capability dropped, seccomp RuntimeDefault), plus a read-only root
filesystem and read-only Secret mounts. A container setting overrides the pod's, so each check
looks at the effective value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Manifest = Mapping[str, Any]


def pod_template_of(workload: Manifest) -> Manifest:
    kind = workload.get("kind")
    if kind == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]  # type: ignore[no-any-return]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return workload["spec"]["template"]  # type: ignore[no-any-return]
    raise ValueError(f"not a workload: {kind}")


def hardening_problems(pod: Manifest, where: str) -> list[str]:
    """Every way `pod` (a PodSpec) falls short; empty when it is hardened."""
    problems: list[str] = []
    pod_ctx = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"{where}: {flag}")
    for volume in pod.get("volumes") or []:
        if "hostPath" in volume:
            problems.append(f"{where}: hostPath volume {volume.get('name')}")
    secret_volumes = {v["name"] for v in pod.get("volumes") or [] if "secret" in v}
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    if not containers:
        problems.append(f"{where}: no containers")
    for container in containers:
        here = f"{where} container {container.get('name')}"
        ctx = container.get("securityContext") or {}

        def effective(key: str, ctx: Manifest = ctx) -> Any:
            return ctx[key] if key in ctx else pod_ctx.get(key)

        if effective("runAsNonRoot") is not True:
            problems.append(f"{here}: runAsNonRoot is not true")
        if effective("runAsUser") == 0:
            problems.append(f"{here}: runs as uid 0")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{here}: allowPrivilegeEscalation is not false")
        if ctx.get("privileged"):
            problems.append(f"{here}: privileged")
        if ctx.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{here}: root filesystem is writable")
        capabilities = ctx.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{here}: capabilities not dropped")
        if capabilities.get("add"):
            problems.append(f"{here}: adds capabilities {capabilities['add']}")
        seccomp = (effective("seccompProfile") or {}).get("type")
        if seccomp != "RuntimeDefault":
            problems.append(f"{here}: seccomp profile is {seccomp!r}")
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") in secret_volumes and mount.get("readOnly") is not True:
                problems.append(f"{here}: Secret volume {mount['name']} mounted writable")
    return problems
