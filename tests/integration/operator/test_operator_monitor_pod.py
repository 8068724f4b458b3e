"""End to end without a cluster: operator -> rendered config -> the monitor pod's process -> email.

The operator renders `alice-config` from a SyftMonitor; this test then plays the kubelet: it
"mounts" the Secret's key and the ConfigMap's `notify.yaml` as files and starts the container's
command, `syft-bg --config .../notify.yaml run notify`, against the same test API server (state in
the `alice-state` ConfigMap through the ConfigMap state backend) and the Drive/Gmail sandbox. A
simulated data scientist submits a job; the monitor emails the data owner; the operator mirrors the
monitor's heartbeat keys into the SyftMonitor's status.

What differs from a pod, and only a real cluster (`make kind-e2e`) covers: the mount paths (the
config's absolute paths are moved under a temporary folder), the metrics port (a free one), and the
API credentials (a kubeconfig instead of the in-cluster service account).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from operator_testkit import (
    BIN,
    NAMESPACE,
    OperatorCluster,
    eventually,
    monitor,
    start_operator,
    stop_operator,
)

from syft_operator import names
from syft_sandbox import Sandbox
from tests.e2e.kind_driver import JOB_NAME, submit_job, wait_for_job_email
from tests.support import free_port

DO = "owner@hospital.example"
DS = "scientist@uni.example"


def mount_like_the_kubelet(
    cluster: OperatorCluster, pod_root: Path, port: int
) -> tuple[Path, dict[str, Any]]:
    """Write the pod's files (config and Secret keys) under `pod_root`; returns the config path."""
    config_map = cluster.stored("v1", "configmaps", "alice-config")
    assert config_map is not None
    config = yaml.safe_load(config_map["data"]["notify.yaml"])
    moves = {names.SECRETS_DIR: pod_root / "secrets", names.TMP_DIR: pod_root / "tmp"}
    for key in ("drive_token_path", "gmail_token_path", "state_file", "daemon_dir"):
        for mount, local in moves.items():
            if config[key].startswith(mount + "/"):
                config[key] = str(local) + config[key][len(mount) :]
                break
    assert config["metrics_port"] == 9101
    config["metrics_port"] = port
    config["metrics_host"] = "127.0.0.1"
    secret = cluster.stored("v1", "secrets", "alice-token")
    assert secret is not None
    for purpose in ("drive", "gmail"):
        folder = pod_root / "secrets" / purpose
        folder.mkdir(parents=True)
        (folder / "token.json").write_bytes(base64.b64decode(secret["data"]["token.json"]))
    (pod_root / "tmp").mkdir()
    path = pod_root / "etc" / "notify.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(config))
    return path, config


@contextlib.contextmanager
def sandbox_operator(cluster: OperatorCluster, kubeconfig: Path, api_root: str) -> Iterator[None]:
    """The operator, allowed (by its own config, as a cluster admin would) to point monitors at
    the sandbox: without that, `googleApiRoot` is refused (the tenant boundary)."""
    env = {"SYFT_OPERATOR_ALLOWED_API_ROOTS": api_root}
    cluster.process = start_operator(cluster.api, kubeconfig, cluster.log_path, env=env)
    try:
        yield
    finally:
        stop_operator(cluster.process)
        print("--- operator log (tail) ---\n" + cluster.log()[-6000:])


def test_monitor_process_sends_the_job_email(
    schema_cluster: OperatorCluster, kubeconfig: Path, tmp_path: Path
) -> None:
    sandbox = Sandbox()
    for user in (DO, DS):
        sandbox.add_user(user)
    with sandbox.serve() as server, sandbox_operator(schema_cluster, kubeconfig, server.url):
        operator_cluster = schema_cluster
        tokens = server.write_token_files(tmp_path / "tokens")
        token = base64.b64encode(tokens[DO].read_bytes()).decode()
        operator_cluster.clients.core.create_namespaced_secret(
            NAMESPACE,
            {"metadata": {"name": "alice-token"}, "data": {"token.json": token}},
        )
        body = monitor("alice", doEmail=DO, googleApiRoot=server.url, intervals={"notify": 5})
        created = operator_cluster.create_monitor(body)
        operator_cluster.ready("alice")

        pod_root = tmp_path / "pod"
        config_path, config = mount_like_the_kubelet(operator_cluster, pod_root, free_port())
        assert config["state_backend"] == "configmap"
        pod_kubeconfig = operator_cluster.api.write_kubeconfig(
            tmp_path / "pod-kubeconfig", namespace=NAMESPACE
        )
        env = {
            **os.environ,
            "KUBECONFIG": str(pod_kubeconfig),
            "HOME": str(pod_root / "tmp"),
            "SYFT_LOG_FORMAT": "json",
        }
        env.pop("SYFT_GOOGLE_API_ROOT", None)
        log_path = tmp_path / "monitor.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(BIN / "syft-bg"), "--config", str(config_path), "run", "notify"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            # The first poll's heartbeat travels: monitor -> state ConfigMap -> operator -> status.
            eventually(
                lambda: operator_cluster.get_monitor()["status"].get("lastPollTime"),
                timeout=30,
                what="status.lastPollTime from the monitor's heartbeat",
            )
            submit_job(server.url, DO, tokens[DO], DS, tokens[DS])
            subjects = wait_for_job_email(server.url, tokens[DO], timeout=30)
            assert any(subject == f"Job: {JOB_NAME}" for subject in subjects), subjects
            sent = [m for m in sandbox.sent_mail(DO) if JOB_NAME in str(m.message["Subject"])]
            assert sent
            assert sent[0].message["To"] == DO
            status = eventually(
                lambda: (
                    (s := operator_cluster.get_monitor()["status"]).get("notificationsSent") and s
                ),
                timeout=30,
                what="status.notificationsSent",
            )
            assert status["notificationsSent"] >= 1
            assert "lastError" not in status
            state = operator_cluster.stored("v1", "configmaps", "alice-state")
            assert state is not None
            assert names.STATE_KEY in state["data"]
            # The monitor's writes keep the owner reference: the state goes with the SyftMonitor.
            owners = [ref["uid"] for ref in state["metadata"].get("ownerReferences", [])]
            assert owners == [created["metadata"]["uid"]]
            assert process.poll() is None, "the monitor process exited"
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
            monitor_log = log_path.read_text(errors="replace")
            # Captured: shown only when the test fails.
            print("--- monitor log (tail) ---\n" + monitor_log[-6000:])
        secrets = json.loads(tokens[DO].read_text())
        assert secrets["token"] not in monitor_log
        assert secrets["refresh_token"] not in monitor_log
