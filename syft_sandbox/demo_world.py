"""The sandbox demo: three data scientists, one data owner, every notification, no Google account.

Everything is real except Google: a local Drive/Gmail server (`syft_sandbox`), simulated
SyftBox clients that upload real `msgv2` messages and event files through the official Google
client, and the production `NotificationMonitor` with `GmailSender` talking to it over HTTP.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_drive_service
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.actors import SimulatedDataOwner, SimulatedDataScientist
from syft_sandbox.gmail_model import MailRecord

logger = logging.getLogger(__name__)

DO_EMAIL = "owner@hospital.example"
DS_ALICE = "alice_ml@uni.example"  # an underscore: upstream's old parser broke on these
DS_BOB = "bob+lab@research.example"  # a plus tag
DS_CAROL = "carol@legacy.example"  # an older client: legacy folder and job layout


@dataclasses.dataclass(frozen=True, slots=True)
class SentEmail:
    to: str
    subject: str
    record: MailRecord


@dataclasses.dataclass(slots=True)
class DemoResult:
    emails: list[SentEmail]
    output_dir: Path
    idle_poll_requests: int
    sandbox_url: str


Reporter = Callable[[str, list[SentEmail]], None]


@dataclasses.dataclass(slots=True)
class DemoWorld:
    sandbox: Sandbox
    server: SandboxServer
    workdir: Path
    monitor: NotificationMonitor
    owner: SimulatedDataOwner
    scientists: dict[str, SimulatedDataScientist]
    token_files: dict[str, Path]
    _reported: int = 0

    def poll(self) -> list[SentEmail]:
        """Run one monitor check and return the emails it sent."""
        self.monitor.check()
        mail = self.sandbox.sent_mail(DO_EMAIL)
        new = mail[self._reported :]
        self._reported = len(mail)
        return [
            SentEmail(str(m.message.get("To", "")), str(m.message.get("Subject", "")), m)
            for m in new
        ]


@contextmanager
def demo_world(workdir: Path | None = None) -> Iterator[DemoWorld]:
    """A running sandbox with users, token files and a monitor for the data owner."""
    base = workdir or Path(tempfile.mkdtemp(prefix="syft-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox()
    for email in (DO_EMAIL, DS_ALICE, DS_BOB, DS_CAROL):
        sandbox.add_user(email)
    with sandbox.serve() as server:
        tokens = server.write_token_files(base / "tokens")

        def drive_for(email: str) -> object:
            return build_drive_service(
                Credentials(sandbox.access_token(email)),  # type: ignore[no-untyped-call]
                api_root=server.url,
            )

        metrics = MonitorMetrics()
        monitor = NotificationMonitor(
            do_email=DO_EMAIL,
            sender=GmailSender(tokens[DO_EMAIL], api_root=server.url),
            state=JsonStateManager(base / "state.json"),
            config={},
            drive_token_path=tokens[DO_EMAIL],
            syftbox_root=None,
            google_api_root=server.url,
            strategy="changes",
            drive=None,
            metrics=metrics,
        )
        scientists = {
            DS_ALICE: SimulatedDataScientist(DS_ALICE, drive_for(DS_ALICE)),
            DS_BOB: SimulatedDataScientist(DS_BOB, drive_for(DS_BOB)),
            DS_CAROL: SimulatedDataScientist(DS_CAROL, drive_for(DS_CAROL), legacy=True),
        }
        owner = SimulatedDataOwner(DO_EMAIL, drive_for(DO_EMAIL))
        yield DemoWorld(sandbox, server, base, monitor, owner, scientists, tokens)


def run_scenario(world: DemoWorld, report: Reporter) -> DemoResult:
    """Play the story step by step, polling after each step, and collect every email."""
    sent: list[SentEmail] = []

    def step(title: str, action: Callable[[], object]) -> None:
        action()
        emails = world.poll()
        sent.extend(emails)
        report(title, emails)

    alice, bob, carol = (world.scientists[e] for e in (DS_ALICE, DS_BOB, DS_CAROL))
    owner = world.owner
    step("monitor starts (existing data is not announced)", lambda: None)

    def request_all() -> None:
        for ds in (alice, bob, carol):
            ds.request_peer(DO_EMAIL)

    def accept_all() -> None:
        for email in (DS_ALICE, DS_BOB, DS_CAROL):
            owner.accept_peer(email)

    step("three data scientists ask to peer", request_all)
    step("the data owner accepts them", accept_all)
    step(
        "alice submits a job",
        lambda: alice.submit_job(DO_EMAIL, "train model", {"main.py": "print('training')\n"}),
    )

    def bob_submits_and_owner_syncs() -> None:
        bob.submit_job(
            DO_EMAIL,
            "stats <script>alert(1)<script>",
            {"main.py": "import statistics\n", "params.json": '{"k": 3}'},
        )
        owner.sync()  # archives the message before the monitor polls: still detected

    step(
        "bob submits a job; the owner's sync archives it before the poll",
        bob_submits_and_owner_syncs,
    )
    step(
        "carol (legacy client) submits a job",
        lambda: carol.submit_job(DO_EMAIL, "legacy_job", {"main.py": "print(1)\n"}),
    )
    step(
        "the owner approves alice's job",
        lambda: owner.set_status(DS_ALICE, "train model", "approved"),
    )
    step(
        "alice's job runs and completes",
        lambda: owner.set_status(DS_ALICE, "train model", "done", return_code=0),
    )
    step(
        "the owner rejects bob's job",
        lambda: owner.set_status(
            DS_BOB,
            "stats <script>alert(1)<script>",
            "rejected",
            reason="uses an unapproved dataset",
        ),
    )
    owner_legacy = SimulatedDataOwner(DO_EMAIL, owner.service, legacy=True)
    step(
        "carol's legacy job is approved and done (marker files)",
        lambda: owner_legacy.set_status(DS_CAROL, "legacy_job", "done"),
    )

    def failing_job() -> None:
        alice.submit_job(DO_EMAIL, "crashy", {"main.py": "raise SystemExit(3)\n"})
        owner.set_status(
            DS_ALICE, "crashy", "failed", return_code=3, stderr="Traceback ...\nSystemExit: 3\n"
        )

    step("alice submits a job that fails", failing_job)

    mark = world.sandbox.mark()
    world.monitor.check()
    idle = len(world.sandbox.requests(mark, api="drive"))
    report(f"an idle poll costs {idle} Drive request(s)", [])

    output = world.workdir / "sent-emails"
    output.mkdir(parents=True, exist_ok=True)
    for index, email in enumerate(sent, start=1):
        (output / f"{index:02d}.eml").write_bytes(email.record.raw)
    return DemoResult(sent, output, idle, world.server.url)
