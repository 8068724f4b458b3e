"""One run of everything with recognisable secrets, then a search for them where they must not be.

The sandbox's token registry is wrapped so that every token it hands out is an alias containing
`SEKRIT-<uuid>` (access tokens `ya29.SEKRIT-...`, refresh tokens `1//SEKRIT-...`), and the token
files carry a client secret containing it too. With those files:

1. the whole demo scenario (`syft_sandbox.demo_world.run_scenario`), after the access tokens expired
   (so the refresh grant, with the refresh token and client secret, goes over the wire);
2. the approve service accepting a peer and approving a job on the owner's disk;
3. the notify daemon (`DaemonManager.start`, as `syft-bg start`) at DEBUG, with its metrics port;
4. `syft-bg doctor` while the token works;
5. the real operator (`--debug`) reconciling a SyftMonitor whose Secret holds the token JSON, and
   one whose Secret holds a malformed token JSON (still full of the secret);
6. a monitor on the ConfigMap state backend (the operator's `<name>-state`), polling once, then
   failing with the grant revoked, so that `lastError` travels into the SyftMonitor's status;
7. `syft-bg doctor`, `load_credentials(refresh=True)` and a Gmail send with the revoked grant.

Then the secret (and its uuid, URL-encoded and base64 forms) must appear in none of: every log
record of every logger at DEBUG (message, arguments, extras, formatted tracebacks), the daemon's log
files, the operator's log, exception messages and their causes, metric expositions (in-process and
scraped from the daemon), state files, the state ConfigMaps, SyftMonitor statuses, Kubernetes
Events, the rendered Deployment and CronJob (which also carry no secret in `env`), CLI output, and
every email (raw MIME and decoded parts). The emails must also escape every user-provided string
and carry only our headers (`tests/fuzz/fuzzing.check_mime`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import signal
import traceback
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from google.oauth2.credentials import Credentials

from syft_monitors.approve.service import ApproveMonitor
from syft_monitors.cli.main import cli
from syft_monitors.daemon.manager import DaemonManager
from syft_monitors.daemon.process import is_alive
from syft_monitors.errors import SyftMonitorError
from syft_monitors.google.clients import build_drive_service
from syft_monitors.google.credentials import load_credentials, refresh_credentials
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.email import OutgoingEmail
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.state.configmap import ConfigMapStateManager
from syft_monitors.state.json_file import JsonStateManager
from syft_operator import names
from syft_operator.crd import SyftMonitorSpec
from syft_operator.render import RenderOptions, render
from syft_sandbox.actors import SimulatedDataScientist
from syft_sandbox.auth import TokenRegistry
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, demo_world, run_scenario
from tests.fuzz.fuzzing import check_mime
from tests.integration.operator.operator_testkit import (
    CRD_FILE,
    NAMESPACE,
    clients_for,
    eventually,
    ready_in_store,
    start_operator,
    stop_operator,
)
from tests.kubeapi import KubeApiServer
from tests.support import free_port, wait_for

DAVE = "dave@uni.example"
RUN_SH = "#!/bin/bash\nset -e\ncd code && python main.py\n"
MAIN_PY = b"print('approved by rule')\n"
SECRET_ENV = re.compile(r"(?i)token|secret|passw|credential|key")


# --- recognisable secrets --------------------------------------------------------------------


class RecognisableTokens:
    """The sandbox's `TokenRegistry` with every token it hands out swapped for a recognisable
    alias; the aliases are accepted wherever the real tokens are."""

    def __init__(self, inner: TokenRegistry, marker: str) -> None:
        self.inner = inner
        self.marker = marker
        self._real: dict[str, str] = {}
        self._aliases: dict[str, str] = {}

    def _alias(self, real: str, prefix: str) -> str:
        if real not in self._aliases:
            alias = f"{prefix}{self.marker}-{len(self._aliases)}-{real[-6:]}"
            self._aliases[real] = alias
            self._real[alias] = real
        return self._aliases[real]

    def _unalias(self, token: str) -> str:
        return self._real.get(token, token)

    def add_user(self, email: str) -> str:
        return self._alias(self.inner.add_user(email), "ya29.")

    def has_user(self, email: str) -> bool:
        return self.inner.has_user(email)

    def users(self) -> list[str]:
        return self.inner.users()

    def issue_access_token(self, email: str) -> str:
        return self._alias(self.inner.issue_access_token(email), "ya29.")

    def refresh_token(self, email: str) -> str:
        return self._alias(self.inner.refresh_token(email), "1//")

    def user_for_access_token(self, token: str) -> str | None:
        return self.inner.user_for_access_token(self._unalias(token))

    def refresh(self, refresh_token: str) -> str | None:
        real = self.inner.refresh(self._unalias(refresh_token))
        return None if real is None else self._alias(real, "ya29.")

    def expire_access_tokens(self, email: str) -> None:
        self.inner.expire_access_tokens(email)

    def revoke(self, email: str) -> None:
        self.inner.revoke(email)

    def grant(self, email: str, scopes: frozenset[str] | None) -> None:
        self.inner.grant(email, scopes)

    def granted(self, email: str) -> frozenset[str] | None:
        return self.inner.granted(email)


def needles(marker: str) -> list[str]:
    """The secret as it could leak: as is, its uuid alone, URL-encoded, base64 at any offset."""
    hex_part = marker.split("-", 1)[1]
    found = {marker, hex_part, urllib.parse.quote(marker), urllib.parse.quote_plus(marker)}
    for pad in range(3):
        encoded = base64.b64encode(b"=" * pad + marker.encode()).decode()
        middle = encoded[4:-4]  # the quanta that depend on the marker alone
        found.update({middle, middle.replace("+", "-").replace("/", "_")})
    return sorted(found)


class Sinks:
    """Every text the run produced, by where it came from."""

    def __init__(self, marker: str) -> None:
        self.needles = needles(marker)
        self.texts: dict[str, list[str]] = {}

    def add(self, where: str, value: object) -> None:
        if isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
        elif isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, default=repr, sort_keys=True)
        self.texts.setdefault(where, []).append(text)

    def exception(self, where: str, error: BaseException) -> None:
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.add(where, f"{type(current).__name__}: {current} {current.args!r}")
            self.add(where, "".join(traceback.format_exception_only(type(current), current)))
            current = current.__cause__ or current.__context__

    def leaks(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for where, texts in self.texts.items():
            for text in texts:
                for needle in self.needles:
                    at = text.find(needle)
                    if at != -1:
                        found.setdefault(where, []).append(text[max(0, at - 80) : at + 80])
        return found


class CaptureAll(logging.Handler):
    """Every record of every logger: message, arguments, extras and the formatted traceback."""

    def __init__(self, sinks: Sinks) -> None:
        super().__init__(logging.DEBUG)
        self.sinks = sinks
        self.count = 0
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.sinks.add(f"log:{record.name}", self.format(record))
        self.sinks.add(f"log:{record.name}", {k: repr(v) for k, v in vars(record).items()})


@pytest.fixture
def capture_everything() -> Iterator[Callable[[Sinks], CaptureAll]]:
    installed: list[tuple[logging.Logger, CaptureAll, int]] = []

    def install(sinks: Sinks) -> CaptureAll:
        handler = CaptureAll(sinks)
        # The root, plus loggers that do not propagate (google-auth stops "google" propagating).
        loggers = [logging.getLogger(), logging.getLogger("google")]
        loggers += [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger) and not logger.propagate
        ]
        for logger in loggers:
            installed.append((logger, handler, logger.level))
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
        return handler

    yield install
    for logger, handler, level in installed:
        logger.removeHandler(handler)
        logger.setLevel(level)


def rewrite_token_files(folder: Path, client_secret: str) -> None:
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text())
        data["client_secret"] = client_secret
        path.write_text(json.dumps(data))


def stale_access_token(path: Path, marker: str) -> None:
    data = json.loads(path.read_text())
    data["token"] = f"ya29.{marker}-stale-{uuid.uuid4().hex[:6]}"
    path.write_text(json.dumps(data))


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


# --- the run -------------------------------------------------------------------------------


def place_job(root: Path, ds: str, name: str) -> None:
    """A job folder as the owner's SyftBox client extracts it from a proposal."""
    folder = root / DO_EMAIL / "app_data" / "job" / "inbox" / ds / name
    (folder / "code").mkdir(parents=True)
    config = {"name": name, "type": "python", "entrypoint": "main.py", "files": ["main.py"]}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "run.sh").write_text(RUN_SH)
    (folder / "code" / "main.py").write_bytes(MAIN_PY)


def test_secrets_appear_nowhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capture_everything: Callable[[Sinks], CaptureAll],
    kube_api: KubeApiServer,
    kubeconfig: Path,
    kube_client: Any,
) -> None:
    marker = f"SEKRIT-{uuid.uuid4().hex}"
    client_secret = f"GOCSPX-{marker}-client"
    sinks = Sinks(marker)
    capture = capture_everything(sinks)
    home = tmp_path / "home"
    monkeypatch.setenv("SYFT_MONITOR_HOME", str(home))
    for name in ("SYFT_GOOGLE_API_ROOT", "SYFT_MONITOR_CONFIG", "SYFT_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)

    with demo_world(tmp_path / "demo") as world:
        sandbox, server = world.sandbox, world.server
        tokens = RecognisableTokens(sandbox.tokens, marker)
        sandbox.tokens = tokens  # type: ignore[assignment]
        token_dir = world.token_files[DO_EMAIL].parent
        server.write_token_files(token_dir)
        rewrite_token_files(token_dir, client_secret)
        token_file = world.token_files[DO_EMAIL]
        token_json = json.loads(token_file.read_text())
        assert marker in token_json["token"]
        assert marker in token_json["refresh_token"]
        assert marker in token_json["client_secret"]

        # 1. The demo, with an access token the server no longer knows: the refresh grant (with
        # the refresh token and the client secret) goes over the wire. (Expiring the user's
        # tokens would also stop the simulated owner, whose client has no refresh token.)
        stale_access_token(token_file, marker)
        result = run_scenario(world, lambda title, emails: None)
        assert len(result.emails) >= 15
        assert sandbox.requests(0, api="oauth"), "the refresh grant was never used"

        # 2. The approve service: a peer by address, a job on the owner's disk by rule.
        syftbox = tmp_path / "SyftBox"
        place_job(syftbox, DS_ALICE, "local_job")
        approve_config = tmp_path / "approve.yaml"
        approve_config.write_text(
            yaml.safe_dump(
                {
                    "do_email": DO_EMAIL,
                    "syftbox_root": str(syftbox),
                    "drive_token_path": str(token_file),
                    "gmail_token_path": str(token_file),
                    "state_file": str(world.workdir / "state.json"),
                    "google_api_root": server.url,
                    "approve": {
                        "approved_peers": [DAVE],
                        "auto_approvals": [
                            {
                                "name": "local_job",
                                "peers": [DS_ALICE],
                                "file_contents": [
                                    {"relative_path": "main.py", "sha256": sha(MAIN_PY)}
                                ],
                                "run_sh_sha256": [sha(RUN_SH)],
                                "job": {"type": "python", "entrypoint": "main.py"},
                            }
                        ],
                    },
                }
            )
        )
        approve = ApproveMonitor.from_config(approve_config)
        approve.check()  # first start: evaluates the jobs waiting on disk
        first = approve.last_report
        assert first is not None
        assert first.jobs_approved == 1, first
        sandbox.add_user(DAVE)
        dave_drive = build_drive_service(
            Credentials(sandbox.access_token(DAVE)),  # type: ignore[no-untyped-call]
            api_root=server.url,
        )
        SimulatedDataScientist(DAVE, dave_drive).request_peer(DO_EMAIL)
        approve.check()
        report = approve.last_report
        assert report is not None
        assert report.peers_accepted == 1, report
        dave_drive.close()
        sinks.add("metrics:approve", approve.metrics.render())
        sinks.add("metrics:demo", world.monitor.metrics.render())

        # 3. The daemon, at DEBUG, with its metrics endpoint scraped.
        port = free_port()
        daemon_config = tmp_path / "daemon.yaml"
        daemon_config.write_text(
            yaml.safe_dump(
                {
                    "do_email": DO_EMAIL,
                    "syftbox_root": None,
                    "drive_token_path": str(token_file),
                    "gmail_token_path": str(token_file),
                    "state_file": str(home / "daemon-state.json"),
                    "google_api_root": server.url,
                    "interval": 1,
                    "metrics_port": port,
                }
            )
        )
        monkeypatch.setenv("SYFT_LOG_LEVEL", "DEBUG")
        stale_access_token(token_file, marker)  # the daemon refreshes too
        daemon = DaemonManager(daemon_config, "notify")
        assert daemon.start(), daemon.last_error
        pid = daemon.get_pid()
        assert pid is not None
        try:
            state = JsonStateManager(home / "daemon-state.json")
            wait_for(
                lambda: state.path.exists() and state.heartbeat().last_success_at,
                "a good daemon poll",
            )
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
                sinks.add("metrics:daemon", reply.read())
            sinks.add("proc:daemon-cmdline", (Path("/proc") / str(pid) / "cmdline").read_bytes())
            sinks.add("proc:daemon-environ", (Path("/proc") / str(pid) / "environ").read_bytes())
        finally:
            daemon.stop()
            with suppress(ProcessLookupError):
                if is_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        for log in home.glob("syft-notify*.log*"):
            sinks.add(f"daemon-log:{log.name}", log.read_bytes())
        assert "DEBUG" in (home / "syft-notify.log").read_text()
        monkeypatch.delenv("SYFT_LOG_LEVEL")

        # 4. The doctor while the token works.
        doctor = CliRunner().invoke(cli, ["--config", str(approve_config), "doctor"])
        assert doctor.exit_code == 0, doctor.output
        sinks.add("cli:doctor-ok", doctor.output)

        # 5. The operator, at debug level, with a good and a malformed token Secret.
        kube_api.create_namespace(NAMESPACE)
        kube_api.apply_crd(CRD_FILE)
        operator_log = tmp_path / "operator.log"
        # The admin allows the sandbox as an API root (the tenant boundary refuses it otherwise).
        allow = {"SYFT_OPERATOR_ALLOWED_API_ROOTS": server.url}
        operator = start_operator(kube_api, kubeconfig, operator_log, "--debug", env=allow)
        clients = clients_for(kube_client)
        try:
            malformed = json.dumps({k: v for k, v in token_json.items() if k != "client_id"})
            for monitor_name, value in (("alice", token_file.read_text()), ("mallory", malformed)):
                clients.core.create_namespaced_secret(
                    NAMESPACE,
                    {
                        "metadata": {"name": f"{monitor_name}-token"},
                        "data": {"token.json": base64.b64encode(value.encode()).decode()},
                    },
                )
                ref = {"name": f"{monitor_name}-token", "key": "token.json"}
                clients.custom.create_namespaced_custom_object(
                    names.GROUP,
                    names.VERSION,
                    NAMESPACE,
                    names.PLURAL,
                    {
                        "apiVersion": names.API_VERSION,
                        "kind": names.KIND,
                        "metadata": {"name": monitor_name, "namespace": NAMESPACE},
                        "spec": {
                            "doEmail": DO_EMAIL,
                            "driveTokenSecretRef": ref,
                            "gmailTokenSecretRef": ref,
                            "googleApiRoot": server.url,
                        },
                    },
                )

            def condition(name: str, reason: str) -> bool:
                body = kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, name)
                found = ((body or {}).get("status") or {}).get("conditions") or []
                return any(c["type"] == "Ready" and c["reason"] == reason for c in found)

            eventually(lambda: ready_in_store(kube_api, "alice"), what="alice Ready")
            eventually(lambda: condition("mallory", "SecretMalformed"), what="mallory refused")

            # 6. A pod-like monitor on the ConfigMap state: one good poll, then a revoked grant.
            pod_monitor = NotificationMonitor(
                do_email=DO_EMAIL,
                sender=GmailSender(token_file, api_root=server.url),
                state=ConfigMapStateManager(
                    names.state_map_name("alice"), NAMESPACE, kubeconfig=kubeconfig
                ),
                config={},
                drive_token_path=token_file,
                syftbox_root=None,
                google_api_root=server.url,
                strategy="changes",
                drive=None,
                metrics=MonitorMetrics(),
            )
            assert pod_monitor._check_once(), pod_monitor._last_error
            sandbox.revoke_user(DO_EMAIL)
            assert not pod_monitor._check_once()
            assert pod_monitor._last_error is not None
            sinks.add("exception:pod-monitor", pod_monitor._last_error)
            sinks.add("metrics:pod-monitor", pod_monitor.metrics.render())

            def mirrored_error() -> str | None:
                body = kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
                return ((body or {}).get("status") or {}).get("lastError")

            last_error = eventually(mirrored_error, what="status.lastError from the monitor")
            assert "re-authorize" in last_error

            # 7. Errors with the revoked grant, as a user would meet them.
            doctor = CliRunner().invoke(cli, ["--config", str(approve_config), "doctor"])
            assert doctor.exit_code == 1
            assert "re-authorize" in doctor.output
            sinks.add("cli:doctor-revoked", doctor.output)
            with pytest.raises(SyftMonitorError) as refused:
                refresh_credentials(load_credentials(token_file, api_root=server.url))
            sinks.exception("exception:load_credentials", refused.value)
            sender = GmailSender(token_file, api_root=server.url)
            with pytest.raises(SyftMonitorError) as unsent:
                sender.send(
                    OutgoingEmail.build(
                        to=DO_EMAIL,
                        subject="x",
                        text="x",
                        html=None,
                        notification_key="secrets-test:do",
                    )
                )
            sinks.exception("exception:gmail-send", unsent.value)

            # What the cluster holds (Secrets excepted: they are where the token belongs).
            for kind, group_version in (
                ("configmaps", "v1"),
                ("events", "v1"),
                ("deployments", "apps/v1"),
                ("cronjobs", "batch/v1"),
                (names.PLURAL, names.API_VERSION),
            ):
                for obj in kube_api.list_objects(group_version, kind, NAMESPACE):
                    sinks.add(f"kube:{kind}/{obj['metadata']['name']}", obj)
            events = clients.core.list_namespaced_event(NAMESPACE).items
            assert events, "the operator posted no Event"
            sinks.add("kube:events-api", [e.to_dict() for e in events])
            deployment = kube_api.get_object(
                "apps/v1", "deployments", NAMESPACE, names.workload_name("alice")
            )
            assert deployment is not None
            alice = kube_api.get_object(names.API_VERSION, names.PLURAL, NAMESPACE, "alice")
            assert alice is not None
        finally:
            stop_operator(operator)
            sinks.add("operator-log", operator_log.read_bytes())
        # Debug level did log the API traffic, the Secrets' list and watch included (they bring
        # the token Secrets' contents into the operator's cache).
        traffic = operator_log.read_text(errors="replace")
        assert f"GET /api/v1/namespaces/{NAMESPACE}/secrets HTTP/1.1" in traffic
        assert f"GET /api/v1/namespaces/{NAMESPACE}/secrets?watch=true" in traffic

        # Every email, raw and decoded; each one escaped and with our headers only.
        users = sandbox.users()
        for user in users:
            for record in [*sandbox.sent_mail(user), *sandbox.received_mail(user)]:
                sinks.add(f"email:{user}", record.raw)
                for part in record.message.walk():
                    if not part.is_multipart():
                        sinks.add(f"email:{user}", part.get_payload(decode=True) or b"")
        for record in sandbox.sent_mail(DO_EMAIL):
            check_mime(record.raw, frozenset(user.lower() for user in users))
        for path in [*tmp_path.rglob("*state*.json"), *(tmp_path / "demo").rglob("*.eml")]:
            sinks.add(f"file:{path.name}", path.read_bytes())

    assert capture.count > 500, "the log capture saw almost nothing"
    kinds = {where.split(":")[0] for where in sinks.texts}
    assert kinds >= {
        "log",
        "daemon-log",
        "operator-log",
        "metrics",
        "kube",
        "email",
        "file",
        "cli",
        "exception",
        "proc",
    }, kinds
    leaks = sinks.leaks()
    assert leaks == {}, json.dumps(leaks, indent=2)[:4000]

    # The workloads: no secret value and no secret-bearing env, in either mode.
    spec = alice["spec"]
    for mode in ("Deployment", "CronJob"):
        parsed = SyftMonitorSpec.model_validate({**spec, "mode": mode})
        workload = render("alice", NAMESPACE, parsed, RenderOptions("syft-monitor:test")).workload
        manifests = [workload] + ([deployment] if mode == "Deployment" else [])
        for manifest in manifests:
            text = json.dumps(manifest)
            assert not any(needle in text for needle in sinks.needles)
            assert "envFrom" not in text
            assert "secretKeyRef" not in text
            template = (
                manifest["spec"].get("template")
                or (manifest["spec"]["jobTemplate"]["spec"]["template"])
            )
            for container in template["spec"]["containers"]:
                assert not [e for e in container.get("env", []) if SECRET_ENV.search(e["name"])]
                assert all(
                    "token" not in arg.lower() for arg in container["command"] + container["args"]
                )
            volumes = {v["name"]: v for v in template["spec"]["volumes"]}
            assert volumes["drive-secret"]["secret"]["secretName"] == "alice-token"


def test_the_search_finds_disguised_secrets() -> None:
    # Guards the test above: a leak in any of these forms would have been reported.
    marker = f"SEKRIT-{uuid.uuid4().hex}"
    token = json.dumps({"refresh_token": f"1//{marker}-rt", "client_secret": "x"})
    disguised = {
        "plain": f"Authorization: Bearer ya29.{marker}-at",
        "uuid-only": marker.split("-", 1)[1],
        "url-encoded": urllib.parse.urlencode({"refresh_token": f"1//{marker}"}),
        "base64": base64.b64encode(token.encode()).decode(),
        "base64-offset": base64.b64encode(b"xy" + token.encode()).decode(),
        "urlsafe-base64": base64.urlsafe_b64encode(b"z" + token.encode()).decode(),
    }
    for form, text in disguised.items():
        sinks = Sinks(marker)
        sinks.add(form, text)
        assert sinks.leaks(), form
    clean = Sinks(marker)
    clean.add("other", f"SEKRIT-{uuid.uuid4().hex} ya29.[redacted]")
    assert clean.leaks() == {}
