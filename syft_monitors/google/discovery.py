"""The discovery documents bundled with google-api-python-client, optionally re-rooted.

Building from the bundled documents needs no network and pins the API surface to the installed
client. Re-rooting rewrites both `rootUrl` and `mtlsRootUrl`: `client_options.api_endpoint`
alone leaves media uploads on https://www.googleapis.com, which a local server cannot answer.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlsplit

from syft_monitors.errors import ConfigError
from syft_monitors.protocol.emails import safe_repr

ApiName = Literal["drive", "gmail"]

_DOCUMENTS: dict[str, str] = {"drive": "drive.v3.json", "gmail": "gmail.v1.json"}


@functools.cache
def _load(api: str) -> dict[str, Any]:
    package = resources.files("googleapiclient") / "discovery_cache" / "documents"
    data: dict[str, Any] = json.loads((package / _DOCUMENTS[api]).read_text(encoding="utf-8"))
    return data


def load_discovery_document(api: ApiName) -> dict[str, Any]:
    """A private copy of the bundled document for `api` (callers may mutate it)."""
    return copy.deepcopy(_load(api))


def discovery_schemas(api: ApiName) -> dict[str, Any]:
    """The document's `schemas` section, shared and read-only."""
    schemas: dict[str, Any] = _load(api)["schemas"]
    return schemas


def normalize_api_root(api_root: str) -> str:
    """`http://host:port` -> `http://host:port/`; rejects anything that is not an http(s) URL."""
    parts = urlsplit(api_root)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"Google API root must be an http(s) URL, got {safe_repr(api_root)}")
    return api_root if api_root.endswith("/") else api_root + "/"


def with_api_root(document: dict[str, Any], api_root: str) -> dict[str, Any]:
    root = normalize_api_root(api_root)
    rerooted = dict(document)
    rerooted["rootUrl"] = root
    rerooted["mtlsRootUrl"] = root
    rerooted["baseUrl"] = root + document.get("servicePath", "")
    return rerooted


@functools.cache
def _response_schemas(api: str) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(resource: dict[str, Any]) -> None:
        for method in resource.get("methods", {}).values():
            ref = method.get("response", {}).get("$ref")
            if ref:
                found[method["id"]] = ref
        for child in resource.get("resources", {}).values():
            walk(child)

    walk(_load(api))
    return found


def response_schema(api: ApiName, method_id: str) -> str | None:
    """The schema name a method returns, e.g. ("drive", "drive.files.list") -> "FileList"."""
    return _response_schemas(api).get(method_id)
