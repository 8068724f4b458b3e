"""The kopf handlers: thin wrappers that run `reconcile` and translate its verdict for kopf.

Run with `syft-operator` (see `cli.py`) or directly with `kopf run -m syft_operator.handlers`.

- create / update / resume: reconcile; a missing or malformed Secret (or a transient API error)
  raises `kopf.TemporaryError` with a doubling delay, so the operator retries without ever
  crash-looping; a spec the operator cannot serve raises `kopf.PermanentError` until it changes;
- a resync loop (every `SYFT_OPERATOR_STATUS_INTERVAL` seconds, default 60) reconciles every
  SyftMonitor again, which repairs drift such as a deleted Deployment, and mirrors
  `lastPollTime`, `notificationsSent` and `lastError` from the monitor's state ConfigMap into the
  status;
- an event handler keeps the `syft_operator_monitors` gauge in step with the watch stream, and
  the newest body of each SyftMonitor for the resync loop;
- the children (ConfigMaps, ServiceAccounts, Roles, RoleBindings, Deployments, CronJobs with the
  operator's `managed-by` label, filtered by the API server) and the Secrets are watched by the
  runtime's own list-and-watch streams (`watches.py`, one thread per kind and namespace), which
  only feed the cache: kopf's per-object machinery for each of their events cost a third of the
  operator's CPU when 1,000 SyftMonitors were created. With namespace globs (which kopf resolves)
  or under `kopf run -m`, kopf's `on.event` watches them instead. A change the operator did not
  make itself (a resourceVersion it did not write or compare, checked again when the queued pass
  starts: the event can come before the write's response) queues a reconcile of the owning
  SyftMonitor: drift is repaired, and a Deployment's status change moves the conditions, within
  about a second instead of a sweep;
- a SyftMonitor whose spec cannot be served (InvalidSpec, a refused image or API root, a child
  the API server rejects with 422) is not retried: nothing is tried again until its generation
  changes or the operator restarts (with new allow-lists, say).

There is no delete handler and no finalizer: children carry owner references and the API server's
garbage collector removes them, so a SyftMonitor deleted while the operator is down goes at once.
That is why the resync is one operator-wide loop and not a kopf timer: kopf puts a finalizer on
every object that has a timer, to stop it cleanly. (An operator version that had the timer left
`syft.openmined.org/operator` on SyftMonitors; kopf removes it on the first pass.)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import kopf

from syft_operator import names
from syft_operator.apply import ChildMemory, child_key
from syft_operator.cache import CachedKubeApi, Key, ObjectCache, key_of
from syft_operator.config import OperatorConfig
from syft_operator.errors import KubeApiError
from syft_operator.events import post_event
from syft_operator.kube import (
    CONFIG_MAP,
    CRON_JOB,
    DEPLOYMENT,
    ROLE,
    ROLE_BINDING,
    SECRET,
    SERVICE_ACCOUNT,
    SYFT_MONITOR,
    SYFT_MONITOR_POOL,
    KubeApi,
)
from syft_operator.metrics import OperatorMetrics
from syft_operator.pool import (
    PoolState,
    pool_of,
    pool_uid_of_slot,
    reconcile_pool,
    shard_slot,
)
from syft_operator.pool_crd import MAX_REPLICAS
from syft_operator.pool_metrics import PoolMetrics
from syft_operator.reconcile import EventRequest, mirror_monitor_status, reconcile
from syft_operator.rollout import RolloutPacer
from syft_operator.watches import ListWatch

logger = logging.getLogger(__name__)

RESOURCE = (names.GROUP, names.VERSION, names.PLURAL)
#: The kinds a SyftMonitor owns, watched for drift and for the workload's status.
CHILD_RESOURCES = (
    ("", "v1", "configmaps"),
    ("", "v1", "serviceaccounts"),
    ("rbac.authorization.k8s.io", "v1", "roles"),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    ("apps", "v1", "deployments"),
    ("batch", "v1", "cronjobs"),
)
#: The same kinds, for the runtime's own streams.
CHILD_KINDS = (CONFIG_MAP, SERVICE_ACCOUNT, ROLE, ROLE_BINDING, DEPLOYMENT, CRON_JOB)
CHILD_SELECTOR = f"{names.LABEL_MANAGED_BY}={names.MANAGER}"
#: Child events within this many seconds become one reconcile of their owner.
REPAIR_DELAY = 0.2
#: Members joining or leaving a pool within this many seconds become one pass of the pool (a
#: thousand SyftMonitors applied at once rewrite each shard's assignment and Role about once a
#: second, not once per monitor).
POOL_BATCH_DELAY = 1.0


@dataclasses.dataclass
class Runtime:
    """What the handlers share: kept in kopf's memo, built at startup unless the CLI did."""

    config: OperatorConfig
    metrics: OperatorMetrics
    api: KubeApi | None = None
    #: The last Event posted per object uid: the resync and a retrying handler can both see the
    #: same transition in a stale body, and one Event per transition is enough.
    last_events: dict[str, tuple[str, str, str]] = dataclasses.field(default_factory=dict)
    #: The newest body of each SyftMonitor on the watch stream, by uid: what the resync loop
    #: reconciles, with no request to find them and only objects in the operator's scope.
    bodies: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: One reconcile at a time per object: kopf's handlers and the resync never overlap.
    object_locks: dict[str, threading.Lock] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    #: The children's resourceVersions this process wrote or compared (own watch events).
    memory: ChildMemory = dataclasses.field(default_factory=ChildMemory)
    #: uid -> the generation whose spec cannot be served (permanent until it changes).
    permanent: dict[str, object] = dataclasses.field(default_factory=dict)
    #: SyftMonitors whose children changed, waiting for the repair loop.
    #: The work queue: uid -> monotonic time it is due (sweeps, child and Secret events).
    pending: dict[str, float] = dataclasses.field(default_factory=dict)
    #: uid -> consecutive failed passes from the queue (its backoff grows with them).
    failures: dict[str, int] = dataclasses.field(default_factory=dict)
    wake: asyncio.Event | None = None
    #: uids whose next pass reads live (the periodic verification of the cache).
    verify: set[str] = dataclasses.field(default_factory=set)
    #: (namespace, Secret name) -> uids of the SyftMonitors naming it.
    secret_users: dict[tuple[str, str], set[str]] = dataclasses.field(default_factory=dict)
    #: uid -> the (namespace, Secret name)s it names (the reverse of `secret_users`).
    secrets_of: dict[str, set[tuple[str, str]]] = dataclasses.field(default_factory=dict)
    cache: ObjectCache = dataclasses.field(init=False)
    pacer: RolloutPacer = dataclasses.field(init=False)
    #: The event loop of the queue (enqueue may be called from reconcile threads).
    loop: asyncio.AbstractEventLoop | None = None
    #: When the resync last read everything live (monotonic); 0: never.
    verified_at: float = 0.0
    #: uid -> when its last reconcile (from any trigger) ended (monotonic).
    last_pass: dict[str, float] = dataclasses.field(default_factory=dict)
    #: SyftMonitorPools: their bodies, members and last assignments (queued by uid, like
    #: SyftMonitors).
    pools: PoolState = dataclasses.field(default_factory=PoolState)
    pool_metrics: PoolMetrics = dataclasses.field(init=False)
    #: Where the runtime's own streams watch the children and Secrets: namespaces, or (None,)
    #: for all; empty when kopf watches them (`register(kopf_watches_children=True)`).
    watch_namespaces: tuple[str | None, ...] = ()
    streams: list[ListWatch] = dataclasses.field(default_factory=list)
    #: Queued uids that must be reconciled (a sweep, a Secret, a deleted child, a free slot).
    required: set[str] = dataclasses.field(default_factory=set)
    #: uid -> the children's (key, resourceVersion) that queued it and were not known as own.
    suspects: dict[str, list[tuple[Key, str]]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pool_metrics = PoolMetrics(self.metrics.registry, self.pools.snapshot)
        self.cache = ObjectCache(keep_secret=self.uses_secret)
        self.pacer = RolloutPacer(self.config.rollout_max_unavailable, total=self.count)
        self.pacer.on_free = self._slots_freed
        self.metrics.track(queue_depth=self.queue_depth, cache_objects=self.cache.__len__)

    def count(self) -> int:
        """What restarts separately: single-owner monitors and pool shards (pooled monitors are
        their shards' share)."""
        with self.lock:
            monitors = len(self.bodies)
        pooled, shards = self.pools.restart_units()
        return max(0, monitors - pooled) + shards

    def start_watches(self) -> None:
        """One stream per child kind and Secrets, per namespace, on a client of their own (a
        stream holds its connection for minutes; the reconciles keep theirs)."""
        if self.api is None or self.streams or not self.watch_namespaces:
            return
        kinds = [(resource, CHILD_SELECTOR) for resource in CHILD_KINDS] + [(SECRET, None)]
        api = self.api.with_pool(len(kinds) * len(self.watch_namespaces))
        for namespace in self.watch_namespaces:
            for resource, selector in kinds:
                sink = self._secret_sink if resource is SECRET else self._child_sink
                self.streams.append(
                    ListWatch(
                        api,
                        resource,
                        namespace,
                        sink,
                        label_selector=selector,
                        server_timeout=self.config.watch_server_timeout,
                    )
                )
        for stream in self.streams:
            stream.start()

    def stop_watches(self) -> None:
        for stream in self.streams:
            stream.stop()

    def _child_sink(self, kind: str | None, obj: dict[str, Any]) -> None:
        child_event(self, kind, obj)

    def _secret_sink(self, kind: str | None, obj: dict[str, Any]) -> None:
        secret_event(self, kind, obj)

    def _slots_freed(self, slots: set[str]) -> None:
        # A slot is a SyftMonitor's uid, or a pool shard's (`pool.shard_slot`): its pool.
        for uid in sorted({pool_uid_of_slot(slot) for slot in slots}):
            self.enqueue(uid)

    def queue_depth(self) -> int:
        """Due now: objects waiting out a backoff are not a backlog."""
        now = time.monotonic()
        with self.lock:
            return sum(1 for due in self.pending.values() if due <= now)

    def uses_secret(self, namespace: str, name: str) -> bool:
        with self.lock:
            return bool(self.secret_users.get((namespace, name)))

    def enqueue(
        self, uid: str, delay: float = 0.0, *, child: tuple[Key, str] | None = None
    ) -> None:
        """Due in `delay` s; an object waiting out its backoff keeps its later time. `child`:
        only because of this child's resourceVersion, which may yet turn out to be the
        operator's own write (its watch event can come before the write's response)."""
        due = time.monotonic() + delay
        with self.lock:
            if child is None:
                self.required.add(uid)
            else:
                self.suspects.setdefault(uid, []).append(child)
            if uid in self.failures and uid in self.pending:
                return
            self.pending[uid] = min(self.pending.get(uid, due), due)
        wake, loop = self.wake, self.loop
        if wake is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:  # from a reconcile thread
            loop.call_soon_threadsafe(wake.set)

    def reader(self, *, fresh: bool = False) -> KubeApi | None:
        api = self.api
        return None if api is None else CachedKubeApi(api, self.cache, fresh=fresh)

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
            self.bodies.pop(uid, None)
            self.object_locks.pop(uid, None)
            self.permanent.pop(uid, None)
            self.pending.pop(uid, None)
            self.failures.pop(uid, None)
            self.verify.discard(uid)
            self.last_pass.pop(uid, None)
            self.required.discard(uid)
            self.suspects.pop(uid, None)
            self._set_secret_users(uid, set())
        self.pacer.forget(uid)  # outside the lock: a freed slot queues the waiting ones

    def is_permanent(self, uid: str, body: Mapping[str, Any]) -> bool:
        generation = (body.get("metadata") or {}).get("generation")
        with self.lock:
            return uid in self.permanent and self.permanent[uid] == generation

    def owner_of(self, child: Mapping[str, Any]) -> str | None:
        """The uid of the SyftMonitor owning `child`: its controller reference, else (an
        orphaned child, references stripped) its instance label in the same namespace."""
        meta = child.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") in (names.KIND, names.POOL_KIND):
                return str(ref.get("uid"))
        instance = (meta.get("labels") or {}).get(names.LABEL_INSTANCE)
        with self.lock:
            for uid, body in self.bodies.items():
                owner = body.get("metadata") or {}
                if owner.get("name") == instance and owner.get("namespace") == meta.get(
                    "namespace"
                ):
                    return uid
        return None

    def object_lock(self, uid: str) -> threading.Lock:
        with self.lock:
            return self.object_locks.setdefault(uid, threading.Lock())

    def remember(self, uid: str, body: dict[str, Any]) -> None:
        namespace = str((body.get("metadata") or {}).get("namespace"))
        secrets = {(namespace, name) for name in secret_names(body.get("spec"))}
        with self.lock:
            self.bodies[uid] = body
            self._set_secret_users(uid, secrets)

    def _set_secret_users(self, uid: str, secrets: set[tuple[str, str]]) -> None:
        """Under `lock`: `uid` now names exactly `secrets`."""
        before = self.secrets_of.pop(uid, set())
        for key in before - secrets:
            users = self.secret_users.get(key, set())
            users.discard(uid)
            if not users:
                self.secret_users.pop(key, None)
        for key in secrets:
            self.secret_users.setdefault(key, set()).add(uid)
        if secrets:
            self.secrets_of[uid] = secrets

    def users_of_secret(self, namespace: str, name: str) -> set[str]:
        with self.lock:
            return set(self.secret_users.get((namespace, name), ()))

    def body(self, uid: str) -> dict[str, Any] | None:
        with self.lock:
            return self.bodies.get(uid)

    def sweep_due(self, older_than: float) -> list[str]:
        """The SyftMonitors a sweep should queue: kopf has handled them (they have conditions:
        a new one is its create handler's) and no other pass ran in the last `older_than` s."""
        now = time.monotonic()
        with self.lock:
            return [
                uid
                for uid, body in self.bodies.items()
                if (body.get("status") or {}).get("conditions")
                and now - self.last_pass.get(uid, 0.0) >= older_than
            ]

    def take_reasons(self, uid: str) -> bool:
        """Whether a queued pass of `uid` is needed: something required it, or a child's change
        that is still not known as the operator's own write (asked under the object's lock,
        once the pass that may have written it is over)."""
        with self.lock:
            required = uid in self.required
            self.required.discard(uid)
            suspects = self.suspects.pop(uid, [])
        if required or not suspects:
            return True
        return not all(self.memory.wrote(key, version) for key, version in suspects)

    def reconciled_once(self, uid: str) -> bool:
        """This process has reconciled `uid` (from any trigger, with any outcome)."""
        with self.lock:
            return uid in self.last_pass

    def known(self) -> dict[str, str]:
        """uid -> namespace of every SyftMonitor the watch stream has shown and not deleted."""
        with self.lock:
            return {
                uid: str((body.get("metadata") or {}).get("namespace"))
                for uid, body in self.bodies.items()
            }


def secret_names(spec: Any) -> set[str]:
    """The names of every `*SecretRef` in a raw spec (valid or not: nothing is trusted here)."""
    found: set[str] = set()
    if isinstance(spec, dict):
        for key, value in spec.items():
            if str(key).endswith("SecretRef") and isinstance(value, dict):
                if isinstance(value.get("name"), str):
                    found.add(value["name"])
            else:
                found |= secret_names(value)
    elif isinstance(spec, list):
        for item in spec:
            found |= secret_names(item)
    return found


#: Watch-event handlers that run for every event of every child, Secret and SyftMonitor: kopf's
#: "Handler ... succeeded." for them is 11 log lines per SyftMonitor created and cost the operator
#: more time than the handlers themselves. Their failures are still logged.
_QUIET_HANDLERS = tuple(
    f"Handler {name!r} succeeded."
    for name in ("_child_changed", "_secret_changed", "track_conditions", "_pool_changed")
)


class _QuietEventHandlers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg in _QUIET_HANDLERS)


_QUIET_FILTER = _QuietEventHandlers()


#: The configuration when the CLI built no runtime (`kopf run -m syft_operator.handlers`).
_IMPORT_CONFIG = OperatorConfig.from_env()


def runtime_of(memo: Any) -> Runtime:
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise kopf.PermanentError("operator runtime is missing (startup handler did not run)")
    return runtime


def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        runtime = Runtime(config=_IMPORT_CONFIG, metrics=OperatorMetrics())
        memo.runtime = runtime
        if runtime.config.metrics_port is not None:
            runtime.metrics.serve(runtime.config.metrics_port, runtime.config.metrics_host)
    if runtime.api is None:
        runtime.api = KubeApi.from_environment()
    runtime.start_watches()
    logging.getLogger("kopf.objects").addFilter(_QUIET_FILTER)
    prefix = names.ANNOTATION_PREFIX
    # No handler needs a finalizer; naming ours lets kopf remove the one older versions added.
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
    # Children are watched through the API server's label filter: other ConfigMaps and
    # Deployments of the namespace never reach the operator.
    for child in CHILD_RESOURCES:
        settings.watching.label_selectors[child] = CHILD_SELECTOR


async def start_resync(memo: kopf.Memo, **_: Any) -> None:
    memo.resync_task = asyncio.create_task(_resync_forever(memo), name="syft-operator-resync")
    memo.repair_task = asyncio.create_task(_work_forever(memo), name="syft-operator-queue")


def close(memo: kopf.Memo, **_: Any) -> None:
    for task in (getattr(memo, "resync_task", None), getattr(memo, "repair_task", None)):
        if isinstance(task, asyncio.Task):
            # kopf runs sync handlers in a worker thread: ask the loop to cancel it.
            task.get_loop().call_soon_threadsafe(task.cancel)
    runtime = getattr(memo, "runtime", None)
    if isinstance(runtime, Runtime):
        runtime.stop_watches()
    if isinstance(runtime, Runtime) and runtime.api is not None:
        runtime.api.close()
        runtime.api = None


def reconcile_monitor(
    body: kopf.Body, patch: kopf.Patch, retry: int, memo: kopf.Memo, **_: Any
) -> None:
    runtime = runtime_of(memo)
    with runtime.object_lock(str(body.get("metadata", {}).get("uid"))):
        verdict, message = _reconcile_into(runtime, body, patch)
    if verdict == "retry":
        raise kopf.TemporaryError(message, delay=runtime.config.retry_backoff(retry))
    if verdict == "error":
        raise kopf.PermanentError(message)


async def _resync_forever(memo: kopf.Memo) -> None:
    """Queue every known SyftMonitor once per status interval; the queue reads from the cache,
    except once per verify interval, when it reads everything live."""
    runtime = getattr(memo, "runtime", None)
    if isinstance(runtime, Runtime):
        runtime.verified_at = time.monotonic()  # the resume handlers read live at startup
    while True:
        runtime = getattr(memo, "runtime", None)
        config = runtime.config if isinstance(runtime, Runtime) else _IMPORT_CONFIG
        if config.status_interval <= 0:
            return
        await asyncio.sleep(config.status_interval)
        if not isinstance(runtime, Runtime):
            continue
        if time.monotonic() - runtime.verified_at >= config.verify_interval:
            runtime.verified_at = time.monotonic()
            await asyncio.to_thread(_drop_vanished, runtime)
            uids = list(runtime.known())
            with runtime.lock:
                runtime.verify.update(uids)
        else:
            # A SyftMonitor reconciled by a change within half a period is not due again.
            uids = runtime.sweep_due(config.status_interval / 2)
        runtime.metrics.sweeps.inc()
        uids += runtime.pools.uids()
        for uid in uids:
            runtime.enqueue(uid)


async def _work_forever(memo: kopf.Memo) -> None:
    """The reconcile queue: due objects in order, at most `queue_rate` per second, each failure
    pushing that object (and only it) back by a doubling delay."""
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        return
    runtime.wake = wake = asyncio.Event()
    runtime.loop = asyncio.get_running_loop()
    rate = runtime.config.queue_rate
    spacing = 1.0 / rate if rate > 0 else 0.0
    while True:
        wake.clear()  # before looking: an enqueue after the look sets it again
        now = time.monotonic()
        with runtime.lock:
            due = sorted((t, uid) for uid, t in runtime.pending.items() if t <= now)
            next_due = min(runtime.pending.values(), default=None)
        if not due:
            timeout = None if next_due is None else max(0.0, next_due - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
            continue
        for when, uid in due:
            with runtime.lock:
                if runtime.pending.get(uid) != when:
                    continue  # moved or forgotten meanwhile
                del runtime.pending[uid]
                fresh = uid in runtime.verify
                runtime.verify.discard(uid)
            runtime.metrics.queue_lag.observe(max(0.0, time.monotonic() - when))
            # One thread hop per object, so that shutdown cancels between two of them.
            ok = await asyncio.to_thread(_resync_one, runtime, uid, fresh=fresh)
            with runtime.lock:
                if ok:
                    runtime.failures.pop(uid, None)
                elif uid in runtime.bodies or runtime.pools.is_pool(uid):
                    failed = runtime.failures.get(uid, 0)
                    runtime.failures[uid] = failed + 1
                    runtime.pending[uid] = time.monotonic() + runtime.config.retry_backoff(failed)
            if spacing:
                await asyncio.sleep(spacing)


async def _child_changed(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    # Async on purpose: a few dict operations, not worth a worker thread per event.
    runtime = getattr(memo, "runtime", None)
    if isinstance(runtime, Runtime):
        child_event(runtime, event.get("type"), dict(event.get("object") or {}))


def child_event(runtime: Runtime, kind: str | None, obj: dict[str, Any]) -> None:
    """A watch event of a child (kind None: from a listing): into the cache; a change the
    operator did not make queues its owner. Thread-safe (the streams call it in theirs)."""
    if kind == "DELETED" and not (obj.get("metadata") or {}).get("ownerReferences"):
        # Gone while no stream ran: a relist names it only; the cache knows whose it was.
        _, before = runtime.cache.lookup(key_of(obj))
        obj = before or obj
    runtime.cache.observe(obj, deleted=kind == "DELETED")
    # The initial listing only fills the cache: the resume handlers reconcile everything.
    if kind is None:
        return
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if kind == "DELETED":
        runtime.memory.forget(child_key(obj))
    elif runtime.memory.is_own(obj) or labels.get(names.LABEL_COMPONENT) in ("state", "heartbeat"):
        # The monitor writes these (its heartbeat at news, else once per HEARTBEAT_PERIOD): the
        # sweep mirrors them.
        return
    uid = runtime.owner_of(obj)
    if uid is None:
        return
    # Several children of one SyftMonitor change together (a delete, a rollout).
    if kind == "DELETED":
        runtime.enqueue(uid, REPAIR_DELAY)
    else:
        version = str((obj.get("metadata") or {}).get("resourceVersion"))
        runtime.enqueue(uid, REPAIR_DELAY, child=(child_key(obj), version))


async def _secret_changed(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime = getattr(memo, "runtime", None)
    if isinstance(runtime, Runtime):
        secret_event(runtime, event.get("type"), dict(event.get("object") or {}))


def secret_event(runtime: Runtime, kind: str | None, obj: dict[str, Any]) -> None:
    """Keep the named Secrets in the cache; a changed one re-reconciles the monitors using it
    (the pod template's hash rolls the pod). Thread-safe."""
    obj = {"kind": SECRET.kind, **obj}
    runtime.cache.observe(obj, deleted=kind == "DELETED")
    if kind is None:
        return
    meta = obj.get("metadata") or {}
    for uid in runtime.users_of_secret(str(meta.get("namespace")), str(meta.get("name"))):
        # A pooled user's shard assignment carries the Secret's version (the pool re-reads it).
        pool_uid = runtime.pools.pool_of_member(uid)
        if pool_uid is not None:
            runtime.enqueue(pool_uid, POOL_BATCH_DELAY)
        # One not reconciled yet gets its create handler, which reads the Secret anyway.
        if runtime.reconciled_once(uid):
            runtime.enqueue(uid, REPAIR_DELAY)


def _drop_vanished(runtime: Runtime) -> None:
    """Forget SyftMonitors deleted while a watch was down: with no finalizer, kopf's relist never
    tells of them, and a refresh would recreate the children of an owner that is gone."""
    api = runtime.api
    if api is None:
        return
    known = runtime.known()
    for namespace in sorted(set(known.values())):
        before = {uid for uid, ns in known.items() if ns == namespace}
        try:
            listed = api.list_objects(SYFT_MONITOR, namespace)
        except KubeApiError as error:
            logger.warning("cannot list the SyftMonitors of %s: %s", namespace, error)
            continue
        present = {str((item.get("metadata") or {}).get("uid")) for item in listed}
        # Only what was known before the list: one created since is not in it, yet exists.
        for uid in before - present:
            runtime.forget(uid)
    _drop_vanished_pools(runtime, api)


def _drop_vanished_pools(runtime: Runtime, api: KubeApi) -> None:
    """The same for SyftMonitorPools: a pool deleted while the watch was down must not have its
    shards recreated (their owner reference would point to nothing)."""
    known: dict[str, set[str]] = {}
    for uid in runtime.pools.uids():
        body = runtime.pools.body(uid) or {}
        known.setdefault(str((body.get("metadata") or {}).get("namespace")), set()).add(uid)
    for namespace, before in sorted(known.items()):
        try:
            listed = api.list_objects(SYFT_MONITOR_POOL, namespace)
        except KubeApiError as error:
            logger.warning("cannot list the SyftMonitorPools of %s: %s", namespace, error)
            continue
        present = {str((item.get("metadata") or {}).get("uid")) for item in listed}
        for uid in before - present:
            runtime.pools.forget_pool(uid)


def _resync_one(runtime: Runtime, uid: str, *, fresh: bool = False) -> bool:
    """One level-based pass over a SyftMonitor from the cache (`fresh`: read live); errors are
    logged. False when it should be tried again after a backoff.

    The body is the newest the watch stream brought (read under the object's lock), never one
    from a list: an older spec must not undo what an update handler has just applied."""
    if runtime.pools.is_pool(uid):
        return _resync_pool(runtime, uid, fresh=fresh)
    namespace, name = "?", "?"
    try:
        with runtime.object_lock(uid):
            body = runtime.body(uid)
            if body is None:
                return True  # deleted meanwhile
            meta = body.get("metadata") or {}
            namespace, name = str(meta.get("namespace")), str(meta.get("name"))
            if meta.get("deletionTimestamp") or runtime.is_permanent(uid, body):
                return True
            if not fresh and not runtime.take_reasons(uid):
                return True  # queued only by watch events of its own writes
            patch = kopf.Patch()
            verdict, _message = _reconcile_into(runtime, body, patch, fresh=fresh)
            api = runtime.api
            if patch.status and api is not None:
                api.patch(
                    SYFT_MONITOR,
                    namespace,
                    name,
                    {"status": dict(patch.status)},
                    subresource="status",
                )
            return verdict != "retry"
    except (KubeApiError, kopf.TemporaryError, kopf.PermanentError) as error:
        logger.warning("resync of %s/%s: %s", namespace, name, error)
    except Exception:  # one object's surprise must not end the loop for all the others
        logger.exception("resync of %s/%s failed", namespace, name)
    return False


async def track_conditions(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    # Async: a few dict operations, not worth a hop to a worker thread per event.
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        return
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    deleted = event.get("type") == "DELETED"
    if deleted:
        runtime.metrics.monitors.forget(namespace, name)
        runtime.forget(str(meta.get("uid")))
    else:
        conditions = (obj.get("status") or {}).get("conditions") or []
        runtime.metrics.monitors.observe(namespace, name, conditions)
        runtime.remember(str(meta.get("uid")), dict(obj))
    # Joining, leaving or editing a pooled monitor changes its pool's assignment.
    for pool_uid in runtime.pools.monitor_changed(obj, deleted=deleted):
        runtime.enqueue(pool_uid, POOL_BATCH_DELAY)


async def _pool_changed(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """SyftMonitorPools are reconciled from the queue, like SyftMonitors from the resync: no
    kopf state (annotations, finalizers) is ever written onto them."""
    runtime = getattr(memo, "runtime", None)
    if not isinstance(runtime, Runtime):
        return
    obj: dict[str, Any] = {"kind": names.POOL_KIND, **(event.get("object") or {})}
    meta = obj.get("metadata") or {}
    uid, namespace = str(meta.get("uid")), str(meta.get("namespace"))
    deleted = event.get("type") == "DELETED"
    # Cached, so a pooled monitor's reconcile finds its pool without a request.
    runtime.cache.observe(obj, deleted=deleted)
    if deleted:
        runtime.pools.forget_pool(uid)
        for shard in range(MAX_REPLICAS):  # its shards' rollout slots are free
            runtime.pacer.forget(shard_slot(uid, shard))
        with runtime.lock:
            members = [
                monitor_uid
                for monitor_uid, body in runtime.bodies.items()
                if (body.get("metadata") or {}).get("namespace") == namespace
                and pool_of(body) == meta.get("name")
            ]
        for monitor_uid in members:  # now PoolNotFound
            runtime.enqueue(monitor_uid, REPAIR_DELAY)
    elif runtime.pools.observe_pool(obj):
        runtime.enqueue(uid)


def _uids_named(runtime: Runtime, namespace: str, wanted: set[str]) -> list[str]:
    with runtime.lock:
        return sorted(
            uid
            for uid, body in runtime.bodies.items()
            if (body.get("metadata") or {}).get("namespace") == namespace
            and (body.get("metadata") or {}).get("name") in wanted
        )


def _resync_pool(runtime: Runtime, uid: str, *, fresh: bool = False) -> bool:
    """One pass over a SyftMonitorPool; its members whose shard or availability changed are
    queued, so their conditions follow. False when it should be tried again after a backoff."""
    namespace, name = "?", "?"
    try:
        with runtime.object_lock(uid):
            body = runtime.pools.body(uid)
            if body is None:
                return True
            meta = body.get("metadata") or {}
            namespace, name = str(meta.get("namespace")), str(meta.get("name"))
            if meta.get("deletionTimestamp"):
                return True
            api = runtime.reader(fresh=fresh)
            if api is None:
                return False
            with runtime.lock:
                monitors = list(runtime.bodies.values())
            result = reconcile_pool(
                api,
                body,
                monitors,
                runtime.config,
                memory=runtime.memory,
                pacer=runtime.pacer,
            )
            runtime.pool_metrics.reconciles.labels(result.verdict).inc()
            if result.moves:
                runtime.pool_metrics.moves.inc(result.moves)
            current = body.get("status") or {}
            changes = {k: v for k, v in result.status.items() if current.get(k) != v}
            if changes:
                api.patch(
                    SYFT_MONITOR_POOL, namespace, name, {"status": changes}, subresource="status"
                )
            if result.verdict != "success":
                logger.warning("reconcile of pool %s/%s: %s", namespace, name, result.message)
            elif result.changed:
                logger.info(
                    "reconciled pool %s/%s: %s", namespace, name, result.status.get("shards")
                )
            if result.verdict == "success":
                shards = len(result.status.get("shards") or [])
                moved = runtime.pools.record(uid, result.assigned, shards)
                for monitor_uid in _uids_named(runtime, namespace, moved):
                    runtime.enqueue(monitor_uid)
            return result.verdict != "retry"
    except (KubeApiError, kopf.TemporaryError, kopf.PermanentError) as error:
        logger.warning("resync of pool %s/%s: %s", namespace, name, error)
    except Exception:  # one pool's surprise must not end the loop for all the others
        logger.exception("resync of pool %s/%s failed", namespace, name)
    return False


def _config_written(runtime: Runtime, uid: str, name: str, outcomes: Mapping[str, str]) -> None:
    """A pooled monitor's shard assignment carries its config ConfigMap's version: a pass that
    wrote that ConfigMap queues its pool to write the new version."""
    outcome = outcomes.get(f"ConfigMap/{names.config_map_name(name)}")
    if outcome in ("created", "updated", "repaired"):
        pool_uid = runtime.pools.pool_of_member(uid)
        if pool_uid is not None:
            runtime.enqueue(pool_uid, POOL_BATCH_DELAY)


def _reconcile_into(
    runtime: Runtime, body: Mapping[str, Any], patch: kopf.Patch, *, fresh: bool = False
) -> tuple[str, str]:
    """Reconcile, count it, and put the status and Events where kopf will write them."""
    # One reference for the whole pass: cleanup at shutdown may reset `runtime.api` meanwhile.
    api = runtime.reader(fresh=fresh)
    if api is None:
        raise kopf.TemporaryError("Kubernetes API client is not ready", delay=5)
    started = time.monotonic()
    meta = body.get("metadata", {})
    uid = str(meta.get("uid"))
    with runtime.lock:
        before = uid in runtime.last_pass
    result = reconcile(
        api,
        body,
        runtime.config,
        memory=runtime.memory,
        pacer=runtime.pacer,
        reconciled_before=before,
    )
    with runtime.lock:
        if result.verdict == "error":
            runtime.permanent[uid] = meta.get("generation")
        else:
            runtime.permanent.pop(uid, None)
    wanted = dict(result.status)
    state_key = f"ConfigMap/{names.state_map_name(str(meta.get('name')))}"
    beat_key = f"ConfigMap/{names.heartbeat_map_name(str(meta.get('name')))}"
    outcomes = result.report.outcomes if result.report is not None else {}
    fresh = outcomes.get(state_key) == "created" and outcomes.get(beat_key) == "created"
    _config_written(runtime, uid, str(meta.get("name")), outcomes)
    try:
        # A state ConfigMap created in this pass is empty: nothing to mirror yet.
        if not fresh:
            wanted.update(mirror_monitor_status(api, body))
    except KubeApiError as error:
        logger.warning("cannot read the monitor's state ConfigMap: %s", error)
    current = body.get("status") or {}
    for key, value in wanted.items():
        # Only what changed: an idle refresh then writes nothing at all.
        if current.get(key) != value:
            patch.status[key] = value
    runtime.metrics.reconcile_duration.observe(time.monotonic() - started)
    with runtime.lock:
        runtime.last_pass[uid] = time.monotonic()
    runtime.metrics.reconciles.labels(result.verdict).inc()
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    if result.report is not None:
        for child, fields in result.report.drift.items():
            runtime.metrics.drift_repairs.labels(child.split("/", 1)[0]).inc()
            logger.warning("repaired drift of %s in %s: %s", child, where, ", ".join(fields))
    for event in result.events:
        if not event.once or runtime.first_time(uid, event):
            try:
                post_event(api, body, event)
            except KubeApiError as error:
                logger.warning("cannot post the %s Event on %s: %s", event.reason, where, error)
    if result.report is not None and result.report.changed:
        changes = {
            k: v for k, v in result.report.outcomes.items() if v not in ("unchanged", "absent")
        }
        logger.info("reconciled %s: %s", where, changes)
    if result.verdict != "success":
        logger.warning("reconcile of %s: %s", where, result.message)
    return result.verdict, result.message


def register(registry: kopf.OperatorRegistry, *, kopf_watches_children: bool) -> None:
    """Put the handlers into `registry`. With `kopf_watches_children`, kopf watches the
    children and Secrets too (namespace globs, or `kopf run -m`, where the operator cannot
    know its namespaces); else the runtime's own streams do (`watches.py`)."""
    if registry is not kopf.get_default_registry():
        # kopf's default registry brings it; a new one logs in as the official client does.
        kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.startup(registry=registry)(configure)
    kopf.on.startup(registry=registry)(start_resync)
    kopf.on.cleanup(registry=registry)(close)
    kopf.on.resume(*RESOURCE, registry=registry)(reconcile_monitor)
    kopf.on.create(*RESOURCE, registry=registry)(reconcile_monitor)
    kopf.on.update(*RESOURCE, registry=registry)(reconcile_monitor)
    kopf.on.event(*RESOURCE, registry=registry)(track_conditions)
    kopf.on.event(names.GROUP, names.VERSION, names.POOL_PLURAL, registry=registry)(_pool_changed)
    if not kopf_watches_children:
        return
    labels = {names.LABEL_MANAGED_BY: names.MANAGER}
    for child in CHILD_RESOURCES:
        kopf.on.event(*child, labels=labels, registry=registry)(_child_changed)
    kopf.on.event("", "v1", "secrets", registry=registry)(_secret_changed)


# `kopf run -m syft_operator.handlers` runs what the module registers on import; the CLI builds
# its own registry (`cli.run`), with the runtime's streams watching the children.
register(kopf.get_default_registry(), kopf_watches_children=True)
