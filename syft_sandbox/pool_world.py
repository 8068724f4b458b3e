"""Many data owners in one sandbox, laid out for a pool process in local mode.

`owners_world(n, folder)` adds `n` data owners and a few data scientists to a running sandbox;
every scientist opens a channel with every owner it serves and the owner accepts it, through the
official Google client as real clients do. Each owner gets a subfolder of `folder` with its
config.yaml and Drive/Gmail token files (the layout `syft-bg pool --owners` reads). Then
`submit(owner, job)` makes a scientist submit a job to that owner, and `keys_sent(owner)` counts
the emails that owner's Gmail account sent, by notification key.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_drive_service
from syft_sandbox.actors import SimulatedDataOwner, SimulatedDataScientist
from syft_sandbox.core import Sandbox
from syft_sandbox.server import SandboxServer

CONFIG_FILE = "config.yaml"


def owner_name(index: int) -> str:
    return f"owner-{index:04d}"


def owner_email(index: int) -> str:
    return f"owner{index:04d}@uni{index % 5}.example"


def scientist_email(index: int) -> str:
    return f"ds{index:02d}@lab{index % 3}.example"


@dataclasses.dataclass
class PoolWorld:
    sandbox: Sandbox
    server: SandboxServer
    folder: Path
    owners: list[str]  # emails, by index
    scientists: dict[str, SimulatedDataScientist]
    #: owner index -> the scientist email that submits to it
    peer_of: dict[int, str]
    submitted: int = 0

    def owner_folder(self, index: int) -> Path:
        return self.folder / owner_name(index)

    def submit(self, index: int, job: str) -> str:
        """A scientist submits `job` to owner `index`; returns the Drive file id."""
        ds = self.peer_of[index]
        self.submitted += 1
        return self.scientists[ds].submit_job(
            self.owners[index], job, {"main.py": f"print({job!r})\n"}
        )

    def keys_sent(self, index: int) -> Counter[str]:
        mail = self.sandbox.sent_mail(self.owners[index])
        return Counter(str(m.message["X-Syft-Monitor-Key"]) for m in mail)

    def all_keys_sent(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for index in range(len(self.owners)):
            total.update(f"{index}:{key}" for key in self.keys_sent(index))
        return total


def drive_for(sandbox: Sandbox, server: SandboxServer, email: str) -> Any:
    credentials = Credentials(sandbox.access_token(email))  # type: ignore[no-untyped-call]
    return build_drive_service(credentials, api_root=server.url)


def owner_config(email: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "do_email": email,
        "syftbox_root": None,
        "interval": 30,
        # Every email on its own, counted by key (no digests).
        "flood": {"enabled": False},
    }
    config.update(extra)
    return config


def owners_world(
    sandbox: Sandbox,
    server: SandboxServer,
    folder: Path,
    count: int,
    *,
    scientists: int = 3,
    config: dict[str, Any] | None = None,
) -> PoolWorld:
    """`count` owners (added to the sandbox) with accepted scientists and their folders."""
    ds_emails = [scientist_email(i) for i in range(max(1, min(scientists, count)))]
    owners = [owner_email(i) for i in range(count)]
    for email in (*ds_emails, *owners):
        sandbox.add_user(email)
    actors = {ds: SimulatedDataScientist(ds, drive_for(sandbox, server, ds)) for ds in ds_emails}
    peer_of: dict[int, str] = {}
    for index, email in enumerate(owners):
        ds = ds_emails[index % len(ds_emails)]
        peer_of[index] = ds
        actors[ds].request_peer(email)
        SimulatedDataOwner(email, drive_for(sandbox, server, email)).accept_peer(ds)
        target = folder / owner_name(index)
        target.mkdir(parents=True, exist_ok=True)
        for token in ("drive_token.json", "gmail_token.json"):
            sandbox.write_token_file(email, target / token, token_uri=server.token_uri)
        settings = owner_config(email, google_api_root=server.url, **(config or {}))
        (target / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    return PoolWorld(sandbox, server, folder, owners, actors, peer_of)
