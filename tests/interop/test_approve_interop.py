"""Our approve service answers a real upstream client, and upstream reads the answers.

The data scientist and the data owner are upstream's own clients (syft-client 0.1.117,
syft-job 0.1.39, in `.venv-interop`) on upstream's in-process Drive double; our approve service
works on the same Drive, handed over to our sandbox and back (`drive_transfer`), and on the data
owner's real SyftBox folder. The flow:

1. upstream: the data scientist asks the data owner to peer;
2. ours: the approve service accepts the request (domain rule) and the job rule is in place;
3. upstream: the data scientist's client sees the owner as accepted, so does the owner's client;
   the data scientist submits a job and the owner's real sync receives it onto its disk;
4. ours: the approve service approves the job on disk;
5. upstream: the owner's syft-job lists the job as approved, approval method auto.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from drive_transfer import export_drive, import_drive
from interop_support import run_upstream_phase

from syft_monitors.approve.service import ApproveMonitor
from syft_monitors.sandbox import Sandbox

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"
JOB_NAME = "auto approved job"
JOB_CODE = "import json\nprint(json.dumps({'rows': 42}))\n"
SCRIPT = "upstream_peer_flow.py"


def write_config(path: Path, *, root: Path, token: Path, url: str) -> None:
    config = {
        "do_email": DO,
        "syftbox_root": str(root),
        "drive_token_path": str(token),
        "gmail_token_path": str(token),
        "state_file": str(path.parent / "state.json"),
        "google_api_root": url,
        "sender": "file",
        "mail_folder": str(path.parent / "mail"),
        "approve": {
            "approved_domains": ["uni-x.edu"],
            "auto_approvals": [
                {
                    "name": "rows",
                    "peers": [DS],
                    "file_contents": [
                        {
                            "relative_path": "analysis.py",
                            "sha256": hashlib.sha256(JOB_CODE.encode()).hexdigest(),
                        }
                    ],
                }
            ],
        },
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def test_upstream_sees_our_acceptance_and_our_approval(
    interop_python: Path, tmp_path: Path
) -> None:
    work = tmp_path / "flow"
    work.mkdir()
    asked = run_upstream_phase(interop_python, SCRIPT, "request", str(work), workdir=tmp_path)
    assert asked["ds_sees"] == {DO: "requested_by_me"}
    assert asked["owner_sees"] == {DS: "requested_by_peer"}

    sandbox = Sandbox(seed=11)
    for user in (DO, DS):
        sandbox.add_user(user)
    with sandbox.serve() as server:
        tokens = server.write_token_files(tmp_path / "tokens")
        import_drive(sandbox, work / "drive.json")
        config = tmp_path / "config.yaml"
        write_config(config, root=Path(asked["do_root"]), token=tokens[DO], url=server.url)
        monitor = ApproveMonitor.from_config(config)
        monitor.check()
        assert monitor.last_report is not None
        assert monitor.last_report.peers_accepted == 1
        export_drive(sandbox, work / "drive.json")

        answered = run_upstream_phase(
            interop_python, SCRIPT, "check_peer", str(work), workdir=tmp_path
        )
        assert answered["ds_sees"] == {DO: "accepted"}
        assert answered["owner_sees"] == {DS: "accepted"}
        # The owner's own sync accepted the submission: our permission files are upstream's.
        assert answered["job_received"], answered
        assert answered["job_code"] == ["analysis.py"]

        monitor.check()
        assert monitor.last_report is not None
        assert monitor.last_report.jobs_approved == 1
        monitor.stop()

    listed = run_upstream_phase(interop_python, SCRIPT, "check_job", str(work), workdir=tmp_path)
    assert {
        "submitted_by": DS,
        "name": JOB_NAME,
        "status": "approved",
        "approval_method": "auto",
    } in listed["jobs"]
