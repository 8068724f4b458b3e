"""Path templates -> handlers, and the Google method name each request is recorded under."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from syft_sandbox.wire import Request, Response

Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    api: str
    operation: str
    handler: Handler
    #: Operation name used instead when the query has alt=media (file downloads).
    media_operation: str | None = None
    #: No bearer token needed (the OAuth token endpoint).
    public: bool = False
    #: Decides the operation per request (resumable chunks take their session's operation).
    resolve: Callable[[Mapping[str, list[str]]], str] | None = None


def route(
    method: str,
    template: str,
    api: str,
    operation: str,
    handler: Handler,
    *,
    media_operation: str | None = None,
    public: bool = False,
    resolve: Callable[[Mapping[str, list[str]]], str] | None = None,
) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(
        method, re.compile(regex + r"\Z"), api, operation, handler, media_operation, public, resolve
    )


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]
    operation: str
    media: bool


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._routes = routes

    def match(self, method: str, path: str, query: Mapping[str, list[str]]) -> Match | None:
        for candidate in self._routes:
            if candidate.method != method:
                continue
            found = candidate.pattern.match(path)
            if found is None:
                continue
            params = {key: unquote(value) for key, value in found.groupdict().items()}
            media = candidate.media_operation is not None and query.get("alt", [""])[-1] == "media"
            if media and candidate.media_operation is not None:
                operation = candidate.media_operation
            elif candidate.resolve is not None:
                operation = candidate.resolve(query)
            else:
                operation = candidate.operation
            return Match(candidate, params, operation, media)
        return None
