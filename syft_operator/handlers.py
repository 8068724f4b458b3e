"""The kopf handlers: thin wrappers that run `reconcile` and translate its verdict for kopf.

Run with `syft-operator` (see `cli.py`) or directly with `kopf run -m syft_operator.handlers`.

- create / update / resume: reconcile; a missing or malformed Secret (or a transient API error)
  raises `kopf.TemporaryError` with a doubling delay, so the operator retries without ever
  crash-looping; a spec the operator cannot serve raises `kopf.PermanentError` until it changes;
- a timer (every `SYFT_OPERATOR_STATUS_INTERVAL` seconds, default 60) reconciles again, which
  repairs drift such as a deleted Deployment, and mirrors `lastPollTime`, `notificationsSent` and
  `lastError` from the monitor's state ConfigMap into the status;
- an event handler keeps the `syft_operator_monitors` gauge in step with the watch stream.

There is no delete handler: children carry owner references and the API server's garbage
collector removes them. kopf puts a finalizer (`syft.openmined.org/operator`) on SyftMonitors only
because it needs one to stop the timer cleanly; with the timer off there is none.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

import kopf

from syft_operator import names
from syft_operator.config import OperatorConfig
from syft_operator.errors import KubeApiError
from syft_operator.kube import KubeApi
from syft_operator.metrics import OperatorMetrics
from syft_operator.reconcile import EventRequest, mirror_monitor_status, reconcile

logger = logging.getLogger(__name__)

RESOURCE = (names.GROUP, names.VERSION, names.PLURAL)


@dataclasses.dataclass
class Runtime:
    """What the handlers share: kept in kopf's memo, built at startup unless the CLI did."""

    config: OperatorConfig
    metrics: OperatorMetrics
    api: KubeApi | None = None
    #: The last Event posted per object uid: the timer and a retrying handler can both see the
    #: same transition in a stale body, and one Event per transition is enough.
    last_events: dict[str, tuple[str, str, str]] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def first_time(self, uid: str, event: EventRequest) -> bool:
        key = (event.type, event.reason, event.message)
        with self.lock:
            if self.last_events.get(uid) == key:
                return False
            self.last_events[uid] = key
            return True

    def forget(self, uid: str) -> None:
        with self.lock:
            self.last_events.pop(uid, None)


#: Read at import time, because kopf registers the timer (and its finalizer) at import time.
_IMPORT_CONFIG = OperatorConfig.from_env()


def runtime_of(memo: Any) -> Runtime:
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise kopf.PermanentError("operator runtime is missing (startup handler did not run)")
    return runtime


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        runtime = Runtime(config=_IMPORT_CONFIG, metrics=OperatorMetrics())
        memo.runtime = runtime
        if runtime.config.metrics_port is not None:
            runtime.metrics.serve(runtime.config.metrics_port, runtime.config.metrics_host)
    if runtime.api is None:
        runtime.api = KubeApi.from_environment()
    prefix = names.ANNOTATION_PREFIX
    settings.persistence.finalizer = names.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    # Explicit watch timeouts: a watch that silently stalls is the classic "deaf operator".
    settings.watching.server_timeout = runtime.config.watch_server_timeout
    settings.watching.client_timeout = runtime.config.watch_server_timeout + 10
    settings.watching.connect_timeout = 30
    # Log lines stay in the log (kopf's default); Events are only the ones posted explicitly.
    settings.posting.loggers = False


@kopf.on.cleanup()
def close(memo: kopf.Memo, **_: Any) -> None:
    runtime = getattr(memo, "runtime", None)
    if isinstance(runtime, Runtime) and runtime.api is not None:
        runtime.api.close()
        runtime.api = None


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
def reconcile_monitor(
    body: kopf.Body, patch: kopf.Patch, retry: int, memo: kopf.Memo, **_: Any
) -> None:
    runtime = runtime_of(memo)
    verdict, message = _reconcile_into(runtime, body, patch)
    if verdict == "retry":
        raise kopf.TemporaryError(message, delay=runtime.config.retry_backoff(retry))
    if verdict == "error":
        raise kopf.PermanentError(message)


def _refresh_status(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    # No raise: the change handlers own the retries, and the next tick tries again anyway.
    _reconcile_into(runtime_of(memo), body, patch)


if _IMPORT_CONFIG.status_interval > 0:
    kopf.timer(*RESOURCE, interval=_IMPORT_CONFIG.status_interval, id="refresh_status")(
        _refresh_status
    )


@kopf.on.event(*RESOURCE)
def track_conditions(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        return
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    if event.get("type") == "DELETED":
        runtime.metrics.monitors.forget(namespace, name)
        runtime.forget(str(meta.get("uid")))
    else:
        conditions = (obj.get("status") or {}).get("conditions") or []
        runtime.metrics.monitors.observe(namespace, name, conditions)


def _reconcile_into(runtime: Runtime, body: kopf.Body, patch: kopf.Patch) -> tuple[str, str]:
    """Reconcile, count it, and put the status and Events where kopf will write them."""
    # One reference for the whole pass: cleanup at shutdown may reset `runtime.api` meanwhile.
    api = runtime.api
    if api is None:
        raise kopf.TemporaryError("Kubernetes API client is not ready", delay=5)
    started = time.monotonic()
    result = reconcile(api, body, runtime.config)
    wanted = dict(result.status)
    try:
        wanted.update(mirror_monitor_status(api, body))
    except KubeApiError as error:
        logger.warning("cannot read the monitor's state ConfigMap: %s", error)
    current = body.get("status") or {}
    for key, value in wanted.items():
        # Only what changed: an idle timer tick then writes nothing at all.
        if current.get(key) != value:
            patch.status[key] = value
    runtime.metrics.reconcile_duration.observe(time.monotonic() - started)
    runtime.metrics.reconciles.labels(result.verdict).inc()
    meta = body.get("metadata", {})
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    for event in result.events:
        if runtime.first_time(str(meta.get("uid")), event):
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    if result.report is not None and result.report.changed:
        changes = {
            k: v for k, v in result.report.outcomes.items() if v not in ("unchanged", "absent")
        }
        logger.info("reconciled %s: %s", where, changes)
    if result.verdict != "success":
        logger.warning("reconcile of %s: %s", where, result.message)
    return result.verdict, result.message
