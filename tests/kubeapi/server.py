"""`KubeApiServer`: a faithful enough Kubernetes API server for tests, on 127.0.0.1.

Built on `kmock` (pinned to 0.8 in pyproject: this module uses its internals). kmock's
`KubernetesEmulator` is the aiohttp entry point and renders unexpected failures as Status
objects; every gap its stock storage has (see the table in the project's testing notes) is closed
by our own store (`tests.kubeapi.store`) that the emulator subclass routes requests to.

Usage::

    with KubeApiServer() as api:                      # or the `kube_api` pytest fixture
        path = api.write_kubeconfig(tmp_path / "kubeconfig", namespace="default")
        client = kubernetes.config.new_client_from_config(config_file=str(path))
        ...
        api.requests          # [ApiRequest(method, path, verb, group, version, resource, ...)]
        api.get_object("v1", "configmaps", "default", "x")

Emulated (each covered by tests/integration/kubeapi):
- Discovery (`/api`, `/apis`, `/api/v1`, `/apis/<g>[/<v>]`, `/version`) for the built-in kinds in
  `resources.BUILTINS` (core namespaces/configmaps/secrets/serviceaccounts/events/pods/services/
  pvcs; apps deployments/statefulsets/daemonsets/replicasets; batch jobs/cronjobs; rbac roles/
  rolebindings/clusterroles/clusterrolebindings; coordination leases; networking networkpolicies;
  policy poddisruptionbudgets; apiextensions customresourcedefinitions) plus every served
  version of every CRD, which gets `NamesAccepted` and `Established` conditions on creation.
- get/list/watch/create/update (PUT)/patch/delete/deletecollection; 201 on create; uid,
  resourceVersion (one global counter), creationTimestamp, generation (bumped on changes outside
  metadata and status); generateName; no-op writes are not writes.
- 409 AlreadyExists, 409 Conflict on a stale resourceVersion (PUT, or a patch carrying one),
  404 NotFound, 400 BadRequest, 415 UnsupportedMediaType, 422 Invalid: all as Status objects with
  the apiserver's reasons and wording.
- JSON patch (incl. kopf's `test /metadata/resourceVersion`, 422 when it fails), merge patch,
  strategic merge patch for built-in kinds (lists merged by `name` etc.; see `patching`), and 415
  for strategic merge on a custom resource.
- The status subresource: the main endpoint ignores `.status`, `/status` writes only `.status`;
  the scale subresource for deployments/statefulsets/replicasets.
- Custom resources validated against the CRD's openAPIV3Schema: unknown fields pruned (400 with
  `fieldValidation=Strict`), defaults applied, 422 naming each invalid field, and the CRD's CEL
  rules (`x-kubernetes-validations`, with `fieldPath` and `reason`; standard CEL plus the
  quantity library) evaluated with cel-python (see `schema`).
- Built-in kinds: metadata validation and the common defaults/rules (see `builtins`).
- Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors, on list, watch and
  deletecollection.
- Watches: `application/json` stream; with no resourceVersion (or "0") the current objects come
  first as ADDED; with a resourceVersion, the events after it; `timeoutSeconds` ends the stream;
  `sendInitialEvents=true` ends the initial ADDEDs with the initial-events-end BOOKMARK.
- Finalizers and deletionTimestamp; deletion propagation Background/Foreground/Orphan; garbage
  collection of dependents whose owners (ownerReferences by uid) are all gone, also of one
  created after its owners were deleted; deleting a
  namespace or a CRD deletes its content first; namespaces must exist (and not be terminating)
  to create in them; `default`, `kube-system`, `kube-public`, `kube-node-lease` exist.
- `dryRun=All`.

Never emulated (only a real cluster, i.e. `make kind-e2e`, proves these): controllers (no Pods,
ReplicaSets or Jobs are ever created from workloads; Deployment/CronJob status stays empty),
authentication and RBAC (every request is allowed: check permissions against the request log),
admission webhooks, CEL transition rules (`oldSelf`) and CEL libraries other than quantity, OpenAPI
(`/openapi/v2|v3` are 404: use kubectl `--validate=false`), aggregated discovery, Table output for
built-in kinds (kubectl prints them client-side; custom resources do get their printer columns),
protobuf bodies (415), server-side apply (415), managedFields, pagination (`limit` is ignored, no
`continue`), 410 Gone and compaction of old resourceVersions, watch bookmarks other than the
initial-events one, graceful pod termination, per-kind field selector restrictions, conversion
between CRD versions.

Fault hooks (for resilience tests): `fail_next(status, verb=..., resource=..., count=N)` answers
the next N matching requests with that error instead of serving them; `drop_watches()` ends the
open watch streams (optionally with a 410 ERROR event).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp.web
import kmock
import yaml

from tests.kubeapi import printing
from tests.kubeapi.errors import REASONS, ApiError, bad_request, method_not_allowed
from tests.kubeapi.printing import wants_table
from tests.kubeapi.resources import ResourceType
from tests.kubeapi.selectors import object_matcher
from tests.kubeapi.store import Store

logger = logging.getLogger(__name__)

#: The Kubernetes version this server claims to be (kubectl v1.34 comes with the tools script).
SERVER_VERSION = {"major": "1", "minor": "34", "gitVersion": "v1.34.0-kubeapi-test"}
NAMESPACE_SUBRESOURCES = {"status", "finalize"}
MAX_BODY_BYTES = 3 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ApiRequest:
    """One request as the server saw it (for assertions, e.g. RBAC coverage)."""

    id: int
    method: str
    path: str
    query: dict[str, str]
    #: get, list, watch, create, update, patch, delete, deletecollection (RBAC verbs); for
    #: non-resource paths (discovery, /version) the lower-case HTTP method.
    verb: str
    group: str | None
    version: str | None
    resource: str | None
    namespace: str | None
    name: str | None
    subresource: str | None
    status: int
    content_type: str | None = None
    body: Any = None

    @property
    def is_resource(self) -> bool:
        return self.resource is not None


@dataclasses.dataclass
class FaultRule:
    """Answer matching requests with an error instead of serving them (see `fail_next`)."""

    status: int
    verb: str | None = None
    resource: str | None = None
    group: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    remaining: int = 1
    message: str | None = None
    retry_after: int | None = None
    hits: int = 0

    def matches(self, route: _Route, verb: str) -> bool:
        return (
            (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource == route.plural)
            and (self.group is None or self.group == route.group)
            and (self.namespace is None or self.namespace == route.namespace)
            and (self.name is None or self.name == route.name)
            and (self.subresource is None or self.subresource == route.subresource)
        )

    def error(self) -> ApiError:
        reason = REASONS.get(self.status, "InternalError")
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return ApiError(
            self.status, reason, self.message or f"injected fault: {reason}", headers=headers
        )


@dataclasses.dataclass(frozen=True)
class _Route:
    group: str | None = None
    version: str | None = None
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    #: "resource", "discovery" (api/apis/group/version lists) or "other".
    kind: str = "other"


def parse_path(path: str) -> _Route:
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return _Route()
    if parts[0] == "api":
        group = ""
        rest = parts[1:]
    else:
        if len(parts) < 3:
            return _Route(group=parts[1] if len(parts) == 2 else None, kind="discovery")
        group = parts[1]
        rest = parts[2:]
    if not rest:
        return _Route(group=group, kind="discovery")
    version, rest = rest[0], rest[1:]
    if not rest:
        return _Route(group=group, version=version, kind="discovery")
    namespace = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return _Route(group=group, version=version, kind="bad")
    return _Route(
        group=group,
        version=version,
        plural=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
        kind="resource",
    )


def _verb(method: str, route: _Route, query: dict[str, str]) -> str:
    if route.kind != "resource":
        return method.lower()
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if route.name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    return method.lower()


_END = object()
_GONE = object()


@dataclasses.dataclass(eq=False)
class _OpenWatch:
    resource: str
    group: str
    queue: asyncio.Queue[Any]


class _Frontend(kmock.KubernetesEmulator):
    """kmock's emulator as the aiohttp handler, with its storage replaced by ours.

    The stock request parsing raises on `/api/v1/namespaces`, so `__call__` is overridden too.
    """

    owner: KubeApiServer

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        return await self.owner._dispatch(raw_request, self)


class KubeApiServer:
    """See the module docstring. Thread-safe; runs its own event loop in a daemon thread."""

    def __init__(
        self,
        *,
        namespaces: Iterable[str] = (),
        require_namespaces: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.store = Store(namespaces=tuple(namespaces), require_namespaces=require_namespaces)
        self._frontend = _Frontend()
        self._frontend.owner = self
        self._log: list[ApiRequest] = []
        self._log_cond = threading.Condition()
        self._faults: list[FaultRule] = []
        self._faults_lock = threading.Lock()
        self._watches: set[_OpenWatch] = set()
        self._watches_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._web: aiohttp.web.Server | None = None
        self._port: int | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except BaseException as e:  # reported to the starting thread
                failure.append(e)
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="kubeapi-test-server", daemon=True)
        self._thread.start()
        started = ready.wait(30)
        if failure or not started:
            self._thread = None
            cause = failure[0] if failure else None
            raise RuntimeError("the test API server did not start") from cause
        return self

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()

        def make_request(
            message: Any, payload: Any, protocol: Any, writer: Any, task: Any, _: Any = None
        ) -> aiohttp.web.BaseRequest:
            # The apiserver accepts bodies up to 3 MiB; aiohttp's default is 1 MiB.
            return aiohttp.web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY_BYTES
            )

        self._web = aiohttp.web.Server(
            self._frontend, request_factory=make_request, handler_cancellation=True
        )
        self._server = await loop.create_server(self._web, self.host, 0)
        self._port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            for watch in self._open_watches():
                watch.queue.put_nowait(_END)
            if self._server is not None:
                self._server.close()
            if self._web is not None:
                # Idle keep-alive connections would hold shutdown for its whole timeout.
                for connection in list(self._web.connections):
                    connection.force_close()
                await self._web.shutdown(0.5)
            if self._server is not None:
                await self._server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_kubeconfig(self, path: Path | str, namespace: str = "default") -> Path:
        """A kubeconfig for this server (any token is accepted); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubeapi-test", "cluster": {"server": self.url}}],
            "users": [{"name": "kubeapi-test", "user": {"token": "kubeapi-test-token"}}],
            "contexts": [
                {
                    "name": "kubeapi-test",
                    "context": {
                        "cluster": "kubeapi-test",
                        "user": "kubeapi-test",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "kubeapi-test",
            "preferences": {},
        }
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        target.chmod(0o600)
        return target

    # --- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[ApiRequest]:
        """A snapshot of every request served so far, in arrival order."""
        with self._log_cond:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_cond:
            self._log.clear()

    def _record(self, **fields: Any) -> None:
        with self._log_cond:
            self._log.append(ApiRequest(id=len(self._log), **fields))
            self._log_cond.notify_all()

    def wait_for_request(
        self, predicate: Callable[[ApiRequest], bool], timeout: float = 10.0
    ) -> ApiRequest:
        """The first logged request (past or future) matching `predicate`; TimeoutError if none
        arrives in time."""
        deadline = time.monotonic() + timeout
        with self._log_cond:
            while True:
                for request in self._log:
                    if predicate(request):
                        return request
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching request reached the test API server")
                self._log_cond.wait(remaining)

    def wait_for_watch(
        self, resource: str, *, group: str | None = None, timeout: float = 10.0
    ) -> ApiRequest:
        """Wait until a client (e.g. the operator) has opened a watch on `resource`."""
        return self.wait_for_request(
            lambda r: (
                r.verb == "watch" and r.resource == resource and (group is None or r.group == group)
            ),
            timeout,
        )

    @contextlib.contextmanager
    def listening(
        self,
        group_version: str,
        resource: str,
        namespace: str | None,
        listener: Callable[[dict[str, Any]], None],
    ) -> Iterator[None]:
        """Call `listener` with each watch event of `resource` from now on, in the writer's
        thread, as the store changes (no HTTP, not in the request log, not an open watch): a
        benchmark can follow objects without listing and copying them all over and over."""
        rt = self._resource_type(group_version, resource)
        with self.store.lock:
            since = str(self.store.resource_version)
        _, sub = self.store.subscribe(
            rt, namespace, None, object_matcher(None, None), since, listener
        )
        try:
            yield
        finally:
            self.store.unsubscribe(sub)

    # --- direct object access --------------------------------------------------------------

    def _resource_type(self, group_version: str, resource: str) -> ResourceType:
        group, _, version = group_version.rpartition("/")
        with self.store.lock:
            rt = self.store.registry.get(group, version, resource)
        if rt is None:
            raise KeyError(f"{group_version} {resource} is not served")
        return rt

    def get_object(
        self, group_version: str, resource: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """A copy of the stored object, or None. E.g. `get_object("apps/v1", "deployments",
        "default", "x")`; `namespace` None for cluster-scoped resources."""
        return self.store.find(self._resource_type(group_version, resource), namespace, name)

    def list_objects(
        self,
        group_version: str,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        rt = self._resource_type(group_version, resource)
        result = self.store.list_objects(rt, namespace, object_matcher(label_selector, None))
        items: list[dict[str, Any]] = result["items"]
        return items

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or overwrite `obj` (apiVersion/kind pick the resource; status is written too;
        no resourceVersion check), through the same validation as the API. Returns it stored."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        with self.store.lock:
            rt = self.store.registry.by_kind(str(api_version), str(kind))
        if rt is None:
            raise KeyError(f"{api_version} {kind} is not served")
        return self.store.put(rt, obj)

    def delete_object(
        self,
        group_version: str,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete as the API would (finalizers respected); False if there was no such object."""
        rt = self._resource_type(group_version, resource)
        try:
            self.store.delete(rt, namespace, name, {"propagationPolicy": propagation})
        except ApiError as e:
            if e.code == 404:
                return False
            raise
        return True

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        existing = self.get_object("v1", "namespaces", None, name)
        if existing is not None:
            return existing
        return self.put_object(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": labels or {}},
            }
        )

    def apply_crd(self, crd: dict[str, Any] | str | Path) -> dict[str, Any]:
        """Register a CRD (a dict, YAML text, or a YAML file path); it is Established at once."""
        if isinstance(crd, Path):
            crd = crd.read_text()
        body = yaml.safe_load(crd) if isinstance(crd, str) else crd
        return self.put_object(body)

    @property
    def resource_version(self) -> int:
        return self.store.resource_version

    # --- fault hooks -----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        verb: str | None = None,
        resource: str | None = None,
        group: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        count: int = 1,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> FaultRule:
        """Answer the next `count` matching resource requests with `status` (a Status body with
        the usual reason: 409 Conflict, 429 TooManyRequests, 500 InternalError, 503 ...)
        without serving them. Returns the rule (`.hits` counts the answered requests)."""
        rule = FaultRule(
            status=status,
            verb=verb,
            resource=resource,
            group=group,
            namespace=namespace,
            name=name,
            subresource=subresource,
            remaining=count,
            message=message,
            retry_after=retry_after,
        )
        with self._faults_lock:
            self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def _take_fault(self, route: _Route, verb: str) -> FaultRule | None:
        with self._faults_lock:
            for rule in self._faults:
                if rule.remaining > 0 and rule.matches(route, verb):
                    rule.remaining -= 1
                    rule.hits += 1
                    return rule
        return None

    def drop_watches(self, resource: str | None = None, *, gone: bool = False) -> int:
        """End the open watch streams (of `resource`, or all); with `gone`, they end with an
        ERROR event 410 Gone first, as when a resourceVersion is too old. Returns how many."""
        loop = self._loop
        if loop is None:
            return 0
        dropped = [w for w in self._open_watches() if resource is None or w.resource == resource]
        for watch in dropped:
            loop.call_soon_threadsafe(watch.queue.put_nowait, _GONE if gone else _END)
        return len(dropped)

    def _open_watches(self) -> list[_OpenWatch]:
        with self._watches_lock:
            return list(self._watches)

    @property
    def open_watches(self) -> int:
        """How many watch streams are open right now."""
        return len(self._open_watches())

    # --- HTTP ------------------------------------------------------------------------------

    async def _dispatch(
        self, raw: aiohttp.web.BaseRequest, frontend: kmock.KubernetesEmulator
    ) -> aiohttp.web.StreamResponse:
        body_bytes = await raw.read()
        route = parse_path(raw.path)
        query = dict(raw.query)
        verb = _verb(raw.method, route, query)
        content_type = raw.headers.get("Content-Type", "").split(";")[0].strip() or None
        record = {
            "method": raw.method,
            "path": raw.path,
            "query": query,
            "verb": verb,
            "group": route.group,
            "version": route.version,
            "resource": route.plural,
            "namespace": route.namespace,
            "name": route.name,
            "subresource": route.subresource,
            "content_type": content_type,
        }
        body: Any = None
        response: aiohttp.web.StreamResponse
        try:
            body = self._parse_body(body_bytes, content_type)
            record["body"] = body
            fault = self._take_fault(route, verb) if route.kind == "resource" else None
            if fault is not None:
                raise fault.error()
            if route.kind == "resource" and verb == "watch":
                return await self._watch(raw, route, query, record)
            if route.kind == "other":
                response = self._serve_other(raw.method, raw.path)
            else:
                accept = raw.headers.get("Accept")
                response = self._json(
                    *self._serve(raw.method, route, query, body, content_type, accept)
                )
        except ApiError as e:
            response = self._json(e.code, e.status(), [], e.headers)
        except Exception as e:
            logger.exception("test API server failed on %s %s", raw.method, raw.path)
            response = await frontend._render_error(e)
        self._record(status=response.status, **record)
        return response

    @staticmethod
    def _parse_body(raw: bytes, content_type: str | None) -> Any:
        if not raw:
            return None
        if content_type and "protobuf" in content_type:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the test API server does not speak protobuf; send JSON (kubectl typed"
                " generators: use --dry-run=client -o yaml | kubectl apply -f -)",
            )
        try:
            if content_type in ("application/yaml", "application/apply-patch+yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError):
            raise bad_request("the request body is not valid JSON") from None

    @staticmethod
    def _json(
        status: int,
        body: Any,
        warnings: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.web.Response:
        response = aiohttp.web.Response(
            status=status, text=json.dumps(body), content_type="application/json", headers=headers
        )
        for warning in warnings or []:
            response.headers.add("Warning", f'299 - "{warning}"')
        return response

    def _serve(
        self,
        method: str,
        route: _Route,
        query: dict[str, str],
        body: Any,
        content_type: str | None,
        accept: str | None = None,
    ) -> tuple[int, Any, list[str]]:
        if route.kind == "discovery":
            if method != "GET":
                raise method_not_allowed()
            return 200, self._discovery(route), []
        if route.kind == "bad":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rt = self._route_type(route)
        if route.subresource is not None and route.subresource not in rt.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry_run = query.get("dryRun") == "All"
        validation = query.get("fieldValidation")
        ns = route.namespace if rt.namespaced else None
        store = self.store
        if method == "GET":
            table = rt.custom and route.subresource is None and wants_table(accept)
            if route.name is None:
                matcher = object_matcher(query.get("labelSelector"), query.get("fieldSelector"))
                listed = store.list_objects(rt, ns, matcher)
                if table:
                    rv = listed["metadata"]["resourceVersion"]
                    return 200, printing.table(rt, listed["items"], rv), []
                return 200, listed, []
            if route.subresource == "scale":
                return 200, store.get_scale(rt, ns, route.name), []
            obj = store.get(rt, ns, route.name)
            if table:
                return 200, printing.table(rt, [obj], obj["metadata"]["resourceVersion"]), []
            return 200, obj, []
        if method == "POST":
            if route.name is not None:
                raise method_not_allowed()
            created, warnings = store.create(
                rt, ns, body, dry_run=dry_run, field_validation=validation
            )
            return 201, created, warnings
        if route.name is None:
            if method == "DELETE":
                matcher = object_matcher(query.get("labelSelector"), query.get("fieldSelector"))
                return (
                    200,
                    store.delete_collection(rt, ns, matcher, self._delete_options(query, body)),
                    [],
                )
            raise method_not_allowed()
        if method == "PUT":
            if route.subresource == "scale":
                return 200, store.update_scale(rt, ns, route.name, body, None), []
            obj, warnings = store.replace(
                rt,
                ns,
                route.name,
                body,
                subresource=route.subresource,
                dry_run=dry_run,
                field_validation=validation,
            )
            return 200, obj, warnings
        if method == "PATCH":
            if route.subresource == "scale":
                return 200, store.update_scale(rt, ns, route.name, body, content_type), []
            obj, warnings = store.patch(
                rt,
                ns,
                route.name,
                body,
                content_type or "",
                subresource=route.subresource,
                dry_run=dry_run,
                field_validation=validation,
            )
            return 200, obj, warnings
        if method == "DELETE":
            return (
                200,
                store.delete(
                    rt, ns, route.name, self._delete_options(query, body), dry_run=dry_run
                ),
                [],
            )
        raise method_not_allowed()

    def _route_type(self, route: _Route) -> ResourceType:
        """The served resource a resource path names; 404 as a real server when there is none."""
        rt = None
        if route.group is not None and route.version is not None and route.plural is not None:
            with self.store.lock:
                rt = self.store.registry.get(route.group, route.version, route.plural)
        if rt is None or (route.namespace is not None and not rt.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return rt

    @staticmethod
    def _delete_options(query: dict[str, str], body: Any) -> dict[str, Any]:
        options = dict(body) if isinstance(body, dict) else {}
        if "propagationPolicy" in query:
            options["propagationPolicy"] = query["propagationPolicy"]
        if query.get("orphanDependents") == "true":
            options["orphanDependents"] = True
        return options

    def _serve_other(self, method: str, path: str) -> aiohttp.web.Response:
        if method != "GET":
            raise method_not_allowed()
        if path == "/version":
            version = {
                **SERVER_VERSION,
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z",
                "goVersion": "go1.24.0",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
            return self._json(200, version)
        if path in ("/healthz", "/livez", "/readyz"):
            return aiohttp.web.Response(status=200, text="ok", content_type="text/plain")
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _discovery(self, route: _Route) -> dict[str, Any]:
        with self.store.lock:
            registry = self.store.registry
            if route.group == "" and route.version is None:
                return {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                    ],
                }
            groups = registry.groups()
            if route.group is None:
                return {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [
                        self._group(name, versions) for name, versions in sorted(groups.items())
                    ],
                }
            if route.version is None:
                if route.group not in groups:
                    raise ApiError(
                        404, "NotFound", "the server could not find the requested resource"
                    )
                return {
                    "kind": "APIGroup",
                    "apiVersion": "v1",
                    **self._group(route.group, groups[route.group]),
                }
            types = registry.in_group_version(route.group, route.version)
            if not types:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            gv = f"{route.group}/{route.version}" if route.group else route.version
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": gv,
                "resources": [entry for rt in types for entry in rt.discovery()],
            }

    @staticmethod
    def _group(name: str, versions: list[str]) -> dict[str, Any]:
        return {
            "name": name,
            "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
        }

    # --- watch -----------------------------------------------------------------------------

    async def _watch(
        self,
        raw: aiohttp.web.BaseRequest,
        route: _Route,
        query: dict[str, str],
        record: dict[str, Any],
    ) -> aiohttp.web.StreamResponse:
        rt = self._route_type(route)
        if route.subresource:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        matcher = object_matcher(query.get("labelSelector"), query.get("fieldSelector"))
        timeout: float | None = None
        if query.get("timeoutSeconds"):
            try:
                timeout = float(query["timeoutSeconds"])
            except ValueError:
                raise bad_request("timeoutSeconds must be a number") from None
        send_initial = query.get("sendInitialEvents") == "true"
        bookmarks = query.get("allowWatchBookmarks") == "true"
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def deliver(item: dict[str, Any]) -> None:
            # A write from a test thread can race the server's shutdown: drop, do not fail it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        initial, sub = self.store.subscribe(
            rt,
            route.namespace if rt.namespaced else None,
            route.name,
            matcher,
            query.get("resourceVersion"),
            deliver,
            send_initial=send_initial,
        )
        watch = _OpenWatch(rt.plural, rt.group, queue)
        with self._watches_lock:
            self._watches.add(watch)
        response = aiohttp.web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        try:
            await response.prepare(raw)
            # Logged once the stream is open: a test can wait for it as the "client is ready".
            self._record(status=200, **record)
            for item in initial:
                await response.write(json.dumps(item).encode() + b"\n")
            if send_initial and bookmarks:
                mark = {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": rt.kind,
                        "apiVersion": rt.api_version,
                        "metadata": {
                            "resourceVersion": str(self.store.resource_version),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    },
                }
                await response.write(json.dumps(mark).encode() + b"\n")
            deadline = None if timeout is None else loop.time() + timeout
            while True:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                if item is _END:
                    break
                if item is _GONE:
                    gone = ApiError(410, "Expired", "too old resource version").status()
                    await response.write(
                        json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n"
                    )
                    break
                await response.write(json.dumps(item).encode() + b"\n")
            with contextlib.suppress(ConnectionError, RuntimeError):
                await response.write_eof()
        except ConnectionError:
            pass
        finally:
            self.store.unsubscribe(sub)
            with self._watches_lock:
                self._watches.discard(watch)
        return response
