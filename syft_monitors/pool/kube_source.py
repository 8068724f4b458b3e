"""Kubernetes mode: the owners of this shard, from the assignment file and the API.

The operator mounts the shard's ConfigMap at /etc/syft-pool/; kubelet refreshes the file in place
(about a minute after a change, without restarting the pod), so `owners()` reads it again each
time it is asked (every few seconds: a small local file) and parses it only when its bytes
changed. While the file is missing or invalid the pool keeps serving the owners it knew.

Each owner's parts are read through the API when it is set up, and again only when the
assignment shows a new resourceVersion of one of them (the operator writes them from its watch
cache), after Google refused a token, or on the pool's slow safety timer. They are read through
the API with the pool's service account, which the operator
allows exactly these resources (by name): its config ConfigMap (the `config.yaml` the operator
renders for a single-owner pod), its token Secrets (kept in memory, never written to disk), and
its state and heartbeat ConfigMaps (`ConfigMapStateManager`, as a single-owner pod uses them, so
an owner moves between a pool and its own pod keeping its cursor and exactly-once records).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from syft_monitors.config import MonitorConfig, parse_config, read_yaml
from syft_monitors.errors import ConfigError, CredentialsError, ServiceError
from syft_monitors.google.credentials import MAX_TOKEN_FILE_BYTES
from syft_monitors.pool.assignment import (
    AssignedMonitor,
    Assignment,
    PartVersions,
    TokenPurpose,
    parse_assignment,
)
from syft_monitors.pool.owner import OwnerParts
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.state.base import StateManager
from syft_monitors.state.configmap import (
    ConfigMapStateManager,
    build_api_client,
    service_account_namespace,
)

logger = logging.getLogger(__name__)

#: A config.yaml rendered by the operator is a few KiB; a ConfigMap holds at most 1 MiB.
MAX_CONFIG_BYTES = 1024 * 1024
#: Where pooled owners with the file sender write their emails (per owner below it).
OUTBOX_ROOT = Path("/tmp/syft-pool")  # noqa: S108 - the pod's own emptyDir, per owner below


class AssignmentSource:
    """The owners named by an assignment file, read from the API of `namespace`."""

    def __init__(
        self,
        assignment_path: Path,
        namespace: str | None = None,
        *,
        api_client: Any = None,
        kubeconfig: Path | str | None = None,
        request_timeout: float = 30.0,
        outbox_root: Path = OUTBOX_ROOT,
    ) -> None:
        self.path = Path(os.path.expanduser(str(assignment_path)))
        namespace = namespace or service_account_namespace()
        if not namespace:
            raise ConfigError("no namespace for the pool: pass --namespace")
        self.namespace = namespace
        self.api_client = api_client if api_client is not None else build_api_client(kubeconfig)
        self._core = k8s_client.CoreV1Api(self.api_client)
        self.request_timeout = request_timeout
        self.outbox_root = outbox_root
        self._raw: bytes | None = None
        self._assignment: Assignment | None = None
        self._entries: dict[str, AssignedMonitor] = {}
        self._lock = threading.Lock()

    # --- the assignment ---------------------------------------------------------------------

    def owners(self) -> dict[str, str]:
        raw = self._read_file()
        with self._lock:
            if raw != self._raw:
                assignment = parse_assignment(raw, source=safe_repr(str(self.path)))
                self._raw, self._assignment = raw, assignment
                self._entries = {monitor.name: monitor for monitor in assignment.monitors}
                logger.info(
                    "assignment of %s shard %d/%d: %d monitors",
                    assignment.pool,
                    assignment.shard,
                    assignment.shards,
                    len(assignment.monitors),
                )
            # An entry naming other ConfigMaps or Secrets makes the pool rebuild that owner; new
            # versions of the same ones are followed by the owner itself (`versions`).
            return {name: entry.location() for name, entry in self._entries.items()}

    def _read_file(self) -> bytes:
        shown = safe_repr(str(self.path))
        try:
            with self.path.open("rb") as handle:
                return handle.read(4 * 1024 * 1024)
        except FileNotFoundError as error:
            raise ConfigError(f"the assignment file {shown} is missing") from error
        except OSError as error:
            raise ConfigError(
                f"the assignment file {shown} cannot be read ({type(error).__name__})"
            ) from error

    def entry(self, name: str) -> AssignedMonitor:
        with self._lock:
            found = self._entries.get(name)
        if found is None:
            raise ConfigError(f"{safe_repr(name)} is not in the assignment")
        return found

    # --- an owner's parts -------------------------------------------------------------------

    def parts(self, name: str) -> OwnerParts:
        entry = self.entry(name)
        config = self._config(entry)
        outbox = self.outbox_root / name / "outbox"
        return OwnerParts(config=config, tokens=self._tokens(entry), outbox=outbox)

    def tokens(
        self, name: str, purposes: Collection[TokenPurpose] | None = None
    ) -> dict[TokenPurpose, bytes]:
        return self._tokens(self.entry(name), purposes)

    def config(self, name: str) -> MonitorConfig:
        return self._config(self.entry(name))

    def versions(self, name: str) -> PartVersions | None:
        """The versions of the owner's parts the operator last wrote into the assignment."""
        return self.entry(name).versions

    def state(self, name: str, config: MonitorConfig) -> StateManager:
        settings = config.state_configmap
        if config.state_backend != "configmap" or settings is None:
            raise ConfigError(
                f"{safe_repr(name)}: a pooled monitor keeps its state in a ConfigMap"
                " (state_backend: configmap)"
            )
        return ConfigMapStateManager(
            settings.name,
            self.namespace,
            api_client=self.api_client,
            heartbeat_name=settings.heartbeat,
            request_timeout=self.request_timeout,
        )

    def _config(self, entry: AssignedMonitor) -> MonitorConfig:
        shown = f"ConfigMap {safe_repr(self.namespace + '/' + entry.config_map)}"
        found = self._get("configmap", entry.config_map)
        raw = (found.get("data") or {}).get(entry.config_key)
        if not isinstance(raw, str):
            raise ConfigError(f"{shown} has no key {safe_repr(entry.config_key)}")
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{shown} key {entry.config_key} is too large")
        source = f"{shown} key {entry.config_key}"
        return parse_config(read_yaml(raw, source=source), source=source)

    def _tokens(
        self, entry: AssignedMonitor, purposes: Collection[TokenPurpose] | None = None
    ) -> dict[TokenPurpose, bytes]:
        tokens: dict[TokenPurpose, bytes] = {}
        secrets: dict[str, dict[str, Any]] = {}
        for purpose, ref in entry.tokens.refs().items():
            if purposes is not None and purpose not in purposes:
                continue
            if ref.secret not in secrets:
                secrets[ref.secret] = self._get("secret", ref.secret)
            what = f"the {purpose} token of {safe_repr(entry.name)} (Secret {ref.secret})"
            encoded = (secrets[ref.secret].get("data") or {}).get(ref.key)
            if not isinstance(encoded, str):
                raise CredentialsError(f"{what} has no key {safe_repr(ref.key)}")
            try:
                value = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as error:
                raise CredentialsError(f"{what} is not valid base64") from error
            if len(value) > MAX_TOKEN_FILE_BYTES:
                raise CredentialsError(f"{what} is larger than {MAX_TOKEN_FILE_BYTES} bytes")
            tokens[purpose] = value
        return tokens

    def _get(self, kind: str, name: str) -> dict[str, Any]:
        """A ConfigMap or Secret of the namespace as a plain dict; our errors otherwise."""
        shown = f"{kind} {safe_repr(self.namespace + '/' + name)}"
        read = (
            self._core.read_namespaced_config_map
            if kind == "configmap"
            else self._core.read_namespaced_secret
        )
        try:
            found: Any = read(name, self.namespace, _request_timeout=self.request_timeout)
        except ApiException as error:
            if error.status in (401, 403):
                raise CredentialsError(
                    f"the pool may not read {shown} (is it assigned to this shard?)"
                ) from error
            if error.status == 404:
                raise ConfigError(f"{shown} does not exist") from error
            raise ServiceError(
                f"reading {shown} failed: HTTP {error.status}",
                status=error.status,
                retryable=True,
            ) from error
        except (Urllib3Error, OSError) as error:
            raise ServiceError(
                f"reading {shown} failed: {type(error).__name__}", retryable=True
            ) from error
        # Only `data` is used: a ConfigMap's strings, a Secret's base64 strings (not decoded by
        # the client; decoded once in `_tokens`).
        data = getattr(found, "data", None)
        return {"data": dict(data) if isinstance(data, dict) else {}}
