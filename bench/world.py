"""Big SyftBox worlds in the sandbox, built through its Python API (fast), then driven over HTTP.

A world is one data owner (DO) with P accepted peers (data scientists, DSs) and J existing jobs.
It has what a DO's Drive has after a while of use:

- each DS created and shared its two channel folders with the DO (current or legacy names);
- the DO accepted every DS: `SYFT_peers.json` lists them `accepted`, and (current layout) the DO's
  own mirror folders are shared back;
- every existing job was synced by the DO: its `msgv2` proposal (owned by the DS) sits in the
  DO's archive folder for that DS, and the DO's event log holds one events file per job.

New activity in a benchmark goes through the official Google client over HTTP, as real clients
do: `scientist(email)` returns a `SimulatedDataScientist` whose channel was opened by its own
`request_peer` call.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_drive_service
from syft_monitors.protocol.names import (
    PEERS_FILE,
    SYFTBOX_FOLDER,
    Direction,
    archive_name,
    current_channel_name,
    event_log_name,
    legacy_channel_name,
)
from syft_monitors.protocol.peers import PeerRecord, PeersFile, PeerState
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.actors import (
    DEFAULT_VERSION,
    SimulatedDataOwner,
    SimulatedDataScientist,
)
from syft_sandbox.messages import encode_message, new_events_message, new_proposed_changes

DO_EMAIL = "owner@hospital.example"


def ds_email(index: int) -> str:
    # No "_" in addresses: the old upstream poller splits folder names on it.
    return f"ds{index:04d}@lab{index % 7}.example"


def job_files(ds: str, name: str, *, legacy: bool) -> dict[str, bytes | str]:
    """The files a job submission carries (the layout `SimulatedDataScientist.submit_job` uses)."""
    base = f"app_data/job/{name}/" if legacy else f"app_data/job/inbox/{ds}/{name}/"
    config: dict[str, Any] = {
        "name": name,
        "type": "python",
        "entrypoint": "main.py",
        "files": ["main.py"],
        "is_folder_submission": False,
    }
    if legacy:
        config["submitted_by"] = ds
    code = base if legacy else base + "code/"
    return {
        base + "config.yaml": yaml.safe_dump(config, sort_keys=True),
        base + "run.sh": "#!/bin/bash\nset -e\ncd code && python main.py\n",
        code + "main.py": f"print('job {name}')\n",
    }


@dataclasses.dataclass(slots=True)
class World:
    sandbox: Sandbox
    server: SandboxServer
    workdir: Path
    do_email: str
    peers: list[str]
    legacy: bool
    existing_jobs: int
    build_seconds: float
    inboxes: dict[str, str]
    archives: dict[str, str]
    event_log: str
    _scientists: dict[str, SimulatedDataScientist] = dataclasses.field(default_factory=dict)
    _tokens: dict[str, Path] = dataclasses.field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def token_file(self, email: str) -> Path:
        """An authorized-user token file for `email` that refreshes against the sandbox."""
        if email not in self._tokens:
            self._tokens[email] = self.sandbox.write_token_file(
                email, self.workdir / "tokens" / f"{email}.json", token_uri=self.server.token_uri
            )
        return self._tokens[email]

    def drive_service(self, email: str) -> Any:
        """The official Drive client for `email`, pointed at the sandbox."""
        credentials = Credentials(self.sandbox.access_token(email))  # type: ignore[no-untyped-call]
        return build_drive_service(credentials, api_root=self.url)

    def scientist(self, email: str) -> SimulatedDataScientist:
        """A DS client whose channel to the DO is open (its `request_peer` ran over HTTP)."""
        if email not in self._scientists:
            ds = SimulatedDataScientist(email, self.drive_service(email), legacy=self.legacy)
            ds.request_peer(self.do_email)
            self._scientists[email] = ds
        return self._scientists[email]

    def owner(self) -> SimulatedDataOwner:
        return SimulatedDataOwner(self.do_email, self.drive_service(self.do_email))

    def submitters(self, count: int) -> list[str]:
        """`count` DSs spread evenly over the peer list (not just the first ones created)."""
        count = min(count, len(self.peers))
        return [self.peers[i * len(self.peers) // count] for i in range(count)]

    def submit(self, email: str, name: str) -> str:
        """Upload one job proposal as `email` over HTTP; returns its Drive file id."""
        return self.scientist(email).submit_job(
            self.do_email, name, {"main.py": f"print('job {name}')\n"}
        )

    def add_past_jobs(self, count: int) -> None:
        """`count` more jobs the DO already synced (archived proposal + events file each)."""
        started = time.perf_counter()
        for _ in range(count):
            _add_past_job(self, self.existing_jobs)
            self.existing_jobs += 1
        self.build_seconds += time.perf_counter() - started

    def message_landed_at(self, file_id: str) -> float:
        """When the sandbox stored the file (its createdTime, seconds since the epoch)."""
        stamp = self.sandbox.file(file_id).created_time
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def build_world(
    sandbox: Sandbox,
    server: SandboxServer,
    workdir: Path,
    *,
    peers: int,
    jobs: int,
    legacy: bool = False,
    do_email: str = DO_EMAIL,
    version: str = DEFAULT_VERSION,
) -> World:
    """Populate `sandbox` (already served by `server`) with one DO, `peers` DSs and `jobs` jobs."""
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    sandbox.add_user(do_email)
    do_root = sandbox.create_folder(do_email, SYFTBOX_FOLDER)
    event_log = sandbox.create_folder(
        do_email, do_email if legacy else event_log_name(version, do_email), do_root
    )
    emails = [ds_email(i) for i in range(peers)]
    inboxes: dict[str, str] = {}
    archives: dict[str, str] = {}
    for ds in emails:
        sandbox.add_user(ds)
        ds_root = sandbox.create_folder(ds, SYFTBOX_FOLDER)
        if legacy:
            names = [legacy_channel_name(ds, do_email), legacy_channel_name(do_email, ds)]
        else:
            names = [
                current_channel_name(version, do_email, Direction.INBOX, ds),
                current_channel_name(version, do_email, Direction.OUTBOX, ds),
            ]
        for index, name in enumerate(names):
            folder = sandbox.create_folder(ds, name, ds_root)
            sandbox.share(ds, folder, do_email)
            if index == 0:
                inboxes[ds] = folder
        if not legacy:
            for direction in (Direction.INBOX, Direction.OUTBOX):
                mirror = sandbox.create_folder(
                    do_email, current_channel_name(version, ds, direction, do_email), do_root
                )
                sandbox.share(do_email, mirror, ds)
        archives[ds] = sandbox.create_folder(do_email, archive_name(ds, do_email), do_root)
    accepted = PeersFile({ds: PeerRecord(state=PeerState.ACCEPTED) for ds in emails})
    sandbox.create_file(
        do_email, PEERS_FILE, accepted.dumps(), parent=do_root, mime_type="text/plain"
    )
    world = World(
        sandbox=sandbox,
        server=server,
        workdir=workdir,
        do_email=do_email,
        peers=emails,
        legacy=legacy,
        existing_jobs=0,
        build_seconds=time.perf_counter() - started,
        inboxes=inboxes,
        archives=archives,
        event_log=event_log,
    )
    world.add_past_jobs(jobs if emails else 0)
    return world


#: Past jobs are dated from here, one minute apart, so their names sort like real ones.
_PAST_EPOCH = time.time() - 60.0 * 100_000


def _add_past_job(world: World, index: int) -> None:
    ds = world.peers[index % len(world.peers)]
    name = f"past-{index:05d}"
    files = job_files(ds, name, legacy=world.legacy)
    when = _PAST_EPOCH + 60.0 * index
    proposal = new_proposed_changes(ds, world.do_email, files, timestamp=when)
    sandbox = world.sandbox
    file_id = sandbox.create_file(
        ds, proposal.filename.name, encode_message(proposal), parent=world.inboxes[ds]
    )
    sandbox.move(world.do_email, file_id, world.archives[ds])  # the DO's sync archived it
    events = new_events_message(world.do_email, dict(files), timestamp=when + 1.0)
    sandbox.create_file(
        world.do_email, events.filename.name, encode_message(events), parent=world.event_log
    )


def add_strangers(sandbox: Sandbox, do_email: str, count: int, *, start: int = 0) -> list[str]:
    """`count` strangers who each share a channel pair with `do_email` (a peer request), created
    directly in the sandbox's model: a flood arrives between two polls, as a script would do it."""
    emails = [f"stranger{index:05d}@spam.example" for index in range(start, start + count)]
    for ds in emails:
        sandbox.add_user(ds)
        ds_root = sandbox.create_folder(ds, SYFTBOX_FOLDER)
        for direction in (Direction.INBOX, Direction.OUTBOX):
            name = current_channel_name(DEFAULT_VERSION, do_email, direction, ds)
            sandbox.share(ds, sandbox.create_folder(ds, name, ds_root), do_email)
    return emails
