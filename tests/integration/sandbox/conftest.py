"""A running sandbox with a data owner and a data scientist, and official clients for both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from sandbox_testkit import DO, DS

from syft_monitors.google.clients import build_drive_service, build_gmail_service
from syft_sandbox import Sandbox, SandboxServer


@pytest.fixture
def sandbox() -> Sandbox:
    world = Sandbox(seed=7)
    world.add_user(DO)
    world.add_user(DS)
    return world


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    running = sandbox.serve()
    yield running
    running.stop()


@pytest.fixture
def make_client(sandbox: Sandbox, server: SandboxServer) -> Iterator[Callable[..., Any]]:
    """make_client("drive" | "gmail", email, timeout=...) -> official client; closed at teardown."""
    built: list[Any] = []

    def make(api: str, email: str, *, timeout: float = 30.0, token: str | None = None) -> Any:
        credentials = Credentials(token if token is not None else sandbox.access_token(email))
        builder = build_drive_service if api == "drive" else build_gmail_service
        service = builder(credentials, api_root=server.url, timeout=timeout)
        built.append(service)
        return service

    yield make
    for service in built:
        service.close()


@pytest.fixture
def drive(make_client: Callable[..., Any]) -> Any:
    return make_client("drive", DO)


@pytest.fixture
def drive_ds(make_client: Callable[..., Any]) -> Any:
    return make_client("drive", DS)


@pytest.fixture
def gmail(make_client: Callable[..., Any]) -> Any:
    return make_client("gmail", DO)
