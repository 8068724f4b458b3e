"""A sandbox world for the approve service: a data owner, data scientists, a local SyftBox folder.

Drive and Gmail are the sandbox over HTTP, driven by the official Google client; the monitors
are built from a real config file (`ApproveMonitor.from_config`), so rules are re-read from it.
`place_job` writes a job folder the way the owner's SyftBox client extracts it from a message.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from google.oauth2.credentials import Credentials

from syft_monitors.approve.run_script import JobDeclaration, canonical_run_script
from syft_monitors.approve.service import ApproveMonitor
from syft_monitors.google.clients import build_drive_service
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.protocol.peers import PeersFile, parse_peers_file
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.actors import SimulatedDataOwner, SimulatedDataScientist

DO = "owner@hospital.example"
ALICE = "alice_ml@uni.example"
BOB = "bob+lab@research.example"
CAROL = "carol@legacy.example"  # an older client: legacy folders and job layout
DANA = "dana@example.com"
EVE = "eve@evil-example.com"
SUB = "a@x.example.com"
USERS = (DO, ALICE, BOB, CAROL, DANA, EVE, SUB)
MAIN_PY = b"print('training')\n"
#: What syft-job declares for `main.py` with no extra package, and the run.sh it writes for it.
DEPS = ("syft-client==0.1.117",)
RUN_SH = (
    canonical_run_script(
        JobDeclaration("python", "main.py", DEPS), has_pyproject=False, bash_script=None
    )
    or b""
).decode()


def sha(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def rule(
    name: str,
    files: Mapping[str, bytes | str],
    *,
    peers: tuple[str, ...] = (),
    name_only: tuple[str, ...] = (),
    run_sh: tuple[str, ...] = (),
    canonical: bool = True,
    dependencies: tuple[str, ...] = DEPS,
    pinned: bool = True,
) -> dict[str, Any]:
    """A rule as `syft-bg auto-approve` writes it; `pinned=False` is an old, unpinned one."""
    document: dict[str, Any] = {
        "name": name,
        "peers": list(peers),
        "file_contents": [{"relative_path": p, "sha256": sha(c)} for p, c in files.items()],
        "file_paths": list(name_only),
        "run_sh_sha256": [sha(s) for s in run_sh],
    }
    if pinned:
        document["canonical_run_sh"] = canonical
        document["job"] = {
            "type": "python",
            "entrypoint": "main.py",
            "dependencies": list(dependencies),
        }
    return document


@dataclasses.dataclass
class ApproveWorld:
    sandbox: Sandbox
    server: SandboxServer
    workdir: Path
    syftbox: Path
    config_path: Path
    tokens: dict[str, Path]
    owner: SimulatedDataOwner
    scientists: dict[str, SimulatedDataScientist]
    approve_settings: dict[str, Any]
    _monitor: ApproveMonitor | None = None
    _notify: NotificationMonitor | None = None

    # --- config -------------------------------------------------------------------------------

    def write_config(
        self,
        approve: Mapping[str, Any] | None = None,
        *,
        raw: str | None = None,
        top_level: Mapping[str, Any] | None = None,
    ) -> None:
        if approve is not None:
            self.approve_settings = dict(approve)
        document = {
            "do_email": DO,
            "syftbox_root": str(self.syftbox),
            "gmail_token_path": str(self.tokens[DO]),
            "drive_token_path": str(self.tokens[DO]),
            "state_file": str(self.workdir / "state.json"),
            "google_api_root": self.server.url,
            "sender": "gmail",
            "approve": self.approve_settings,
            **(top_level or {}),
        }
        text = raw if raw is not None else yaml.safe_dump(document, sort_keys=False)
        self.config_path.write_text(text, encoding="utf-8")

    # --- monitors -----------------------------------------------------------------------------

    @property
    def monitor(self) -> ApproveMonitor:
        if self._monitor is None:
            self._monitor = ApproveMonitor.from_config(self.config_path)
        return self._monitor

    @property
    def notify(self) -> NotificationMonitor:
        if self._notify is None:
            self._notify = NotificationMonitor.from_config(self.config_path)
        return self._notify

    def restart(self) -> None:
        """The next `monitor` is a new one on the same config and state, as after a restart."""
        self._monitor = None

    def tick(self) -> Any:
        self.monitor.check()
        assert self.monitor.last_report is not None, "the tick failed: see the log"
        return self.monitor.last_report

    # --- what happened --------------------------------------------------------------------------

    def mail(self) -> list[tuple[str, str]]:
        return [
            (str(m.message["To"]), str(m.message["Subject"])) for m in self.sandbox.sent_mail(DO)
        ]

    def mail_keys(self) -> list[str]:
        return [str(m.message["X-Syft-Monitor-Key"]) for m in self.sandbox.sent_mail(DO)]

    def owner_peers(self) -> PeersFile:
        root = self.sandbox.find(name="SyftBox", owner=DO)
        if not root:
            return PeersFile({})
        found = self.sandbox.find(name="SYFT_peers.json", parent=root[0].id)
        return parse_peers_file(self.sandbox.content(found[0].id)) if found else PeersFile({})

    def owner_folders(self) -> dict[str, Any]:
        root = self.sandbox.find(name="SyftBox", owner=DO)
        if not root:
            return {}
        return {f.name: f for f in self.sandbox.find(parent=root[0].id) if f.is_folder}

    def drive_calls(self, mark: int) -> list[str]:
        return [r.operation for r in self.sandbox.requests(mark, api="drive", user=DO)]

    # --- the owner's disk -----------------------------------------------------------------------

    def place_job(
        self,
        ds: str,
        name: str,
        files: Mapping[str, bytes | str],
        *,
        legacy: bool = False,
        state: Mapping[str, Any] | None = None,
        run_sh: str = RUN_SH,
        config_changes: Mapping[str, Any] | None = None,
    ) -> Path:
        """The job folder as the owner's client writes it after accepting the message."""
        config: dict[str, Any] = {
            "name": name,
            "type": "python",
            "submitted_at": "2026-05-01T10:00:00+00:00",
            "entrypoint": "main.py",
            "dependencies": list(DEPS),
            "files": sorted(files),
            **(config_changes or {}),
        }
        jobs = self.syftbox / DO / "app_data" / "job"
        if legacy:
            config["submitted_by"] = ds
            folder = jobs / name
            code = folder
        else:
            folder = jobs / "inbox" / ds / name
            code = folder / "code"
        code.mkdir(parents=True, exist_ok=True)
        (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        (folder / "run.sh").write_text(run_sh, encoding="utf-8")
        for path, content in files.items():
            target = code / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        if state is not None:
            review = jobs / "review" / ds / name
            review.mkdir(parents=True, exist_ok=True)
            (review / "state.yaml").write_text(yaml.safe_dump(dict(state)), encoding="utf-8")
        return folder

    def submit(self, ds: str, name: str, files: Mapping[str, bytes | str], **kw: Any) -> Path:
        """A data scientist submits: the message on Drive, then the owner's client extracts it."""
        self.scientists[ds].submit_job(DO, name, files)
        return self.place_job(ds, name, files, legacy=self.scientists[ds].legacy, **kw)

    def state_yaml(self, ds: str, name: str) -> dict[str, Any] | None:
        path = self.syftbox / DO / "app_data" / "job" / "review" / ds / name / "state.yaml"
        if not path.exists():
            return None
        loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        return loaded

    def legacy_approved(self, name: str) -> bool:
        return (self.syftbox / DO / "app_data" / "job" / name / "approved").exists()


@contextmanager
def approve_world(
    workdir: Path, approve: Mapping[str, Any] | None = None
) -> Iterator[ApproveWorld]:
    sandbox = Sandbox(seed=3)
    for email in USERS:
        sandbox.add_user(email)
    with sandbox.serve() as server:
        tokens = server.write_token_files(workdir / "tokens")
        services: list[Any] = []

        def drive_for(email: str) -> Any:
            service = build_drive_service(
                Credentials(sandbox.access_token(email)),  # type: ignore[no-untyped-call]
                api_root=server.url,
            )
            services.append(service)
            return service

        syftbox = workdir / "SyftBox"
        (syftbox / DO).mkdir(parents=True)
        world = ApproveWorld(
            sandbox=sandbox,
            server=server,
            workdir=workdir,
            syftbox=syftbox,
            config_path=workdir / "config.yaml",
            tokens=tokens,
            owner=SimulatedDataOwner(DO, drive_for(DO)),
            scientists={
                email: SimulatedDataScientist(email, drive_for(email), legacy=email == CAROL)
                for email in USERS
                if email != DO
            },
            approve_settings=dict(approve or {}),
        )
        world.write_config()
        try:
            yield world
        finally:
            for monitor in (world._monitor, world._notify):
                if monitor is not None:
                    monitor.stop()
            for service in services:
                service.close()
