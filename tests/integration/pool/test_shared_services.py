"""One shared Drive and Gmail client for many owners: each request carries its own owner's
credentials, whichever thread sends it and whatever other owners sent before on that thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from google.oauth2.credentials import Credentials

from syft_monitors.google.shared import SharedServices
from syft_sandbox import Sandbox
from syft_sandbox.server import SandboxServer

USERS = [f"owner{i}@uni.example" for i in range(4)]


@pytest.fixture
def served() -> Iterator[tuple[Sandbox, SandboxServer]]:
    sandbox = Sandbox()
    for user in USERS:
        sandbox.add_user(user)
        sandbox.create_file(user, f"only-{user}.txt", b"x")
    with sandbox.serve() as server:
        yield sandbox, server


def names_seen(client: object) -> set[str]:
    reply = client.files().list(fields="files(name)").execute()  # type: ignore[attr-defined]
    return {item["name"] for item in reply["files"]}


def test_each_owner_sees_only_its_own_drive_through_one_service(
    served: tuple[Sandbox, SandboxServer],
) -> None:
    sandbox, server = served
    shared = SharedServices(api_root=server.url)
    tokens = {user: Credentials(sandbox.access_token(user)) for user in USERS}  # type: ignore[no-untyped-call]
    clients = {user: shared.client("drive", lambda u=user: tokens[u]) for user in USERS}
    mistakes: list[str] = []

    def worker() -> None:
        for _ in range(5):
            for user, client in clients.items():
                if names_seen(client) != {f"only-{user}.txt"}:
                    mistakes.append(user)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert mistakes == []
    mark = sandbox.mark()
    names_seen(clients[USERS[2]])
    assert [r.user for r in sandbox.requests(mark, api="drive")] == [USERS[2]]


def test_a_request_without_an_owner_is_refused(served: tuple[Sandbox, SandboxServer]) -> None:
    _, server = served
    shared = SharedServices(api_root=server.url)
    bare = shared.resource("drive", ("files",)).list()
    with pytest.raises(RuntimeError, match="without an owner's credentials"):
        bare.execute()
