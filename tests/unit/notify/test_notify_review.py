"""The new-job email shows everything that runs, and says when a reply cannot approve the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.job_folders.approval import submission_hashes
from syft_monitors.notify.plan import NotifyConfig, plan_notifications
from syft_monitors.notify.preview import MAX_FILE_BYTES, MAX_TOTAL_CODE_BYTES
from syft_monitors.notify.review import REVIEW_HEADER, build_review, review_digest

DO, DS = "owner@hospital.example", "alice@uni.example"
RUN_SH = b"#!/bin/bash\nset -euo pipefail\ncd code\nuv run python main.py\n"
CONFIG = b"dependencies:\n- syft-client==0.1.117\n- pandas\nentrypoint: main.py\ntype: python\n"
PARSED = {
    "type": "python",
    "entrypoint": "main.py",
    "dependencies": ["syft-client==0.1.117", "pandas"],
}


def details(code: dict[str, bytes] | None = None, **changes: object) -> JobDetails:
    base: dict[str, object] = {
        "code": code
        if code is not None
        else {"code/main.py": b"print(1)\n", "code/lib/u.py": b"x=1\n"},
        "run_sh": RUN_SH,
        "config_yaml": CONFIG,
        "config": PARSED,
    }
    base.update(changes)
    return JobDetails(**base)  # type: ignore[arg-type]


def test_the_digest_is_the_one_of_the_same_job_on_disk(tmp_path: Path) -> None:
    job = tmp_path / "job"
    (job / "code" / "lib").mkdir(parents=True)
    (job / "code" / "main.py").write_bytes(b"print(1)\n")
    (job / "code" / "lib" / "u.py").write_bytes(b"x=1\n")
    (job / "run.sh").write_bytes(RUN_SH)
    (job / "config.yaml").write_bytes(CONFIG)
    review = build_review(details())
    assert review.not_replyable is None
    assert review.digest == review_digest(submission_hashes(job))
    (job / "code" / "main.py").write_bytes(b"print(2)\n")
    assert review.digest != review_digest(submission_hashes(job))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"code": {"code/model.bin": b"\x00\x01"}}, "binary file"),
        ({"code": {"code/main.py": b"#" * (MAX_FILE_BYTES + 1)}}, "too large to show whole"),
        (
            {"code": {f"code/f{i}.py": b"#" * (MAX_FILE_BYTES - 10) for i in range(12)}},
            "too large to show whole in an email",
        ),
        ({"run_sh": None}, "run.sh or config.yaml could not be shown"),
        ({"run_sh": b"\xff\xfe"}, "binary or larger"),
        ({"code": {"main.py": b"print(1)\n"}}, "current job layout"),
        ({"files": {"code/main.py": "a" * 64, "code/hidden.py": "b" * 64}}, "could not be shown"),
        ({"config": {"type": "python", "dependencies": "pandas"}}, "does not declare"),
        ({"code_truncated": True}, "too large to show whole in an email"),
    ],
)
def test_what_cannot_be_approved_by_reply(changes: dict[str, object], why: str) -> None:
    if "files" in changes:
        changes["code"] = {"code/main.py": b"print(1)\n"}
    review = build_review(details(**changes))
    assert review.digest is None
    assert review.not_replyable is not None
    assert why in review.not_replyable
    assert 12 * (MAX_FILE_BYTES - 10) > MAX_TOTAL_CODE_BYTES


def new_job(job_details: JobDetails) -> Event:
    return Event(EventKind.NEW_JOB, DO, job=JobRef(DO, DS, "census"), details=job_details)


def test_the_email_shows_run_sh_the_declaration_and_every_file() -> None:
    [do, _] = plan_notifications(new_job(details()), config=NotifyConfig(email_replies=True))
    for needed in ("uv run python main.py", "pandas", "entrypoint main.py", "x=1", "print(1)"):
        assert needed in do.text
        assert do.html is not None
    assert "reply to this email with one of these" in do.text
    assert "deny [reason]" in do.text
    assert do.headers[REVIEW_HEADER] == build_review(details()).digest
    assert "auto-approve" in (do.html or "")


def test_without_email_replies_the_email_gives_no_reply_instructions() -> None:
    [do, _] = plan_notifications(new_job(details()), config=NotifyConfig())
    assert "reply to this email" not in do.text
    assert "uv run python main.py" in do.text  # still shown: the owner reviews it anyway


def test_a_job_that_cannot_be_approved_by_reply_says_so_and_where_to_look() -> None:
    binary = details(code={"code/main.py": b"print(1)\n", "code/w.bin": b"\x00"})
    [do, _] = plan_notifications(new_job(binary), config=NotifyConfig(email_replies=True))
    assert "cannot be approved by replying" in do.text
    assert f"app_data/job/inbox/{DS}/census" in do.text
    assert REVIEW_HEADER not in do.headers
    assert "cannot be approved by replying" in (do.html or "")
