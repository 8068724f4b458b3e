"""One Drive and one Gmail client shared by every data owner of a pool process.

A googleapiclient service object is mostly its discovery document turned into Python methods
(a few MiB for Drive); building one per owner would cost a pool of 1,000 owners gigabytes. Only
the HTTP object it carries is not shareable: it holds the connection and the owner's token. So
the pool builds each service once, and every request an owner makes gets, just before it goes
out, an `AuthorizedHttp` with that owner's credentials around the calling thread's own
`httplib2.Http` (`HttpRequest.execute` uses `request.http`). Connections are then shared per
worker thread, not held per owner, and an owner's token never leaves its requests.

`OwnerClient` is what an owner's `DriveApi` (as its service) and `GmailSender` (as its injected
service) see: it behaves like the service object for the calls they make (`service.changes()`,
`service.users().messages()`, then a method) and returns requests bound to the owner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials as BaseCredentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import HttpRequest

from syft_monitors.google.clients import DEFAULT_TIMEOUT, resolve_api_root
from syft_monitors.google.discovery import (
    ApiName,
    load_discovery_document,
    normalize_api_root,
    with_api_root,
)

__all__ = ["CredentialsSource", "OwnerClient", "SharedServices"]

#: Returns the owner's current credentials (it may re-read them, e.g. after an auth error).
CredentialsSource = Callable[[], BaseCredentials]


class _Unusable(httplib2.Http):  # type: ignore[misc]
    """The HTTP object of the shared services: every request must be bound to an owner first."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a shared service request was sent without an owner's credentials")


class SharedServices:
    """The Drive v3 and Gmail v1 services of a pool, and one `httplib2.Http` per thread."""

    def __init__(self, *, api_root: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.api_root = resolve_api_root(api_root)
        self.timeout = timeout
        self._services = {api: self._build(api) for api in ("drive", "gmail")}
        # Resource objects (`service.files()`, `users().messages()`) build all their methods when
        # made: each path is made once for the whole pool.
        self._resources: dict[tuple[str, ...], Any] = {}
        # Re-entrant: making a nested resource makes its parent first, under the same lock.
        self._lock = threading.RLock()
        self._local = threading.local()

    @property
    def token_uri(self) -> str | None:
        """Where the owners' credentials refresh (the sandbox's, or Google's when None)."""
        return None if self.api_root is None else normalize_api_root(self.api_root) + "token"

    def _build(self, api: ApiName) -> Any:
        document = load_discovery_document(api)
        if self.api_root is not None:
            document = with_api_root(document, normalize_api_root(self.api_root))
        return build_from_document(document, http=_Unusable())

    def resource(self, api: ApiName, path: tuple[str, ...]) -> Any:
        """The shared resource at `path` under `api` (("changes",), ("users", "messages"))."""
        key = (api, *path)
        found = self._resources.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._resources.get(key)
            if found is None:
                parent = self._services[api] if not path else self.resource(api, path[:-1])
                found = getattr(parent, path[-1])() if path else parent
                self._resources[key] = found
        return found

    def is_resource(self, api: ApiName, path: tuple[str, ...], name: str) -> bool:
        """Whether `name` under `path` is a nested resource (`users().messages()`), not a method."""
        description = getattr(self.resource(api, path), "_resourceDesc", {})
        return name in (description.get("resources") or {})

    def http(self) -> httplib2.Http:
        """This thread's connection machinery, shared by every owner the thread serves."""
        http: httplib2.Http | None = getattr(self._local, "http", None)
        if http is None:
            http = httplib2.Http(timeout=self.timeout)
            # Drive answers resumable-upload chunks with 308; not a redirect (as in clients.py).
            http.redirect_codes = set(http.redirect_codes) - {308}
            self._local.http = http
        return http

    def client(self, api: ApiName, credentials: CredentialsSource) -> OwnerClient:
        """What one owner uses as its `api` service object."""
        return OwnerClient(self, api, (), credentials)


class OwnerClient:
    """An owner's view of a shared service or resource: its requests carry its credentials."""

    __slots__ = ("_api", "_credentials", "_path", "_shared")

    def __init__(
        self,
        shared: SharedServices,
        api: ApiName,
        path: tuple[str, ...],
        credentials: CredentialsSource,
    ) -> None:
        self._shared = shared
        self._api = api
        self._path = path
        self._credentials = credentials

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        target = getattr(self._shared.resource(self._api, self._path), name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if not args and not kwargs and self._is_resource(name):
                return OwnerClient(self._shared, self._api, (*self._path, name), self._credentials)
            result = target(*args, **kwargs)
            if isinstance(result, HttpRequest):
                result.http = google_auth_httplib2.AuthorizedHttp(
                    self._credentials(), http=self._shared.http()
                )
            return result

        return call

    def _is_resource(self, name: str) -> bool:
        return self._shared.is_resource(self._api, self._path, name)

    def bound_credentials(self) -> BaseCredentials:
        """The credentials this owner's next request would carry."""
        return self._credentials()
