"""Hostile Drive content through the real monitor, the sandbox and the Gmail sender.

Every case here is new relative to `tests/unit/protocol` (which feeds the codec and the name
parser directly): these go through Drive sharing, the changes feed, classification, decoding,
planning and sending, and check what reaches the log, the metrics and the mailbox. Expected of
each: no crash (the poll succeeds), at most one clear log line, `syft_monitor_errors_total
{kind="protocol"}` counting what was refused, and no email with an injected header or active HTML.

Case inventory: 54 cases here. With the 31 bad config and token files of
`tests/unit/reliability/test_bad_config_files.py`, the 12 defects x 3 commands of
`test_bad_config_cli.py`, the 4 dead tokens of `test_revoked_token.py` and the three fuzz targets
of `tests/fuzz` (run over seeds, mutations and hypothesis data by
`tests/unit/reliability/test_hostile_fuzz_targets.py`), this is the hostile corpus of issue 8.

Folder names shared with the owner (22, `NAME_CASES`): CR/LF + Bcc in a current channel's peer,
LF in a legacy sender, CR/LF in an event-log name, CRLF in a non-SyftBox name, HTML in a current
peer, HTML in a legacy sender, HTML in an archive sender, `$(...)` in a peer, backticks in a legacy
sender, `;` and `|` in a peer, shell metacharacters in the version field, U+202E (right-to-left
override), U+200F (right-to-left mark), U+2066 (isolate), a zero-width joiner in the owner's
address, U+2028 (line separator), NUL, Cyrillic look-alike peer, Cyrillic look-alike owner,
Cyrillic look-alike in a legacy sender, a full-width at sign, a 1100-character name.

Forgeries (5, `test_forged_*`): a peer-request folder named for someone else, a proposal claiming
another sender in the attacker's own channel, a proposal in a fake archive named for the victim,
a fake event log announcing a status for a third party's job, a forged peer request whose victim
is in an auto-approved domain (must not be accepted by the approve service either).

Duplicates and stale versions (7, `test_duplicate_*`): the same inbox folder twice, a stale and a
current version, a legacy and a current generation, case variants of one peer, a future version,
an outbox-only request, a duplicate of a folder that predates the monitor.

Job content (12, `JOB_CASES` and `test_hostile_job_content...`): HTML job name, shell job name,
Cyrillic look-alike job name, 300-character markup name, HTML file name, `</pre><script>` in code,
CR/LF in a job name (refused), U+202E in a job name (refused), HTML + ANSI + CR/LF Bcc in stderr,
HTML + CR/LF in a rejection reason, HTML in approved_by, CR/LF in approval_method.

Messages in the owner's inbox (7, `MESSAGE_CASES`): random bytes, a 51 MiB decompression bomb, a
symlink member, a `..` path, JSON nested 100 000 deep, a hash mismatch, a job for another owner
(valid, silently not ours).

Scale (1): 10 000 peer folders shared with the owner.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.oauth2.credentials import Credentials

from syft_monitors.approve.service import ApproveMonitor
from syft_monitors.config import parse_config
from syft_monitors.google.clients import build_drive_service
from syft_monitors.metrics import MonitorMetrics
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_monitors.notify.senders.gmail import GmailSender
from syft_monitors.protocol.archive import MEMBER_NAME, write_member
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.protocol.messages import MessageFileName, MessageKind
from syft_monitors.protocol.names import (
    archive_name,
    current_channel_name,
    event_log_name,
    legacy_channel_name,
)
from syft_monitors.state.json_file import JsonStateManager
from syft_sandbox import Sandbox, SandboxServer
from syft_sandbox.actors import SimulatedDataOwner, SimulatedDataScientist
from syft_sandbox.gmail_model import MailRecord
from syft_sandbox.messages import encode_message, new_events_message
from tests.fuzz.fuzzing import BIDI, check_mime

DO = "owner@hospital.example"
ALICE = "alice@uni.example"
BOB = "bob+lab@research.example"
MALLORY = "mallory@evil.example"
VICTIM = "victim@partner.example"
V = "0.1.117"
MIB = 1024 * 1024


# --- the world ----------------------------------------------------------------------------


@dataclass
class World:
    sandbox: Sandbox
    server: SandboxServer
    monitor: NotificationMonitor
    metrics: MonitorMetrics
    caplog: pytest.LogCaptureFixture
    tmp: Path
    tokens: dict[str, Path]
    _services: list[Any] = field(default_factory=list)
    _mail_seen: int = 0

    def drive(self, email: str) -> Any:
        service = build_drive_service(
            Credentials(self.sandbox.access_token(email)),  # type: ignore[no-untyped-call]
            api_root=self.server.url,
        )
        self._services.append(service)
        return service

    def scientist(self, email: str, *, legacy: bool = False, **kw: Any) -> SimulatedDataScientist:
        return SimulatedDataScientist(email, self.drive(email), legacy=legacy, **kw)

    def owner(self) -> SimulatedDataOwner:
        return SimulatedDataOwner(DO, self.drive(DO))

    def protocol_errors(self) -> float:
        value = self.metrics.registry.get_sample_value(
            "syft_monitor_errors_total", {"kind": "protocol"}
        )
        return float(value or 0.0)

    def poll(self) -> list[MailRecord]:
        """One check that must succeed; returns the emails it sent."""
        assert self.monitor._check_once(), self.monitor._last_error
        mail = self.sandbox.sent_mail(DO)
        new, self._mail_seen = mail[self._mail_seen :], len(mail)
        return new

    def warnings(self) -> list[logging.LogRecord]:
        return [r for r in self.caplog.records if r.levelno >= logging.WARNING]

    def share_folder(self, owner: str, name: str, with_: str = DO) -> str:
        folder = self.sandbox.create_folder(owner, name, self.sandbox.root_id(owner))
        self.sandbox.share(owner, folder, with_)
        return folder


@pytest.fixture
def world(
    request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[World]:
    strategy = getattr(request, "param", "changes")  # tests may ask for the listing strategy
    caplog.set_level(logging.INFO)
    sandbox = Sandbox(seed=11)
    for user in (DO, ALICE, BOB, MALLORY, VICTIM):
        sandbox.add_user(user)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        metrics = MonitorMetrics()
        monitor = NotificationMonitor(
            do_email=DO,
            sender=GmailSender(tokens[DO], api_root=server.url),
            state=JsonStateManager(tmp_path / "state.json"),
            config={},
            drive_token_path=tokens[DO],
            syftbox_root=None,
            google_api_root=server.url,
            strategy=strategy,
            drive=None,
            metrics=metrics,
        )
        world = World(sandbox, server, monitor, metrics, caplog, tmp_path, tokens)
        assert world.poll() == []  # baseline
        try:
            yield world
        finally:
            for service in world._services:
                service.close()


def assert_clean_log_line(record: logging.LogRecord) -> str:
    text = record.getMessage()
    assert "\n" not in text, text
    assert "\r" not in text, text
    assert not BIDI.intersection(text), text
    assert len(text) < 1200, len(text)
    assert record.exc_info is None, "a traceback for an expected refusal"
    return text


# --- folder names --------------------------------------------------------------------------

CHANNEL = f"syft_datasite#{V}#{DO}#inbox#"
NAME_CASES: list[tuple[str, str]] = [
    ("crlf-bcc-current", f"syft_datasite#{V}#{DO}#inbox#x@evil.example\r\nBcc: all@corp.example"),
    ("lf-legacy-sender", f"syft_outbox_inbox_ds@evil.example\nBcc: a@b.example_to_{DO}"),
    ("crlf-event-log", f"{V}#{DO}\r\nX-Injected: yes"),
    ("crlf-plain-name", "holiday\r\nphotos"),
    ("html-current-peer", CHANNEL + "<img src=x onerror=alert(1)>@evil.example"),
    ("html-legacy-sender", f"syft_outbox_inbox_<b>hi</b>@evil.example_to_{DO}"),
    ("html-archive", f"syft_<script>@evil.example_to_{DO}_archive"),
    ("dollar-paren-peer", CHANNEL + "$(touch /tmp/pwned-syft)@evil.example"),
    ("backticks-legacy", f"syft_outbox_inbox_`rm -rf ~`@evil.example_to_{DO}"),
    ("semicolon-pipe-peer", CHANNEL + "a;cat /etc/passwd|mail@evil.example"),
    ("shell-in-version", f"syft_datasite#0.1.117;id#{DO}#inbox#ds@evil.example"),
    ("rlo-peer", CHANNEL + "moc.elpmaxe@\u202eevil"),
    ("rlm-peer", CHANNEL + "ds\u200f@evil.example"),
    ("isolate-peer", CHANNEL + "\u2066ds@evil.example\u2069"),
    ("zwj-in-owner", f"syft_datasite#{V}#own\u200der@hospital.example#inbox#ds@evil.example"),
    ("line-separator", CHANNEL + "ds@evil.example\u2028"),
    ("nul", CHANNEL + "n\x00ul@evil.example"),
    ("cyrillic-peer", CHANNEL + "\u0430lice@uni.example"),
    ("cyrillic-owner", f"syft_datasite#{V}#\u043ewner@hospital.example#inbox#ds@evil.example"),
    ("cyrillic-legacy", f"syft_outbox_inbox_\u0430lice@uni.example_to_{DO}"),
    ("fullwidth-at", CHANNEL + "alice\uff20uni.example"),
    ("overlong", CHANNEL + "a" * 1100 + "@evil.example"),
]


def test_name_cases_are_distinct_in_the_log() -> None:
    # Each case is recognised by its (80-character) safe_repr: they must differ in it.
    shown = [safe_repr(name) for _, name in NAME_CASES]
    assert len(set(shown)) == len(shown)


def test_hostile_folder_names_are_logged_counted_and_never_emailed(world: World) -> None:
    before = world.protocol_errors()
    world.caplog.clear()
    for _, name in NAME_CASES:
        world.share_folder(MALLORY, name)
    assert world.poll() == []
    assert world.protocol_errors() - before == len(NAME_CASES)
    lines = [assert_clean_log_line(record) for record in world.warnings()]
    assert len(lines) == len(NAME_CASES), lines
    for case, name in NAME_CASES:
        assert sum(safe_repr(name) in line for line in lines) == 1, case
    assert not Path("/tmp/pwned-syft").exists()
    # Logged once per incident: the next polls are quiet and count nothing more.
    world.caplog.clear()
    assert world.poll() == []
    assert world.poll() == []
    assert world.warnings() == []
    assert world.protocol_errors() - before == len(NAME_CASES)
    assert world.monitor.state.load().work == {}


@pytest.mark.parametrize("world", ["list"], indirect=True)
def test_listing_strategy_reports_each_hostile_item_once(world: World) -> None:
    # A listing sees every hostile item again on every poll; the log and the metric must not.
    before = world.protocol_errors()
    world.caplog.clear()
    cases = NAME_CASES[:5]
    for _, name in cases:
        world.share_folder(MALLORY, name)
    world.share_folder(MALLORY, current_channel_name(V, DO, "inbox", VICTIM))  # a forgery
    for _ in range(3):
        assert world.poll() == []
    lines = [assert_clean_log_line(record) for record in world.warnings()]
    assert len(lines) == len(cases) + 1, lines
    assert world.protocol_errors() - before == len(cases) + 1
    # A genuine request is still announced by the same listing.
    world.scientist(VICTIM).request_peer(DO)
    assert {str(m.message["Subject"]) for m in world.poll()} == {
        f"New Peer Request from {VICTIM}",
        f"Peer Request Sent to {DO}",
    }
    assert len(world.warnings()) == len(cases) + 1


# --- forgeries -------------------------------------------------------------------------------


def test_forged_peer_request_in_someone_elses_name(world: World) -> None:
    before = world.protocol_errors()
    world.share_folder(MALLORY, current_channel_name(V, DO, "inbox", VICTIM))
    assert world.poll() == []
    assert world.protocol_errors() - before == 1
    (line,) = [assert_clean_log_line(r) for r in world.warnings()]
    assert VICTIM in line
    assert MALLORY in line
    # The real person asking is announced as usual.
    world.scientist(VICTIM).request_peer(DO)
    assert {(str(m.message["To"]), str(m.message["Subject"])) for m in world.poll()} == {
        (DO, f"New Peer Request from {VICTIM}"),
        (VICTIM, f"Peer Request Sent to {DO}"),
    }


def raw_proposal(sender: str, files: dict[str, bytes], *, datasite: str = DO) -> bytes:
    """A msgv2 archive built by hand: the helpers refuse what these tests need to send."""
    changes = [
        {
            "id": str(uuid.uuid4()),
            "old_hash": None,
            "new_hash": hashlib.sha256(content).hexdigest(),
            "submitted_timestamp": 1715690000.5,
            "path_in_datasite": path,
            "content": content.decode(),
            "datasite_email": datasite,
            "is_deleted": False,
            "content_type": "text",
        }
        for path, content in files.items()
    ]
    document = {
        "id": str(uuid.uuid4()),
        "sender_email": sender,
        "message_filename": {"submitted_timestamp": 1715690000.5, "uid": str(uuid.uuid4())},
        "proposed_file_changes": changes,
    }
    return write_member(json.dumps(document).encode())


def message_name(kind: MessageKind = MessageKind.PROPOSED_CHANGES) -> str:
    return MessageFileName(kind, 1715690000.5, uuid.uuid4()).name


def job_files(submitter: str, name: str, code: str = "print(1)\n") -> dict[str, bytes]:
    base = f"app_data/job/inbox/{submitter}/{name}/"
    return {
        base + "config.yaml": yaml.safe_dump({"name": name, "type": "python"}).encode(),
        base + "code/main.py": code.encode(),
    }


def test_forged_proposals_are_refused(world: World) -> None:
    mallory = world.scientist(MALLORY)
    mallory.request_peer(DO)
    world.poll()  # mallory's own (genuine) peer request
    before = world.protocol_errors()
    world.caplog.clear()
    # 1. In mallory's own channel, a proposal claiming to come from the victim.
    claimed = raw_proposal(VICTIM, job_files(VICTIM, "spoofed"))
    mallory.upload(message_name(), mallory._inbox[DO], claimed)
    # 2. A fake archive named for the victim, owned by mallory, with the same proposal.
    archive = world.share_folder(MALLORY, archive_name(VICTIM, DO))
    mallory.upload(message_name(), archive, claimed)
    assert world.poll() == []
    assert world.protocol_errors() - before == 2
    lines = [assert_clean_log_line(r) for r in world.warnings()]
    assert len(lines) == 2, lines
    assert all(VICTIM in line for line in lines)
    assert world.sandbox.received_mail(VICTIM) == []


def test_forged_event_log_announces_nothing(world: World) -> None:
    before = world.protocol_errors()
    world.caplog.clear()
    fake_log = world.share_folder(MALLORY, event_log_name(V, DO))
    review = f"app_data/job/review/{VICTIM}/ghost/"
    events = new_events_message(
        DO, {review + "state.yaml": f"status: approved\napproved_by: {DO}\n"}
    )
    world.scientist(MALLORY).upload(events.filename.name, fake_log, encode_message(events))
    assert world.poll() == []
    assert world.protocol_errors() - before == 1
    (line,) = [assert_clean_log_line(r) for r in world.warnings()]
    assert "event log" in line
    assert world.sandbox.received_mail(VICTIM) == []


def test_forged_peer_request_is_not_auto_approved(world: World) -> None:
    config = parse_config(
        {
            "do_email": DO,
            "syftbox_root": None,
            "drive_token_path": str(world.tokens[DO]),
            "gmail_token_path": str(world.tokens[DO]),
            "state_file": str(world.tmp / "approve-state.json"),
            "google_api_root": world.server.url,
            "approve": {"approved_domains": ["partner.example"], "interval": 1},
        }
    )
    approve = ApproveMonitor.from_config_model(config)
    approve.check()  # baseline
    world.share_folder(MALLORY, current_channel_name(V, DO, "inbox", VICTIM))
    approve.check()
    assert approve.last_report is not None
    assert approve.last_report.peers_accepted == 0
    peers = [f for f in world.sandbox.find(name="SYFT_peers.json", owner=DO)]
    for found in peers:
        assert VICTIM not in world.sandbox.content(found.id).decode()
    assert world.sandbox.received_mail(VICTIM) == []


# --- duplicates and stale versions ------------------------------------------------------------


def test_duplicate_and_stale_channel_folders_give_one_request_each(world: World) -> None:
    # Predates the monitor's baseline: a later duplicate must not be announced either.
    old_timer = "oldtimer@uni.example"
    world.sandbox.add_user(old_timer)
    world.share_folder(old_timer, current_channel_name(V, DO, "inbox", old_timer))
    world.monitor.state.update(lambda doc: doc.cursors.clear())  # re-baseline with it present
    world.poll()
    peers = {
        "dup@uni.example": [V, V],
        "stale@uni.example": ["0.0.1", V],
        "future@uni.example": ["99.0.0"],
        "both@uni.example": ["legacy", V],
        "outboxonly@uni.example": ["outbox"],
        "Case@Uni.example": [V, "lower"],
    }
    for peer, variants in peers.items():
        world.sandbox.add_user(peer)
        for variant in variants:
            if variant == "legacy":
                name = legacy_channel_name(peer, DO)
            elif variant == "outbox":
                name = current_channel_name(V, DO, "outbox", peer)
            elif variant == "lower":
                name = current_channel_name(V, DO, "inbox", peer.lower())
            else:
                name = current_channel_name(variant, DO, "inbox", peer)
            world.share_folder(peer, name)
    world.share_folder(old_timer, current_channel_name(V, DO, "inbox", old_timer))
    sent = [(str(m.message["To"]), str(m.message["Subject"])) for m in world.poll()]
    to_owner = sorted(subject.lower() for to, subject in sent if to == DO)
    assert to_owner == sorted(f"new peer request from {peer.lower()}" for peer in peers), sent
    assert len(sent) == 2 * len(peers), sent
    assert world.poll() == []


# --- job content -----------------------------------------------------------------------------

LONG_MARKUP = "<>\"'&" * 60
JOB_CASES: list[tuple[str, str, dict[str, str]]] = [
    ("html-name", "<img src=x onerror=alert(1)>", {"main.py": "print(1)\n"}),
    ("shell-name", "$(touch pwned-syft); `id` | tee x", {"main.py": "print(1)\n"}),
    ("cyrillic-name", "tr\u0430in", {"main.py": "print(1)\n"}),
    ("long-markup-name", LONG_MARKUP[:250], {"main.py": "print(1)\n"}),
    ("html-file-name", "files", {"<img src=x onerror=alert(1)>.py": "x = 1\n"}),
    ("script-in-code", "code", {"main.py": "s = '</pre><script>alert(1)</script>'\n"}),
]


def html_of(record: MailRecord) -> str:
    for part in record.message.walk():
        if part.get_content_type() == "text/html":
            return str(part.get_content())
    raise AssertionError("no HTML part")


def test_hostile_job_content_is_escaped_and_refused_names_are_counted(world: World) -> None:
    alice = world.scientist(ALICE)
    alice.request_peer(DO)
    world.poll()
    for _, name, files in JOB_CASES:
        alice.submit_job(DO, name, files)
    before = world.protocol_errors()
    # Names no folder may have: refused by the codec, counted, nobody emailed.
    for bad in ("crlf\r\nBcc: all@corp.example", "gpj.\u202eexe"):
        alice.upload(message_name(), alice._inbox[DO], raw_proposal(ALICE, job_files(ALICE, bad)))
    world.caplog.clear()
    sent = world.poll()
    assert world.protocol_errors() - before == 2
    refusals = [assert_clean_log_line(r) for r in world.warnings()]
    assert len(refusals) == 2, refusals
    assert len(sent) == 2 * len(JOB_CASES)
    for record in sent:
        check_mime(record.raw, frozenset({DO, ALICE}))
    subjects = {str(m.message["Subject"]) for m in sent if str(m.message["To"]) == DO}
    for case, name, _ in JOB_CASES[:3]:
        assert f"Job: {name}" in subjects, case
    long_subject = next(s for s in subjects if s.startswith("Job: <>"))
    assert len(long_subject) <= 200
    owner_html = "\n".join(html_of(m) for m in sent if str(m.message["To"]) == DO)
    # The hostile text is there, escaped, not dropped.
    assert "&lt;img src=x onerror=alert(1)&gt;" in owner_html
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in owner_html
    assert not Path("pwned-syft").exists()
    assert not (world.tmp / "pwned-syft").exists()


def test_hostile_status_details_are_escaped(world: World) -> None:
    alice = world.scientist(ALICE)
    owner = world.owner()
    alice.submit_job(DO, "train", {"main.py": "print(1)\n"})
    alice.submit_job(DO, "other", {"main.py": "print(2)\n"})
    alice.submit_job(DO, "third", {"main.py": "print(3)\n"})
    world.poll()
    review = f"app_data/job/review/{ALICE}/"
    stderr = "Traceback\n<script>alert(1)</script>\x1b[31mred\x1b[0m\r\nBcc: all@corp.example\n"
    states = {
        "train": {"status": "failed", "return_code": 3, "approved_by": DO},
        "other": {"status": "rejected", "review_reason": "<b>no</b>\r\nBcc: all@corp.example"},
        "third": {
            "status": "approved",
            "approved_by": "<a href=javascript:alert(1)>me</a>",
            "approval_method": "manual\r\nBcc: all@corp.example",
        },
    }
    files: dict[str, bytes | str | None] = {
        review + f"{job}/state.yaml": yaml.safe_dump(state) for job, state in states.items()
    }
    files[review + "train/stderr.txt"] = stderr
    files[review + "train/returncode.txt"] = "3"
    events = new_events_message(DO, files)
    owner.upload(events.filename.name, owner.event_log(), encode_message(events))
    sent = world.poll()
    subjects = sorted(str(m.message["Subject"]) for m in sent)
    assert "Job Not Approved: other" in subjects
    assert "Job Approved: third" in subjects
    for record in sent:
        check_mime(record.raw, frozenset({DO, ALICE}))
    html = "\n".join(html_of(m) for m in sent)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;no&lt;/b&gt;" in html
    assert "&lt;a href=javascript:alert(1)&gt;me&lt;/a&gt;" in html
    assert "\x1b" not in html


# --- hostile messages --------------------------------------------------------------------------


def _tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        info = tarfile.TarInfo("padding.bin")
        info.size = 51 * MIB
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    return buffer.getvalue()


def _symlink() -> bytes:
    link = tarfile.TarInfo(MEMBER_NAME)
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    return _tar_gz([(link, None)])


def _hash_mismatch() -> bytes:
    data = json.loads(member_json(raw_proposal(ALICE, job_files(ALICE, "h"))))
    data["proposed_file_changes"][0]["new_hash"] = "0" * 64
    return write_member(json.dumps(data).encode())


def member_json(archive: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile(MEMBER_NAME)
        assert member is not None
        return member.read()


MESSAGE_CASES: list[tuple[str, Any, bool]] = [
    ("random-bytes", lambda: os.urandom(2048).replace(b"\x1f", b"\x00"), True),
    ("decompression-bomb", _bomb, True),
    ("symlink-member", _symlink, True),
    ("dotdot-path", lambda: raw_proposal(ALICE, {"app_data/../../etc/passwd": b"x"}), True),
    (
        "json-bomb",
        lambda: write_member(
            b'{"proposed_file_changes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        ),
        True,
    ),
    ("hash-mismatch", _hash_mismatch, True),
    (
        "other-owner",
        lambda: raw_proposal(ALICE, job_files(ALICE, "elsewhere"), datasite="x@other.example"),
        False,
    ),
]


def test_hostile_messages_are_skipped_once_each(world: World) -> None:
    alice = world.scientist(ALICE)
    alice.request_peer(DO)
    world.poll()
    before = world.protocol_errors()
    world.caplog.clear()
    for _, build, _ in MESSAGE_CASES:
        alice.upload(message_name(), alice._inbox[DO], build())
    assert world.poll() == []
    refused = sum(1 for _, _, counted in MESSAGE_CASES if counted)
    assert world.protocol_errors() - before == refused
    lines = [assert_clean_log_line(r) for r in world.warnings()]
    assert len(lines) == refused, lines
    assert world.monitor.state.load().work == {}  # finished, not retried forever
    world.caplog.clear()
    assert world.poll() == []
    assert world.warnings() == []


# --- scale -------------------------------------------------------------------------------------

PEERS = 10_000


def test_ten_thousand_peer_folders(world: World) -> None:
    sandbox = world.sandbox
    bulk = [f"peer{i}@bulk{i % 7}.example" for i in range(PEERS)]
    for email in bulk:
        sandbox.add_user(email)
        world.share_folder(email, current_channel_name(V, DO, "inbox", email))
    world.monitor.state.update(lambda doc: doc.cursors.clear())  # baseline again, with them
    mark = sandbox.mark()
    assert world.poll() == []  # what existed before the monitor is not announced
    baseline = [r.operation for r in sandbox.requests(mark, api="drive")]
    pages = -(-PEERS // 1000)
    # The start token, every page of folders, and one query each for messages, events, peers.
    assert baseline.count("changes.getStartPageToken") == 1
    assert pages <= baseline.count("files.list") <= pages + 4, baseline
    assert len(baseline) <= pages + 6
    mark = sandbox.mark()
    assert world.poll() == []
    assert [r.operation for r in sandbox.requests(mark, api="drive")] == ["changes.list"]
    newcomers = [f"new{i}@fresh.example" for i in range(3)]
    for email in newcomers:
        sandbox.add_user(email)
        world.share_folder(email, current_channel_name(V, DO, "inbox", email))
    mark = sandbox.mark()
    sent = world.poll()
    assert sorted(str(m.message["To"]) for m in sent) == sorted([DO] * 3 + newcomers)
    # Still one feed request for the whole poll: the new folders came with it.
    assert [r.operation for r in sandbox.requests(mark, api="drive")] == ["changes.list"]
