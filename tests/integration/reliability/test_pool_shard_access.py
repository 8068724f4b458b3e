"""The pool process (`syft-bg pool`) against what the operator renders for its shard: it serves
its owners with the shard's assignment, and every request it makes is one its shard's Role
permits; it never touches the objects of an owner assigned to another shard.

The operator creates a pool of two shards and two pooled owners, one on each shard, and is then
stopped (the store is read directly afterwards, so every logged request is the pool's). The test
plays the kubelet: shard 0's `assignment.json` becomes a file, and the container's command runs
against the test API server and the Drive/Gmail sandbox. A simulated data scientist submits a job
to shard 0's owner, whose email must arrive; the operator, started again, mirrors that owner's
heartbeat into its own SyftMonitor status only.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("syft_monitors.pool.kube_source", reason="the pool process is not merged")

from syft_operator import names
from syft_operator.rendezvous import shard_of
from syft_operator.status import mirror_heartbeat
from syft_sandbox import Sandbox
from tests.e2e.kind_driver import JOB_NAME, submit_job
from tests.integration.operator.operator_testkit import (
    BIN,
    CRD_FILE,
    NAMESPACE,
    POOL_CRD_FILE,
    eventually,
    monitor,
    start_operator,
    stop_operator,
)
from tests.kubeapi import KubeApiServer
from tests.support import free_port
from tests.unit.reliability.rbac_model import Request, ServiceAccount, can

DO = "owner@hospital.example"
OTHER = "other@hospital.example"
DS = "scientist@uni.example"
RBAC_V1 = "rbac.authorization.k8s.io/v1"


def owners_on_two_shards() -> tuple[str, str]:
    candidates = [f"owner-{i}" for i in range(20)]
    first = next(n for n in candidates if shard_of(n, 2) == 0)
    second = next(n for n in candidates if shard_of(n, 2) == 1)
    return first, second


def status_of(api: KubeApiServer, name: str) -> dict[str, Any]:
    body = api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, name) or {}
    return body.get("status") or {}


def test_pool_process_serves_its_shard_within_its_role(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    api = kube_api
    api.create_namespace(NAMESPACE)
    api.apply_crd(CRD_FILE)
    api.apply_crd(POOL_CRD_FILE)
    mine, theirs = owners_on_two_shards()
    sandbox = Sandbox()
    for user in (DO, OTHER, DS):
        sandbox.add_user(user)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        for name, user in ((mine, DO), (theirs, OTHER)):
            api.put_object(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": f"{name}-token", "namespace": NAMESPACE},
                    "data": {"token.json": base64.b64encode(tokens[user].read_bytes()).decode()},
                }
            )
            spec = {"doEmail": user, "googleApiRoot": server.url, "intervals": {"notify": 5}}
            api.put_object(monitor(name, mode="Pooled", pool="p", **spec))
        api.put_object(
            {
                "apiVersion": names.API_VERSION,
                "kind": names.POOL_KIND,
                "metadata": {"name": "p", "namespace": NAMESPACE},
                "spec": {"replicas": 2},
            }
        )
        env = {"SYFT_OPERATOR_ALLOWED_API_ROOTS": server.url}
        log = tmp_path / "operator.log"
        operator = start_operator(api, kubeconfig, log, env=env)
        try:
            for shard in (0, 1):
                eventually(
                    lambda s=shard: api.get_object(
                        RBAC_V1, "roles", NAMESPACE, names.shard_name("p", s)
                    ),
                    what=f"shard {shard}'s Role",
                )
            eventually(
                lambda: any(
                    c["type"] == "Assigned" and c["status"] == "True"
                    for c in status_of(api, mine).get("conditions", [])
                ),
                what=f"{mine} assigned",
            )
        finally:
            stop_operator(operator)
            sys.stderr.write(log.read_text(errors="replace")[-3000:])

        # The kubelet's part: the shard ConfigMap as a file, the container's command.
        shard = names.shard_name("p", 0)
        deployment = api.get_object("apps/v1", "deployments", NAMESPACE, shard)
        assert deployment is not None
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        config_map = api.get_object("v1", "configmaps", NAMESPACE, shard)
        assert config_map is not None
        mounted = tmp_path / "pod" / "etc" / "syft-pool"
        mounted.mkdir(parents=True)
        (mounted / names.POOL_ASSIGNMENT_KEY).write_text(
            config_map["data"][names.POOL_ASSIGNMENT_KEY]
        )
        command = [str(BIN / container["command"][0]), *container["args"]]
        command[command.index("--assignment") + 1] = str(mounted / names.POOL_ASSIGNMENT_KEY)
        command[command.index("--metrics-port") + 1] = str(free_port())
        command += ["--metrics-host", "127.0.0.1", "--spread", "0"]
        pod_env = {
            **os.environ,
            "KUBECONFIG": str(api.write_kubeconfig(tmp_path / "pod-kubeconfig", NAMESPACE)),
            "HOME": str(tmp_path / "pod"),
        }
        pod_env.pop("SYFT_GOOGLE_API_ROOT", None)
        api.clear_requests()
        pool_log = tmp_path / "pool.log"
        with pool_log.open("wb") as out:
            process = subprocess.Popen(command, env=pod_env, stdout=out, stderr=subprocess.STDOUT)
        try:
            beat = f"{mine}-heartbeat"
            eventually(
                lambda: (
                    mirror_heartbeat(
                        (api.get_object("v1", "configmaps", NAMESPACE, beat) or {}).get("data")
                    )
                    or {}
                ).get("lastPollTime"),
                timeout=60,
                what=f"{mine}'s heartbeat",
            )
            submit_job(server.url, DO, tokens[DO], DS, tokens[DS])
            eventually(
                lambda: [m for m in sandbox.sent_mail(DO) if JOB_NAME in str(m.message["Subject"])],
                timeout=60,
                what="the job email",
            )
            assert process.poll() is None, "the pool process exited"
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
            sys.stderr.write("--- pool log ---\n" + pool_log.read_text(errors="replace")[-4000:])

    made = [r for r in api.requests if r.is_resource]
    assert made, "the pool made no API request"
    objects = [
        o
        for resource in ("roles", "rolebindings")
        for o in api.list_objects(RBAC_V1, resource, NAMESPACE)
    ]
    account = ServiceAccount(NAMESPACE, shard)
    denied = []
    for r in made:
        resource = f"{r.resource}/{r.subresource}" if r.subresource else str(r.resource)
        request = Request(r.verb, r.group or "", resource, r.namespace, r.name)
        if not can(objects, account, request):
            denied.append(request)
    assert denied == [], "requests shard 0's Role does not permit"
    assert not [r for r in made if r.name and r.name.startswith(theirs)], "touched shard 1's owner"
    # The operator, back, mirrors the heartbeat into that owner's status only.
    operator = start_operator(api, kubeconfig, tmp_path / "operator-2.log", env=env)
    try:
        eventually(
            lambda: (status_of(api, mine).get("notificationsSent") or 0) >= 1,
            what=f"{mine}'s notificationsSent",
        )
        assert "notificationsSent" not in status_of(api, theirs)
    finally:
        stop_operator(operator)
