"""A small dict-in, dict-out layer over the official `kubernetes` client.

The operator renders children as plain manifests and compares them as plain data, so it talks to
the API with dicts for every kind, through the official client's `ApiClient` (its configuration,
authentication and TLS), without the typed models in between. Errors become `KubeApiError` with
the HTTP status and the Status object's reason; response bodies are never put in messages (a
Secret's data could be in them).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any, cast

from syft_operator import names
from syft_operator.errors import KubeApiError

logger = logging.getLogger(__name__)

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
#: Seconds for one API call (connect, read): the operator must never hang on a dead server.
REQUEST_TIMEOUT = (10.0, 30.0)


@dataclasses.dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        path = self.collection_path(namespace)
        if name is not None:
            path += f"/{name}"
            if subresource is not None:
                path += f"/{subresource}"
        return path

    def collection_path(self, namespace: str | None) -> str:
        """The objects of one namespace, or of all (None)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return (
            f"{base}/{self.plural}"
            if namespace is None
            else (f"{base}/namespaces/{namespace}/{self.plural}")
        )


CONFIG_MAP = Resource("", "v1", "configmaps", "ConfigMap")
SECRET = Resource("", "v1", "secrets", "Secret")
SERVICE_ACCOUNT = Resource("", "v1", "serviceaccounts", "ServiceAccount")
EVENT = Resource("", "v1", "events", "Event")
ROLE = Resource("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLE_BINDING = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")
DEPLOYMENT = Resource("apps", "v1", "deployments", "Deployment")
CRON_JOB = Resource("batch", "v1", "cronjobs", "CronJob")
SYFT_MONITOR = Resource(names.GROUP, names.VERSION, names.PLURAL, names.KIND)
SYFT_MONITOR_POOL = Resource(names.GROUP, names.VERSION, names.POOL_PLURAL, names.POOL_KIND)

BY_KIND: Mapping[str, Resource] = {
    r.kind: r
    for r in (
        CONFIG_MAP,
        SECRET,
        SERVICE_ACCOUNT,
        EVENT,
        ROLE,
        ROLE_BINDING,
        DEPLOYMENT,
        CRON_JOB,
        SYFT_MONITOR,
    )
}


def resource_of(obj: Mapping[str, Any]) -> Resource:
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in BY_KIND:
        raise ValueError(f"no API resource known for kind {kind!r}")
    return BY_KIND[kind]


class KubeApi:
    """Get, create, replace, patch and delete namespaced objects as dicts."""

    def __init__(self, api_client: Any) -> None:
        #: A `kubernetes.client.ApiClient`.
        self.api_client = api_client

    @classmethod
    def from_environment(cls) -> KubeApi:
        """In-cluster config inside a pod, else the kubeconfig ($KUBECONFIG or ~/.kube/config)."""
        from kubernetes import client, config  # noqa: PLC0415 - the operator extra is optional

        configuration = client.Configuration()
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            # Read at call time: the client computes its default path once, at import.
            path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, client_configuration=configuration
            )
        return cls(client.ApiClient(configuration))

    def close(self) -> None:
        self.api_client.close()

    def with_pool(self, size: int) -> KubeApi:
        """Another client with the same configuration and a pool of `size` connections."""
        from kubernetes import client  # noqa: PLC0415

        configuration = copy.deepcopy(self.api_client.configuration)
        configuration.connection_pool_maxsize = max(1, size)
        return KubeApi(client.ApiClient(configuration))

    # --- verbs ---------------------------------------------------------------------------------

    def get(
        self, resource: Resource, namespace: str, name: str, *, fresh: bool = False
    ) -> Obj | None:
        """The object, or None when it does not exist (`fresh`: no cache may answer; this
        class has none)."""
        try:
            return self._call("GET", resource.path(namespace, name))
        except KubeApiError as error:
            if error.status == 404:
                return None
            raise

    def assume_absent(self, resource: Resource, namespace: str, name: str) -> None:
        """A hint for a cache that `name` does not exist (this class has no cache)."""

    def list_objects(self, resource: Resource, namespace: str) -> list[Obj]:
        """Every object of `resource` in `namespace` (one page: the API server sends all)."""
        items = self._call("GET", resource.path(namespace)).get("items")
        return [item for item in items or [] if isinstance(item, dict)]

    def list_collection(
        self, resource: Resource, namespace: str | None, *, label_selector: str | None = None
    ) -> tuple[list[Obj], str]:
        """Every object of `resource` in `namespace` (None: all) matching the selector, and the
        list's resourceVersion (where a watch continues)."""
        query = {"labelSelector": label_selector} if label_selector else {}
        found = self._call("GET", resource.collection_path(namespace), query=query)
        items = [item for item in found.get("items") or [] if isinstance(item, dict)]
        return items, str((found.get("metadata") or {}).get("resourceVersion") or "")

    def watch_lines(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> Iterator[bytes]:
        """The lines of one watch stream (one JSON event each), until the server ends it."""

        query: dict[str, str] = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        path = resource.collection_path(namespace)
        what = f"WATCH {path}"
        # The server ends the stream after `timeout_seconds`; a silent one is dead after that.
        timeout = (REQUEST_TIMEOUT[0], timeout_seconds + 30.0)
        with _client_errors(what):
            response = self.api_client.call_api(
                *self._request("GET", path, query=query), _request_timeout=timeout
            )
            raw = response.response  # urllib3's, not yet read: the stream
            if not 200 <= response.status <= 299:
                raise _api_error(what, response.status, raw.read())
            try:
                yield from (line for line in raw if line.strip())
            finally:
                raw.release_conn()

    def create(self, resource: Resource, namespace: str, body: Obj) -> Obj:
        return self._call("POST", resource.path(namespace), body=body)

    def replace(self, resource: Resource, namespace: str, name: str, body: Obj) -> Obj:
        """PUT: the server refuses (409) when body's resourceVersion is stale."""
        return self._call("PUT", resource.path(namespace, name), body=body)

    def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        body: Obj | list[Obj],
        *,
        content_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> Obj:
        return self._call(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=body,
            content_type=content_type,
        )

    def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        """Delete with background propagation (dependents go too); False if already gone."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            self._call("DELETE", resource.path(namespace, name), body=options)
        except KubeApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    # --- transport -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Obj:

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        what = f"{method} {path}"
        with _client_errors(what):
            request = self._request(method, path, body=body, headers=headers, query=query)
            response = self.api_client.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
            response.read()
        if not 200 <= response.status <= 299:
            raise _api_error(what, response.status, response.data)
        if not response.data:
            return {}
        try:
            parsed = json.loads(response.data)
        except ValueError as error:
            raise KubeApiError(f"{what}: response is not JSON", status=response.status) from error
        if not isinstance(parsed, dict):
            raise KubeApiError(f"{what}: response is not a JSON object", status=response.status)
        return cast(Obj, parsed)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        """The official client's request tuple: URL, headers with the credentials, body."""
        return self.api_client.param_serialize(
            method=method,
            resource_path=path,
            header_params=headers or {"Accept": "application/json"},
            query_params=list((query or {}).items()),
            body=body,
            auth_settings=["BearerToken"],
        )


@contextlib.contextmanager
def _client_errors(what: str) -> Iterator[None]:
    """The client's failures as our KubeApiError: its ApiException with the server's answer,
    OS and decoding errors, and urllib3's (timeouts, refused connections), which share no base
    with OSError."""
    from kubernetes.client.exceptions import ApiException  # noqa: PLC0415

    try:
        yield
    except ApiException as error:
        raise _api_error(what, error.status, error.body) from error
    except (OSError, ValueError) as error:
        raise KubeApiError(f"{what}: {type(error).__name__}") from error
    except Exception as error:
        if type(error).__module__.startswith("urllib3"):
            raise KubeApiError(f"{what}: {type(error).__name__}") from error
        raise


def _api_error(what: str, status: int | None, body: object) -> KubeApiError:
    reason = None
    message = ""
    if isinstance(body, bytes | str) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") == "Status":
            reason = parsed.get("reason") if isinstance(parsed.get("reason"), str) else None
            # Status messages name fields and objects; cut them short anyway.
            raw = parsed.get("message")
            message = raw[:300] if isinstance(raw, str) else ""
    detail = f" ({reason}: {message})" if reason or message else ""
    return KubeApiError(f"{what} failed with HTTP {status}{detail}", status=status, reason=reason)
