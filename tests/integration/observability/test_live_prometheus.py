"""A real Prometheus scrapes running monitors (against the sandbox) and the running operator
(against the test Kubernetes API server); docs/metrics.md, every dashboard query and every alert
expression are checked against what it sees.

One scenario, set up once (a single test, so pytest-xdist never starts it twice):

- monitor `alice` (the sandbox demo's data owner): peers and jobs arrive while Drive rate-limits
  a few requests and Gmail fails four sends; its state is grown past the alert threshold;
- monitor `dana`: a data owner whose token was revoked, so every poll fails;
- monitor `erin` and a second operator: targets nobody listens on (down);
- the operator: SyftMonitors that reconcile, that miss their Secret (retry) and that the
  operator cannot serve (error).

Then: the docs' tables equal the live scrapes; `promtool check metrics` accepts them; every
dashboard query and variable returns data; every alert expression returns data and Prometheus'
own rule engine has each alert pending; the rules evaluate without errors; and when the monitor
targets vanish, SyftMonitorTargetsAbsent's expression returns data.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from prom_tools import ROOT, PrometheusServer, PrometheusTools, free_port
from prometheus_client.parser import text_string_to_metric_families

from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.flood import FloodConfig
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state.json_file import JsonStateManager
from syft_operator import names
from syft_sandbox.demo_world import DO_EMAIL, DS_ALICE, DS_BOB, DemoWorld, demo_world
from syft_sandbox.faults import FaultRule
from tests.integration.operator.operator_testkit import ready_in_store
from tests.kubeapi import KubeApiServer

T = TypeVar("T")
BIN = Path(sys.executable).parent
CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitors.syft.openmined.org.yaml"
RULES = ROOT / "deploy" / "prometheus" / "syft-monitor-rules.yaml"
DANA = "dana@clinic.example"
K8S_NAMESPACE = "team-a"
TOKEN = {
    "token": "ya29.live-test",
    "refresh_token": "1//live-test",
    "client_id": "live-test.apps.googleusercontent.com",
    "client_secret": "live-test-secret",
}
#: Grafana's variables as "All" (allValue .*) and a range that covers the whole scenario.
GRAFANA_SUBSTITUTIONS = {"$namespace": ".*", "$monitor": ".*", "$__rate_interval": "5m"}


def _load_docs() -> ModuleType:
    path = ROOT / "tests" / "unit" / "observability" / "observability_docs.py"
    spec = importlib.util.spec_from_file_location("observability_docs_live", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it is executed
    spec.loader.exec_module(module)
    return module


docs = _load_docs()


def eventually(probe: Callable[[], T | None], *, timeout: float = 20.0) -> T | None:
    """`probe()` until truthy; the last value (falsy) when time runs out."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not value and time.monotonic() < deadline:
        time.sleep(0.25)
        value = probe()
    return value


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()  # type: ignore[no-any-return]


# --- the scenario ----------------------------------------------------------------------------


@contextmanager
def revoked_monitor(world: DemoWorld, workdir: Path) -> Iterator[NotificationMonitor]:
    """A second data owner on the same sandbox whose Google token has been revoked."""
    world.sandbox.add_user(DANA)
    tokens = world.server.write_token_files(workdir / "tokens")
    world.sandbox.revoke_user(DANA)
    monitor = NotificationMonitor(
        do_email=DANA,
        sender=GmailSender(tokens[DANA], api_root=world.server.url),
        state=JsonStateManager(workdir / "dana-state.json"),
        config={},
        drive_token_path=tokens[DANA],
        syftbox_root=None,
        google_api_root=world.server.url,
        strategy="changes",
        drive=None,
        metrics=MonitorMetrics(),
    )
    try:
        yield monitor
    finally:
        monitor.stop()


def run_monitor_scenario(world: DemoWorld, dana: NotificationMonitor) -> None:
    alice, bob = world.scientists[DS_ALICE], world.scientists[DS_BOB]
    # A tiny sending budget and per-sender limit: the scenario's few emails spend the day's
    # budget and put alice over her hourly limit, so the flood-control alerts fire as well.
    dispatcher = world.monitor.dispatcher
    dispatcher.config = dispatcher.config.model_copy(
        update={"flood": FloodConfig(daily_budget=4, per_sender_per_hour=1)}
    )
    world.poll()
    alice.request_peer(DO_EMAIL)
    bob.request_peer(DO_EMAIL)
    world.owner.accept_peer(DS_ALICE)
    world.owner.accept_peer(DS_BOB)
    assert world.poll(), "peer emails were expected"
    # Drive throttles the data owner three times (retried at once); Gmail fails the three
    # "new job" emails of the next poll (retried with backoff).
    world.sandbox.faults.add(
        FaultRule.rate_limited(retry_after=0.0, api="drive", user=DO_EMAIL, times=3)
    )
    world.sandbox.faults.add(
        FaultRule.server_error(503, api="gmail", method="messages.send", times=3)
    )
    alice.submit_job(DO_EMAIL, "train model", {"main.py": "print('training')\n"})
    alice.submit_job(DO_EMAIL, "evaluate", {"main.py": "print('evaluating')\n"})
    bob.submit_job(DO_EMAIL, "stats", {"main.py": "import statistics\n"})
    world.poll()
    # A data owner with a very long history: state past the alert threshold (600 KiB).
    Ledger(world.monitor.state).mark_seen(
        (f"drive-file-{index:06d}-{'x' * 48}" for index in range(12_000)), "file"
    )
    world.owner.set_status(DS_ALICE, "train model", "approved")
    world.poll()
    for _ in range(12):
        dana.check()


def token_secret(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": K8S_NAMESPACE},
        "type": "Opaque",
        "data": {"token.json": base64.b64encode(json.dumps(TOKEN).encode()).decode()},
    }


def syft_monitor(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "metadata": {"name": name, "namespace": K8S_NAMESPACE},
        "spec": {
            "doEmail": f"{name}@hospital.example.org",
            "driveTokenSecretRef": {"name": f"{name}-token", "key": "token.json"},
            "gmailTokenSecretRef": {"name": f"{name}-token", "key": "token.json"},
            **spec,
        },
    }


@contextmanager
def running_operator(workdir: Path, metrics_port: int) -> Iterator[KubeApiServer]:
    with KubeApiServer() as api:
        api.create_namespace(K8S_NAMESPACE)
        api.apply_crd(CRD_FILE)
        kubeconfig = api.write_kubeconfig(workdir / "kubeconfig")
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "SYFT_OPERATOR_STATUS_INTERVAL": "1",
            "SYFT_OPERATOR_RETRY_DELAY": "0.3",
            "SYFT_OPERATOR_RETRY_MAX_DELAY": "1",
            "SYFT_OPERATOR_METRICS_HOST": "127.0.0.1",
        }
        log_path = workdir / "operator.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    str(BIN / "syft-operator"),
                    "--standalone",
                    "--namespace",
                    K8S_NAMESPACE,
                    "--liveness",
                    "",
                    "--metrics-port",
                    str(metrics_port),
                    "--log-format",
                    "plain",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            api.wait_for_watch(names.PLURAL, group=names.GROUP, timeout=30)
            yield api
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            sys.stderr.write("--- operator log (tail) ---\n" + log_path.read_text()[-4000:])


def create_syft_monitors(api: KubeApiServer) -> None:
    api.put_object(token_secret("alice-token"))
    api.put_object(syft_monitor("alice"))  # reconciles: Ready once its pod is available
    api.put_object(syft_monitor("carol"))  # its Secret is missing: retry
    # The schema accepts this; the operator's tenant boundary refuses it: error.
    api.put_object(syft_monitor("dave", image="attacker.example/x:1"))
    deadline = time.monotonic() + 20
    while not ready_in_store(api, "alice", K8S_NAMESPACE):
        assert time.monotonic() < deadline, "alice never became Ready"
        time.sleep(0.1)


def scrape_config(
    monitors: dict[str, tuple[int, str]], operators: dict[str, tuple[int, str]]
) -> dict[str, Any]:
    """Static targets with the labels the chart's PodMonitor and ServiceMonitor give them."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "syft-monitor",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{port}"],
                        "labels": {
                            "namespace": namespace,
                            "syftmonitor": name,
                            "pod": f"{name}-monitor-6f5d8",
                            "container": "notify",
                        },
                    }
                    for name, (port, namespace) in monitors.items()
                ],
            },
            {
                "job_name": "syft-operator",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{port}"],
                        "labels": {"namespace": namespace, "pod": f"{name}-7c9b4"},
                    }
                    for name, (port, namespace) in operators.items()
                ],
            },
        ],
    }


# --- the checks ------------------------------------------------------------------------------


def documented_form(bodies: list[str]) -> dict[str, tuple[str, tuple[str, ...], str]]:
    """name -> (type, labels, help) as docs/metrics.md writes it, from live scrapes."""
    families: dict[str, tuple[str, set[str], str]] = {}
    created: set[str] = set()
    for body in bodies:
        for family in text_string_to_metric_families(body):
            name = family.name + ("_total" if family.type == "counter" else "")
            labels = {key for s in family.samples for key in s.labels if key not in {"le"}}
            kind, known, help_ = families.get(name, (family.type, set(), family.documentation))
            families[name] = (kind, known | labels, help_)
            if family.type in {"counter", "histogram"}:
                created.add(f"{family.name}_created")
    return {
        name: (kind, tuple(sorted(labels)), help_)
        for name, (kind, labels, help_) in families.items()
        if name not in created  # the client's *_created series, documented in prose
    }


def check_docs(monitor_bodies: list[str], operator_body: str) -> list[str]:
    documented = docs.documented_metrics()
    expected = {m.name: (m.type, tuple(sorted(m.labels)), m.help) for m in documented.values()}
    live = {**documented_form(monitor_bodies), **documented_form([operator_body])}
    problems = []
    for name in sorted(set(expected) | set(live)):
        if name not in live:
            problems.append(f"docs/metrics.md documents {name}, which no live scrape exports")
        elif name not in expected:
            problems.append(f"{name} {live[name]} is exported but not in docs/metrics.md")
        elif expected[name] != live[name]:
            problems.append(f"{name}: docs say {expected[name]}, the scrape says {live[name]}")
    values = docs.documented_label_values()
    for body in [*monitor_bodies, operator_body]:
        for family in text_string_to_metric_families(body):
            name = family.name + ("_total" if family.type == "counter" else "")
            if name not in expected:
                continue  # undocumented (reported above) or a *_created series
            for sample in family.samples:
                for label, value in sample.labels.items():
                    allowed = values.get((name, label), frozenset())
                    if label != "le" and allowed is not None and value not in allowed:
                        problems.append(f"{name}{{{label}={value!r}}} is not documented")
    return problems


def check_promtool_metrics(tools: PrometheusTools, bodies: list[str]) -> list[str]:
    problems = []
    for body in bodies:
        result = subprocess.run(
            [str(tools.promtool), "check", "metrics"],
            input=body,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0 or result.stdout.strip() or result.stderr.strip():
            problems.append(f"promtool check metrics: {result.stdout}{result.stderr}")
    return problems


def grafana_expr(expr: str) -> str:
    for variable, value in GRAFANA_SUBSTITUTIONS.items():
        expr = expr.replace(variable, value)
    return expr


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def finite_result(prometheus: PrometheusServer, query: str) -> list[dict[str, Any]] | None:
    result = prometheus.query(query)
    return result if has_finite_value(result) else None


def check_dashboards(prometheus: PrometheusServer) -> list[str]:
    problems = []
    for uid, panel, expr in docs.dashboard_queries():
        query = grafana_expr(expr)
        # A value needs two scrapes after the scenario: wait for a finite one, not just any.
        result = eventually(lambda q=query: finite_result(prometheus, q), timeout=10)
        result = result or prometheus.query(query)
        if not result:
            problems.append(f"dashboard {uid} panel {panel!r} returns no data: {query}")
        elif not has_finite_value(result):
            problems.append(f"dashboard {uid} panel {panel!r} returns only NaN/Inf: {query}")
    for board in docs.dashboards().values():
        for variable in board["templating"]["list"][1:]:
            definition = grafana_expr(variable["definition"])
            selector, label = (
                definition.removeprefix("label_values(").removesuffix(")").rsplit(", ", 1)
            )
            if not prometheus.label_values(label, selector):
                problems.append(f"dashboard {board['uid']} variable ${variable['name']} is empty")
    return problems


def check_alerts(prometheus: PrometheusServer, expected: set[str]) -> list[str]:
    problems = []
    for alert in docs.alerts():
        if alert["alert"] not in expected:
            continue
        result = eventually(lambda e=alert["expr"]: prometheus.query(e) or None, timeout=15)
        if not result:
            problems.append(f"alert {alert['alert']} expression returns no data: {alert['expr']}")

    def active() -> set[str]:
        alerts = prometheus.api("/api/v1/alerts")["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] in {"pending", "firing"}}

    seen = eventually(lambda: expected <= active() and active(), timeout=15) or active()
    if not expected <= seen:
        problems.append(f"Prometheus' rule engine never had {sorted(expected - seen)} pending")
    if seen - expected:
        problems.append(f"unexpected alerts pending: {sorted(seen - expected)}")
    for group in prometheus.api("/api/v1/rules")["groups"]:
        for rule in group["rules"]:
            if rule.get("health") != "ok":
                problems.append(f"rule {rule['name']} evaluates with {rule.get('lastError')}")
    return problems


# --- the test --------------------------------------------------------------------------------


def test_live_scrapes_match_docs_dashboards_and_alerts(
    prometheus_tools: PrometheusTools, tmp_path: Path
) -> None:
    problems: list[str] = []
    with ExitStack() as stack:
        world = stack.enter_context(demo_world(tmp_path / "demo"))
        dana = stack.enter_context(revoked_monitor(world, tmp_path))
        alice_port = world.monitor.serve_metrics(0).port
        dana_port = dana.serve_metrics(0).port
        operator_port = free_port()
        api = stack.enter_context(running_operator(tmp_path, operator_port))
        monitors = {
            "alice": (alice_port, "team-a"),
            "dana": (dana_port, "team-a"),
            "erin": (free_port(), "team-b"),  # nothing listens: down
        }
        operators = {"syft-operator": (operator_port, "syft-system")}
        dead_operator = {"old-operator": (free_port(), "syft-legacy")}
        prometheus = stack.enter_context(
            PrometheusServer(
                prometheus_tools, tmp_path, scrape_config(monitors, operators | dead_operator)
            )
        )

        # Everything counts from zero before the scenario, as after a real deployment.
        up = eventually(
            lambda: len(prometheus.query("up")) == 5 and prometheus.query("up"), timeout=30
        )
        assert up, f"targets never scraped:\n{prometheus.log()}"
        run_monitor_scenario(world, dana)
        create_syft_monitors(api)

        monitor_bodies = [scrape(alice_port), scrape(dana_port)]
        operator_body = scrape(operator_port)
        problems += check_docs(monitor_bodies, operator_body)
        problems += check_promtool_metrics(prometheus_tools, [*monitor_bodies, operator_body])
        problems += check_dashboards(prometheus)
        all_alerts = {str(a["alert"]) for a in docs.alerts()}
        absent_only = {"SyftMonitorTargetsAbsent", "SyftOperatorAbsent"}
        # A queue that never empties for 15 minutes cannot be staged in a test of seconds (the
        # scrapes before the scenario hold zeros); its promtool unit test covers it instead.
        slow_only = {"SyftOperatorQueueBacklog"}
        problems += check_alerts(prometheus, all_alerts - absent_only - slow_only)

        # The PodMonitor finds no pod any more while the operator still reports them Ready.
        prometheus.reload(scrape_config({}, operators))
        (absent,) = [a for a in docs.alerts() if a["alert"] == "SyftMonitorTargetsAbsent"]
        result = eventually(lambda: prometheus.query(absent["expr"]) or None, timeout=15)
        if not result:
            problems.append("SyftMonitorTargetsAbsent returns no data without monitor targets")
        elif float(result[0]["value"][1]) < 1:
            problems.append(f"SyftMonitorTargetsAbsent value {result} is not the Ready count")

        # No operator target at all (never scheduled): SyftOperatorDown cannot see that.
        prometheus.reload(scrape_config({}, {}))
        (gone,) = [a for a in docs.alerts() if a["alert"] == "SyftOperatorAbsent"]
        if not eventually(lambda: prometheus.query(gone["expr"]) or None, timeout=15):
            problems.append("SyftOperatorAbsent returns no data without operator targets")
    assert not problems, "\n".join(problems)
