"""A decision made by replying to the new-job email is read by the real upstream `syft-job`.

The data scientist and the data owner are upstream's own clients (syft-client 0.1.117, syft-job
0.1.39, in `.venv-interop`): the data scientist asks to peer and submits a job, the owner's real
sync puts it on the owner's disk. Ours: the approve service accepts the peer (domain rule), the
notify service sends the new-job email through the sandbox's Gmail, the data owner replies
`approve` (or `deny <reason>`) in the thread, and the approve service reads the reply from the
history feed and writes the decision. Then upstream's `syft-job` lists the job as approved (and
its runner would run it) or as rejected with the reason (and its runner would not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from drive_transfer import export_drive, import_drive
from google.oauth2.credentials import Credentials
from interop_support import run_upstream_phase

from syft_monitors.approve.service import ApproveMonitor
from syft_monitors.google.clients import build_gmail_service
from syft_monitors.monitors.seed_monitors import NotificationMonitor
from syft_sandbox import Sandbox
from syft_sandbox.mail_actors import MailUser

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"
JOB_NAME = "auto approved job"
SCRIPT = "upstream_peer_flow.py"


def write_config(path: Path, *, root: Path, token: Path, url: str) -> None:
    config: dict[str, Any] = {
        "do_email": DO,
        "syftbox_root": str(root),
        "drive_token_path": str(token),
        "gmail_token_path": str(token),
        "state_file": str(path.parent / "state.json"),
        "google_api_root": url,
        "sender": "gmail",
        "flood": {"enabled": False},
        "approve": {"approved_domains": ["uni-x.edu"], "email_replies": True},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


@pytest.mark.parametrize("answer", ["approve", "deny it reads every row"])
def test_upstream_reads_a_decision_made_by_email_reply(
    interop_python: Path, tmp_path: Path, answer: str
) -> None:
    work = tmp_path / "flow"
    work.mkdir()
    asked = run_upstream_phase(interop_python, SCRIPT, "request", str(work), workdir=tmp_path)
    root = Path(asked["do_root"])

    sandbox = Sandbox(seed=18)
    for user in (DO, DS):
        sandbox.add_user(user)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        import_drive(sandbox, work / "drive.json")
        config = tmp_path / "config.yaml"
        write_config(config, root=root, token=tokens[DO], url=server.url)
        approve = ApproveMonitor.from_config(config)
        notify = NotificationMonitor.from_config(config)
        approve.check()  # accepts the peer; takes the Gmail baseline
        assert approve.last_report is not None
        assert approve.last_report.peers_accepted == 1
        notify.check()  # the notify baseline: jobs from now on are new
        export_drive(sandbox, work / "drive.json")

        received = run_upstream_phase(
            interop_python, SCRIPT, "check_peer", str(work), workdir=tmp_path
        )
        assert received["job_received"], received

        notify.check()
        [email] = [m for m in sandbox.sent_mail(DO) if m.message["Subject"] == f"Job: {JOB_NAME}"]
        assert email.message["X-Syft-Monitor-Review"]  # the whole job is in the email
        gmail = build_gmail_service(
            Credentials(sandbox.access_token(DO)),  # type: ignore[no-untyped-call]
            api_root=server.url,
        )
        MailUser(DO, gmail).reply(email.thread_id, answer)
        gmail.close()
        approve.check()
        assert approve.last_report is not None
        assert approve.last_report.replies is not None
        assert approve.last_report.replies.decisions == 1
        approve.stop()
        notify.stop()

    listed = run_upstream_phase(interop_python, SCRIPT, "check_job", str(work), workdir=tmp_path)
    (job,) = [j for j in listed["jobs"] if j["name"] == JOB_NAME]
    if answer == "approve":
        assert job["status"] == "approved"
        assert job["approval_method"] == "manual"
        assert listed["runner_would_run"] == [f"{DS}/{JOB_NAME}"]
    else:
        assert job["status"] == "rejected"
        assert job["review_reason"] == "it reads every row"
        assert listed["runner_would_run"] == []
