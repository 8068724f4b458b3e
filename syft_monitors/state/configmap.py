"""Monitor state in a Kubernetes ConfigMap, for monitors running as pods.

The document is the same JSON the file backend writes (`StateDocument.to_json_bytes`), stored
under `data["state.json"]`. Small keys the operator mirrors into the SyftMonitor status without
parsing the document (named in `kube_keys`, which the operator imports too; in the heartbeat
ConfigMap when there is one, else next to the document): `lastPollTime` (RFC 3339, UTC),
`notificationsSent` (an integer as a string) and `lastError` (empty once a later poll succeeded;
at most 500 characters; token-like substrings redacted).

- Concurrency: every write is a replace (PUT) carrying the resourceVersion the document was read
  at; the API server refuses it with 409 if anyone wrote in between, which becomes
  `StateConflictError`, and `OptimisticStateManager.update` re-reads and retries. Labels,
  annotations, ownerReferences and other data keys of the ConfigMap are kept as they are.
- Size: a ConfigMap holds at most 1 MiB. Above `compact_above` (512 KiB) the document is compacted
  (`compaction.compact_document` with that as `max_bytes`: oldest `seen`/`notified` entries go
  first) before it is written; above `refuse_above` (900 KiB) the write is refused with
  `StateError`, leaving the stored state as it was.
- Reads: a read within `max_staleness` seconds of the last read or write of this process reuses
  that copy (a poll reads state many times); writes never rely on it being current, because a
  stale base only costs a 409 and a retry with a fresh read.
- Heartbeat: with `heartbeat_name`, `record_poll` writes nothing into the state document: it
  merge-patches its service's own key (`kube_keys.service_heartbeat_key`: the status keys above
  as that service sees them, and its counters) and this process's holder-lease renewal
  (`holder.<id>`) into that ConfigMap, only the keys that changed, so an idle monitor never
  rewrites its state (up to 512 KiB, a full-object write into etcd and a large watch event each
  minute), and the notify and approve services of one pod never overwrite each other's values
  (a key each; the operator combines them). It writes at the poll that saw news (a send, an
  error that started, changed or ended, counted events), a lease renewal every
  `HOLDER_RENEWAL_PERIOD` s while it holds send intents, and otherwise once per
  `kube_keys.HEARTBEAT_PERIOD` (600 s): an idle hour is 6 small writes per service, and
  `lastPollTime` of a healthy idle monitor is up to that period plus one poll interval old. The
  state ConfigMap is then written only when the state changes. The keys of older versions (the
  flat status keys, all services' counters in `heartbeat.json`) are read once, for counters a
  service has no key for yet, and removed at the first write once nothing still needs them. If
  the heartbeat ConfigMap is missing or not ours to patch (an operator older than it), the
  heartbeat goes into the state document as before.
- Existence: the operator creates the ConfigMap and the pod's Role may only get/update/patch it,
  so a missing ConfigMap is an error unless `create_missing=True`.
- Credentials: an explicit `api_client`; else a kubeconfig named by the `kubeconfig` argument or
  $KUBECONFIG; else, in a pod, its service account; else ~/.kube/config. The namespace: the
  argument, else the kubeconfig context's (when a kubeconfig is used), else the pod's
  service-account namespace file.
- Errors: 401/403 -> `CredentialsError`; 5xx, 429 and transport failures -> `ServiceError`
  (retryable); a missing, corrupt or oversized ConfigMap -> `StateError`. The client's exception
  is always the `__cause__`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError
from urllib3.exceptions import HTTPError as Urllib3Error

from syft_monitors.errors import (
    ConfigError,
    CredentialsError,
    ServiceError,
    StateConflictError,
    StateError,
)
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.state.base import LEASE_TTL, OptimisticStateManager, poll_advance
from syft_monitors.state.compaction import CompactionPolicy, compact_document
from syft_monitors.state.holders import gone_from_this_host, holder_id
from syft_monitors.state.kube_keys import (
    DATA_KEY,
    DEFAULT_SERVICE,
    HEARTBEAT_KEY,
    HEARTBEAT_PERIOD,
    HOLDER_PREFIX,
    LAST_ERROR_KEY,
    LAST_POLL_KEY,
    MAX_ERROR_LENGTH,
    NOTIFICATIONS_SENT_KEY,
    SERVICE_COUNTERS,
    STATUS_KEYS,
    heartbeat_service,
    service_heartbeat_key,
)
from syft_monitors.state.model import (
    SCHEMA_VERSION,
    Heartbeat,
    StateDocument,
    parse_timestamp,
    to_timestamp,
    utc_now,
)

logger = logging.getLogger(__name__)

#: While it holds send intents, a process renews its lease in the heartbeat this often (well
#: within `LEASE_TTL`, so a poll or two may be late).
HOLDER_RENEWAL_PERIOD = LEASE_TTL / 3
DEFAULT_COMPACT_ABOVE = 512 * 1024
DEFAULT_REFUSE_ABOVE = 900 * 1024
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_RBAC_HINT = (
    "the pod's service account needs get/update/patch on its state ConfigMap"
    " (the syft operator's Role grants it); outside a cluster, check the kubeconfig"
)

# Error strings come from our own code, which never puts secrets in them; this is the belt to
# that brace, because the operator copies lastError into a resource status anyone may read.
_SECRET_PATTERNS = (
    re.compile(r"ya29\.[0-9A-Za-z_\-.]+"),  # Google access tokens
    re.compile(r"1//[0-9A-Za-z_\-]{20,}"),  # Google refresh tokens
    re.compile(r"(?i)bearer\s+[0-9A-Za-z_\-.~+/=]+"),
    re.compile(r"eyJ[0-9A-Za-z_\-]+\.[0-9A-Za-z_\-]+\.[0-9A-Za-z_\-]*"),  # JWTs (SA tokens)
    re.compile(
        r"(?i)(\"?(?:access_token|refresh_token|client_secret|password|token)\"?\s*[:=]\s*)"
        r"(?:\"[^\"]*\"|[^\s\",}]+)"
    ),
)


def redact(text: str) -> str:
    """`text` with token-looking substrings replaced by `[redacted]`."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
        else:
            text = pattern.sub("[redacted]", text)
    return text


def _rfc3339(stamp: str | None) -> str:
    if not stamp:
        return ""
    return parse_timestamp(stamp).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def heartbeat_keys(doc: StateDocument) -> dict[str, str]:
    """The small ConfigMap keys the operator mirrors into the resource status."""
    return beat_keys(doc.heartbeat)


def beat_keys(beat: Heartbeat) -> dict[str, str]:
    """`heartbeat_keys` of one heartbeat."""
    error = ""
    if beat.last_error and beat.last_error_at:
        current = beat.last_success_at is None or parse_timestamp(
            beat.last_error_at
        ) >= parse_timestamp(beat.last_success_at)
        if current:
            error = redact(beat.last_error)
            if len(error) > MAX_ERROR_LENGTH:
                error = error[: MAX_ERROR_LENGTH - 1] + "…"
    return {
        LAST_POLL_KEY: _rfc3339(beat.last_poll_at),
        NOTIFICATIONS_SENT_KEY: str(beat.notifications_sent),
        LAST_ERROR_KEY: error,
    }


def service_account_namespace(path: Path = SERVICE_ACCOUNT_NAMESPACE) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and SERVICE_ACCOUNT_NAMESPACE.exists()


def _kubeconfig_path(kubeconfig: Path | str | None) -> str | None:
    # The kubernetes package reads $KUBECONFIG once, at import; read it at call time instead.
    if kubeconfig is not None:
        return str(Path(os.path.expanduser(str(kubeconfig))))
    return os.environ.get("KUBECONFIG") or None


def uses_kubeconfig(kubeconfig: Path | str | None) -> bool:
    """A kubeconfig named explicitly or by $KUBECONFIG wins; in a pod without one, the service
    account is used (the precedence of kubectl and client-go)."""
    return kubeconfig is not None or bool(os.environ.get("KUBECONFIG")) or not _in_cluster()


def build_api_client(kubeconfig: Path | str | None = None) -> Any:
    """An ApiClient for the kubeconfig or, in a pod without one, the pod's service account."""
    try:
        if not uses_kubeconfig(kubeconfig):
            configuration = k8s_client.Configuration()
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
            return k8s_client.ApiClient(configuration)
        return k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=_kubeconfig_path(kubeconfig)
        )
    except (ConfigException, OSError, ValueError, TypeError) as e:
        error = CredentialsError(
            "no usable Kubernetes credentials (kubeconfig or the pod's service account)"
        )
        error.hint = "set KUBECONFIG or pass the kubeconfig path"
        raise error from e


def _kubeconfig_namespace(kubeconfig: Path | str | None) -> str | None:
    try:
        _, current = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=_kubeconfig_path(kubeconfig)
        )
    except (ConfigException, OSError, ValueError, TypeError):
        return None
    namespace = ((current or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


class ConfigMapStateManager(OptimisticStateManager):
    """State in ConfigMap `name` (see the module docstring)."""

    def __init__(
        self,
        name: str,
        namespace: str | None = None,
        *,
        api_client: Any = None,
        kubeconfig: Path | str | None = None,
        create_missing: bool = False,
        policy: CompactionPolicy | None = None,
        compact_above: int = DEFAULT_COMPACT_ABOVE,
        refuse_above: int = DEFAULT_REFUSE_ABOVE,
        max_staleness: float = 1.0,
        request_timeout: float = 30.0,
        heartbeat_name: str | None = None,
    ) -> None:
        if not 0 < compact_above <= refuse_above:
            raise ValueError("need 0 < compact_above <= refuse_above")
        super().__init__(policy=policy)
        self.name = name
        if namespace is None:
            if api_client is None and uses_kubeconfig(kubeconfig):
                namespace = _kubeconfig_namespace(kubeconfig) or service_account_namespace()
            else:
                namespace = service_account_namespace()
        if not namespace:
            raise ConfigError(
                f"no namespace for state ConfigMap {safe_repr(name)}: set state_configmap.namespace"
            )
        self.namespace = namespace
        self.create_missing = create_missing
        self.compact_above = compact_above
        self.refuse_above = refuse_above
        self.max_staleness = max_staleness
        self.request_timeout = request_timeout
        self._api_client = api_client if api_client is not None else build_api_client(kubeconfig)
        self._core = k8s_client.CoreV1Api(self._api_client)
        self._lock = threading.Lock()
        # (document, resourceVersion or None, the ConfigMap as last seen, when it was fetched)
        self._cache: tuple[StateDocument, str | None, dict[str, Any] | None, float] | None = None
        self.heartbeat_name = heartbeat_name
        #: The heartbeats as this process last wrote them (None: not loaded yet): all monitors
        #: together under None, each monitor under its name.
        self._beats: dict[str | None, Heartbeat] | None = None
        #: The heartbeat keys as this process last wrote them; per service, the status keys and
        #: the poll time of its last write; the poll time of the last lease renewal (epoch s).
        self._written: dict[str, str | None] = {}
        self._written_status: dict[str, dict[str, str]] = {}
        self._written_at: dict[str, float] = {}
        self._renewed_at = float("-inf")
        #: Keys of older versions found at load, removed by this process's first write.
        self._legacy: _Legacy | None = None
        self._beat_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ConfigMapStateManager({self.namespace}/{self.name})"

    @property
    def _where(self) -> str:
        return safe_repr(f"{self.namespace}/{self.name}", limit=200)

    # --- OptimisticStateManager primitives --------------------------------------------------

    def _read(self) -> tuple[StateDocument, str | None]:
        with self._lock:
            cached = self._cache
            if cached is not None and time.monotonic() - cached[3] < self.max_staleness:
                return cached[0], cached[1]
        raw = self._fetch()
        if raw is None:
            doc, version = StateDocument(), None
        else:
            version = raw["metadata"]["resourceVersion"]
            if cached is not None and cached[1] == version:
                doc = cached[0]
            else:
                doc = self._parse((raw.get("data") or {}).get(DATA_KEY))
        with self._lock:
            self._cache = (doc, version, raw, time.monotonic())
        return doc, version

    def _write(self, doc: StateDocument, version: str | None) -> None:
        payload = self._sized_payload(doc)
        data = {DATA_KEY: payload.decode("utf-8")}
        if self.heartbeat_name is None:  # else they live in the heartbeat ConfigMap
            data.update(heartbeat_keys(doc))
        try:
            stored = self._create(data) if version is None else self._replace(version, data)
        except StateConflictError:
            # The retry must read the ConfigMap again, not the copy that lost.
            self.invalidate()
            raise
        with self._lock:
            self._cache = (doc, stored["metadata"]["resourceVersion"], stored, time.monotonic())

    def size_bytes(self) -> int:
        """The stored payload's length: the monitor asks every poll, and serializing a document
        of several hundred KiB each time is wasted work on the hot path."""
        self.view()  # inside a poll, the read the poll made
        with self._lock:
            cached = self._cache
        raw = cached[2] if cached is not None else None
        payload = ((raw or {}).get("data") or {}).get(DATA_KEY) or ""
        return len(str(payload).encode("utf-8"))

    # --- heartbeat --------------------------------------------------------------------------

    def record_poll(
        self,
        success: bool,
        error: str | None = None,
        now: dt.datetime | None = None,
        *,
        events: int = 0,
        monitor: str | None = None,
    ) -> Heartbeat:
        if self.heartbeat_name is None:
            return super().record_poll(success, error, now, events=events, monitor=monitor)
        advance = poll_advance(success, error, now, events=events)
        service = monitor or DEFAULT_SERVICE
        with self._beat_lock:
            beats = self._load_beats()
            if beats is None:  # no heartbeat ConfigMap of ours: the old way
                return super().record_poll(success, error, now, events=events, monitor=monitor)
            doc = self.view()
            updated = dict(beats)
            sent = doc.heartbeat.notifications_sent
            updated[None] = advance(beats.get(None, Heartbeat())).model_copy(
                update={"notifications_sent": sent}
            )
            own = advance(beats.get(service, Heartbeat()))
            updated[service] = own
            # The status as this service sees it: its own poll and error, the shared sends.
            status = {**beat_keys(own), NOTIFICATIONS_SENT_KEY: str(sent)}
            data: dict[str, str | None] = {
                service_heartbeat_key(service): _service_json(status, own)
            }
            when = parse_timestamp(str(own.last_poll_at)).timestamp()
            if _holds_intents(doc) and when - self._renewed_at >= HOLDER_RENEWAL_PERIOD:
                data[_holder_key(holder_id())] = to_timestamp(utc_now())
            if self._beat_due(service, status, data, when, events=events):
                changed = {k: v for k, v in data.items() if self._written.get(k) != v}
                legacy, self._legacy = self._legacy, None
                if legacy is not None:
                    changed.update(dict.fromkeys(legacy.removable(service)))
                stored = self._patch_beat({"data": changed})
                if legacy is not None:
                    self._drop_shared_counters(legacy, stored)
                self._written.update(changed)
                self._written_status[service] = status
                self._written_at[service] = when
                if _holder_key(holder_id()) in changed:
                    self._renewed_at = when
            self._beats = updated
            return updated[None]

    def _beat_due(
        self,
        service: str,
        status: dict[str, str],
        data: dict[str, str | None],
        when: float,
        *,
        events: int,
    ) -> bool:
        """Write now? Yes for the service's first poll in this process, news the operator shows
        (a send, an error that started, changed or ended), events counted, a holder's lease
        renewal, and once per `HEARTBEAT_PERIOD` s; an idle poll in between only moves the poll
        time."""
        written_at = self._written_at.get(service)
        if written_at is None or when - written_at >= HEARTBEAT_PERIOD:
            return True
        before = self._written_status.get(service, {})
        holder = _holder_key(holder_id())
        return (
            events > 0
            or any(before.get(k) != status[k] for k in (NOTIFICATIONS_SENT_KEY, LAST_ERROR_KEY))
            or (holder in data and self._written.get(holder) != data[holder])
        )

    def _drop_shared_counters(self, legacy: _Legacy, stored: dict[str, Any]) -> None:
        """Remove the shared counters of an older version once every service they list has
        written its own key (the last service to write after an upgrade does it)."""
        data = stored.get("data") or {}
        if HEARTBEAT_KEY not in data:
            return
        present = {s for k in data if (s := heartbeat_service(str(k))) is not None}
        if legacy.waiting <= present:
            self._patch_beat({"data": {HEARTBEAT_KEY: None}})

    def heartbeat(self, monitor: str | None = None) -> Heartbeat:
        doc_beat = super().heartbeat(monitor)
        if self.heartbeat_name is None:
            return doc_beat
        with self._beat_lock:
            beats = self._load_beats()
        if beats is None or monitor not in beats:
            return doc_beat
        # Sends are counted in the document (with the send); the rest lives in the heartbeat.
        return beats[monitor].model_copy(update={"notifications_sent": doc_beat.notifications_sent})

    def _holder_alive(self, holder: str, doc: StateDocument) -> bool:
        if super()._holder_alive(holder, doc):
            return True
        if self.heartbeat_name is None or gone_from_this_host(holder):
            return False
        # A holder that renews only through its heartbeat (polls while holding an intent).
        raw = self._read_beat_map()
        renewed = ((raw or {}).get("data") or {}).get(_holder_key(holder))
        if not renewed:
            return False
        try:
            age = utc_now().timestamp() - parse_timestamp(str(renewed)).timestamp()
        except ValueError:
            return False
        return age < LEASE_TTL

    def _load_beats(self) -> dict[str | None, Heartbeat] | None:
        """Called under `_beat_lock`: the heartbeats, read once per process."""
        if self._beats is not None:
            return self._beats
        raw = self._read_beat_map()
        if raw is None:
            return None
        data = raw.get("data") or {}
        beats: dict[str | None, Heartbeat] = {}
        for key, value in data.items():
            service = heartbeat_service(str(key))
            if service is not None:
                beat = _parse_service_beat(value)
                if beat is not None:
                    beats[service] = beat
        # An upgrade: services without a key of their own yet take their counters from the
        # shared key older versions wrote.
        legacy_beats = _parse_beats(data.get(HEARTBEAT_KEY))
        for name, beat in legacy_beats.items():
            if name is not None:
                beats.setdefault(name, beat)
        together = _combined([b for name, b in beats.items() if name is not None])
        beats[None] = together or legacy_beats.get(None) or Heartbeat()
        stale = [k for k in (*STATUS_KEYS, HEARTBEAT_KEY) if k in data]
        if stale:
            self._legacy = _Legacy(
                keys=tuple(stale),
                waiting=frozenset(n for n in legacy_beats if n is not None),
                migrated=frozenset(s for k in data if (s := heartbeat_service(str(k)))),
            )
        # Renewals of holders long gone are dropped (keys must not pile up across restarts).
        expired: dict[str, str | None] = {}
        for key, value in data.items():
            if key.startswith(HOLDER_PREFIX) and not _fresh_stamp(value):
                expired[key] = None
        if expired:
            self._patch_beat({"data": expired})
        self._beats = beats
        return beats

    def _read_beat_map(self) -> dict[str, Any] | None:
        """The heartbeat ConfigMap, or None (logged once) when it is missing or not ours."""
        name = self.heartbeat_name
        assert name is not None
        try:
            return self._call(
                "read",
                lambda: self._core.read_namespaced_config_map(
                    name, self.namespace, _request_timeout=self.request_timeout
                ),
            )
        except (_NotFoundError, CredentialsError) as e:
            logger.warning(
                "heartbeat ConfigMap %s unusable (%s): the heartbeat goes into the state",
                safe_repr(name),
                type(e).__name__,
            )
            self.heartbeat_name = None
            return None

    def _patch_beat(self, body: dict[str, Any]) -> dict[str, Any]:
        name = self.heartbeat_name
        assert name is not None
        return self._call(
            "patch",
            lambda: self._core.patch_namespaced_config_map(
                name, self.namespace, body, _request_timeout=self.request_timeout
            ),
        )

    # --- helpers ----------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Forget the cached copy: the next read goes to the API server."""
        with self._lock:
            self._cache = None

    def _sized_payload(self, doc: StateDocument) -> bytes:
        payload = doc.to_json_bytes()
        if len(payload) > self.compact_above:
            rules = self.policy
            target = min(rules.max_bytes or self.compact_above, self.compact_above)
            policy = CompactionPolicy(
                retention=rules.retention, max_entries=rules.max_entries, max_bytes=target
            )
            report = compact_document(doc, policy)
            logger.info(
                "state for ConfigMap %s was %d bytes; compacted to %d",
                self._where,
                len(payload),
                report.size_bytes,
            )
            payload = doc.to_json_bytes()
        if len(payload) > self.refuse_above:
            raise StateError(
                f"state for ConfigMap {self._where} is {len(payload)} bytes after compaction,"
                f" over the {self.refuse_above}-byte limit kept below the 1 MiB ConfigMap size"
            )
        return payload

    def _replace(self, version: str, data: dict[str, str]) -> dict[str, Any]:
        base = self._base_object(version)
        body = dict(base)
        body["metadata"] = {**base["metadata"], "resourceVersion": version}
        body["data"] = {**(base.get("data") or {}), **data}
        model = k8s_client.V1ConfigMap.from_dict(body)
        assert model is not None  # from_dict returns None only for None
        return self._call(
            "replace",
            lambda: self._core.replace_namespaced_config_map(
                self.name, self.namespace, model, _request_timeout=self.request_timeout
            ),
        )

    def _base_object(self, version: str) -> dict[str, Any]:
        with self._lock:
            cached = self._cache
        if cached is not None and cached[1] == version and cached[2] is not None:
            return cached[2]
        raw = self._fetch()
        if raw is None or raw["metadata"]["resourceVersion"] != version:
            raise StateConflictError(f"state ConfigMap {self._where} changed since it was read")
        return raw

    def _create(self, data: dict[str, str]) -> dict[str, Any]:
        body = k8s_client.V1ConfigMap(
            api_version="v1",
            kind="ConfigMap",
            metadata=k8s_client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            data=data,
        )
        return self._call(
            "create",
            lambda: self._core.create_namespaced_config_map(
                self.namespace, body, _request_timeout=self.request_timeout
            ),
        )

    def _fetch(self) -> dict[str, Any] | None:
        """The ConfigMap as a plain dict, or None when it does not exist (and may be created)."""
        try:
            return self._call(
                "read",
                lambda: self._core.read_namespaced_config_map(
                    self.name, self.namespace, _request_timeout=self.request_timeout
                ),
            )
        except _NotFoundError as e:
            if self.create_missing:
                return None
            raise StateError(
                f"state ConfigMap {self._where} does not exist; the syft operator creates it"
                " with the SyftMonitor (or pass create_missing=True outside the operator)"
            ) from e.__cause__

    def _call(self, action: str, request: Any) -> dict[str, Any]:
        try:
            result = request()
        except ApiException as e:
            raise self._translate(action, e) from e
        except Urllib3Error as e:
            raise ServiceError(
                f"cannot {action} state ConfigMap {self._where}: {type(e).__name__}",
                retryable=True,
            ) from e
        raw: dict[str, Any] = self._api_client.sanitize_for_serialization(result)
        return raw

    def _translate(self, action: str, e: ApiException) -> Exception:
        status = e.status
        where = self._where
        if status == 409:
            return StateConflictError(f"state ConfigMap {where} changed since it was read")
        if status == 404:
            error = _NotFoundError()
            error.__cause__ = e
            if action == "read":
                return error
            return StateError(f"state ConfigMap {where} disappeared during {action}")
        if status in (401, 403):
            what = "unauthorized" if status == 401 else "forbidden"
            cred = CredentialsError(
                f"Kubernetes API {what}: cannot {action} state ConfigMap {where}"
            )
            cred.hint = _RBAC_HINT
            return cred
        if status == 422:
            return StateError(f"the API server refused the state ConfigMap {where} (422 Invalid)")
        if status in (429, 500, 502, 503, 504) or status is None or status == 0:
            return ServiceError(
                f"Kubernetes API error {status} on {action} of state ConfigMap {where}",
                status=status or None,
                retryable=True,
            )
        return ServiceError(
            f"Kubernetes API error {status} on {action} of state ConfigMap {where}", status=status
        )

    def _parse(self, raw: str | None) -> StateDocument:
        if raw is None or raw == "":
            return StateDocument()
        try:
            return StateDocument.model_validate_json(raw)
        except ValidationError as e:
            version = _schema_version(raw)
            if version is not None and version > SCHEMA_VERSION:
                raise StateError(
                    f"state in ConfigMap {self._where} was written by a newer version"
                    f" (schema {version}; this version reads up to {SCHEMA_VERSION})"
                ) from None
            raise StateError(
                f"state in ConfigMap {self._where} is not a valid state document"
                f" ({e.error_count()} errors)"
            ) from None


def _holder_key(holder: str) -> str:
    """A ConfigMap key for a holder id (`host:pid:token`; keys allow `[-._a-zA-Z0-9]`)."""
    return HOLDER_PREFIX + re.sub(r"[^-._a-zA-Z0-9]", "_", holder)[:200]


def _fresh_stamp(value: object) -> bool:
    try:
        stamp = parse_timestamp(str(value))
    except ValueError:
        return False
    return utc_now().timestamp() - stamp.timestamp() < LEASE_TTL


def _holds_intents(doc: StateDocument) -> bool:
    """This process owns a send intent: others must see its lease renewed to leave it alone."""
    me = holder_id()
    return me in doc.holders and any(i.owner == me for i in doc.intents.values())


def _service_json(status: dict[str, str], beat: Heartbeat) -> str:
    """One service's heartbeat value: the status keys for the operator, its counters for itself.
    Counters at their defaults (no error, nothing counted) are left out: they read back the same;
    the sends are counted in the state document, and the error is kept redacted and clipped."""
    counters = beat.model_dump(mode="json", exclude_defaults=True, exclude={"notifications_sent"})
    if beat.last_error:
        counters["last_error"] = redact(beat.last_error)[:MAX_ERROR_LENGTH]
    return json.dumps({**status, SERVICE_COUNTERS: counters}, sort_keys=True, separators=(",", ":"))


def _parse_service_beat(raw: object) -> Heartbeat | None:
    """A service's counters from its heartbeat value; None (that service starts afresh) when
    malformed: they are counters, not state."""
    try:
        counters = json.loads(str(raw)).get(SERVICE_COUNTERS) or {}
        return Heartbeat.model_validate(counters)
    except (ValueError, TypeError, AttributeError, ValidationError):
        logger.warning("heartbeat ConfigMap holds an invalid service heartbeat; starting afresh")
        return None


def _latest(stamps: list[str | None]) -> str | None:
    known = [s for s in stamps if s]
    return max(known, key=parse_timestamp) if known else None


def _combined(beats: list[Heartbeat]) -> Heartbeat | None:
    """All services together, as a process that has not polled yet reports them: the newest
    poll, success and error, and the events of the newest day."""
    if not beats:
        return None
    error_at = _latest([b.last_error_at for b in beats])
    day = max((b.events_day for b in beats if b.events_day), default=None)
    return Heartbeat(
        last_poll_at=_latest([b.last_poll_at for b in beats]),
        last_success_at=_latest([b.last_success_at for b in beats]),
        last_error=next(
            (b.last_error for b in beats if error_at and b.last_error_at == error_at), None
        ),
        last_error_at=error_at,
        events_today=sum(b.events_today for b in beats if day and b.events_day == day),
        events_day=day,
    )


@dataclasses.dataclass(frozen=True)
class _Legacy:
    """Keys an older version left in the heartbeat ConfigMap."""

    keys: tuple[str, ...]
    #: The services whose counters the shared `HEARTBEAT_KEY` holds.
    waiting: frozenset[str]
    #: The services that had a key of their own at load.
    migrated: frozenset[str]

    def removable(self, service: str) -> list[str]:
        """What `service`'s first write removes: the flat status keys (a service key replaces
        them for the operator), and the shared counters once no other service may still need
        them (each service reads them once, before its first write)."""
        still_needed = self.waiting - self.migrated - {service}
        return [k for k in self.keys if k != HEARTBEAT_KEY or not still_needed]


def _parse_beats(raw: str | None) -> dict[str | None, Heartbeat]:
    """The heartbeats older versions stored under `HEARTBEAT_KEY`; anything malformed starts
    afresh (they are counters, not state)."""
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
        beats: dict[str | None, Heartbeat] = {None: Heartbeat.model_validate(doc["all"])}
        for key, value in (doc.get("monitors") or {}).items():
            beats[str(key)] = Heartbeat.model_validate(value)
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError):
        logger.warning("heartbeat ConfigMap holds no valid heartbeat; starting afresh")
        return {}
    return beats


class _NotFoundError(Exception):
    """Internal: the ConfigMap does not exist (the caller decides whether that is an error)."""


def _schema_version(raw: str) -> int | None:
    match = re.search(r'"schema_version"\s*:\s*(\d+)', raw[:200])
    return int(match.group(1)) if match else None
