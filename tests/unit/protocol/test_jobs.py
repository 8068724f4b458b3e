"""Jobs inside messages: submissions in proposals, status changes in events."""

from __future__ import annotations

import hashlib

import pytest

from syft_monitors.errors import InvalidEmailError, InvalidJobError
from syft_monitors.protocol.jobs import (
    JobLayout,
    JobStatus,
    extract_jobs,
    jobs_in_message,
    locate_job_path,
    validate_job_name,
)
from syft_sandbox.messages import new_events_message, new_proposed_changes

DS = "first_last+tag@uni-x.edu"
DS2 = "ds_two@lab.example.com"
DO = "data.owner@hospital.example.org"
CONFIG = (
    "name: {name}\ntype: python\nsubmitted_at: '2026-05-14T09:30:00+00:00'\nentrypoint: main.py\n"
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def inbox(ds: str, job: str, rel: str) -> str:
    return f"app_data/job/inbox/{ds}/{job}/{rel}"


def review(ds: str, job: str, rel: str) -> str:
    return f"app_data/job/review/{ds}/{job}/{rel}"


def submission(ds: str, job: str) -> dict[str, str | bytes | None]:
    return {
        inbox(ds, job, "config.yaml"): CONFIG.format(name=job),
        inbox(ds, job, "run.sh"): "#!/bin/bash\npython code/main.py\n",
        inbox(ds, job, "code/main.py"): "print('hi')\n",
    }


def test_current_layout_submission() -> None:
    message = new_proposed_changes(DS, DO, submission(DS, "Job - 1a2b3c4d"), timestamp=1.0)
    extraction = extract_jobs(message)
    assert extraction.rejected == []
    (job,) = extraction.jobs
    assert job.name == "Job - 1a2b3c4d"
    assert job.submitter == DS
    assert job.datasite == DO
    assert job.layout is JobLayout.CURRENT
    assert job.files == {
        "config.yaml": sha(CONFIG.format(name="Job - 1a2b3c4d")),
        "run.sh": sha("#!/bin/bash\npython code/main.py\n"),
        "code/main.py": sha("print('hi')\n"),
    }
    assert job.config == {
        "name": "Job - 1a2b3c4d",
        "type": "python",
        "submitted_at": "2026-05-14T09:30:00+00:00",
        "entrypoint": "main.py",
    }
    assert job.status is None
    assert job.state is None
    assert job.key == (DS, "Job - 1a2b3c4d")
    assert jobs_in_message(message) == extraction.jobs


def test_job_name_is_never_the_literal_inbox() -> None:
    # The old upstream monitor took the segment after "job" and called every job "inbox".
    message = new_proposed_changes(DS, DO, submission(DS, "analysis"), timestamp=1.0)
    assert [job.name for job in jobs_in_message(message)] == ["analysis"]


def test_deleted_files_are_listed_with_no_hash() -> None:
    files = submission(DS, "j")
    files[inbox(DS, "j", "code/old.py")] = None
    (job,) = jobs_in_message(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert job.files["code/old.py"] is None


def test_legacy_layout_submission_uses_the_sender() -> None:
    files = {
        "app_data/job/old job/config.yaml": "name: old job\nsubmitted_by: someone@else.org\n",
        "app_data/job/old job/script.py": "print(1)\n",
    }
    (job,) = jobs_in_message(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert job.layout is JobLayout.LEGACY
    assert job.submitter == DS
    assert job.name == "old job"
    assert set(job.files) == {"config.yaml", "script.py"}


def test_folders_without_config_yaml_are_not_jobs() -> None:
    files = {
        inbox(DS, "half", "run.sh"): "echo\n",
        "app_data/job/inbox/config.yaml": "name: x\n",
        "app_data/other/config.yaml": "name: x\n",
        "public/readme.md": "hi",
    }
    extraction = extract_jobs(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert extraction.jobs == []
    assert extraction.rejected == []


def test_deleting_a_job_is_not_a_submission() -> None:
    files: dict[str, str | bytes | None] = {inbox(DS, "j", "config.yaml"): None}
    assert jobs_in_message(new_proposed_changes(DS, DO, files, timestamp=1.0)) == []


def test_submitter_folder_must_be_the_sender() -> None:
    files = {**submission(DS2, "spoofed"), **submission(DS, "honest")}
    extraction = extract_jobs(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert [job.name for job in extraction.jobs] == ["honest"]
    ((where, error),) = extraction.rejected
    assert where == f"app_data/job/inbox/{DS2}/spoofed"
    assert type(error) is InvalidJobError


def test_submitter_comparison_ignores_case() -> None:
    message = new_proposed_changes(DS, DO, submission(DS.upper(), "j"), timestamp=1.0)
    (job,) = jobs_in_message(message)
    assert job.submitter == DS.upper()


def test_submitter_folder_must_be_an_email() -> None:
    extraction = extract_jobs(
        new_proposed_changes(DS, DO, submission("not-an-email", "j"), timestamp=1.0)
    )
    assert extraction.jobs == []
    assert type(extraction.rejected[0][1]) is InvalidEmailError


@pytest.mark.parametrize(
    "config",
    [
        "name: [unclosed\n",
        "- just\n- a list\n",
        "",
        "a: &x [1, 2]\nb: *x\n",
        "a: " + "[" * 40 + "]" * 40 + "\n",
        "---\na: 1\n---\nb: 2\n",
        "a: !!python/object/apply:os.system ['echo pwned']\n",
        "a: .nan\n",
    ],
)
def test_bad_config_yaml_rejects_only_that_job(config: str) -> None:
    files = {**submission(DS, "good"), **submission(DS, "bad")}
    files[inbox(DS, "bad", "config.yaml")] = config
    extraction = extract_jobs(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert [job.name for job in extraction.jobs] == ["good"]
    ((where, error),) = extraction.rejected
    assert where.endswith("/bad")
    assert type(error) is InvalidJobError


def test_binary_config_yaml_is_rejected() -> None:
    files = submission(DS, "bin")
    files[inbox(DS, "bin", "config.yaml")] = b"\xff\xfe name"
    extraction = extract_jobs(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert type(extraction.rejected[0][1]) is InvalidJobError


def test_oversized_config_yaml_is_rejected() -> None:
    files = submission(DS, "big")
    files[inbox(DS, "big", "config.yaml")] = "a: " + "x" * (300 * 1024) + "\n"
    extraction = extract_jobs(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert type(extraction.rejected[0][1]) is InvalidJobError


def test_html_job_names_are_kept_literally() -> None:
    name = "<img src=x onerror=alert(1)> & <b>&amp;"
    (job,) = jobs_in_message(new_proposed_changes(DS, DO, submission(DS, name), timestamp=1.0))
    assert job.name == name


def test_unicode_job_names_are_accepted() -> None:
    name = "análisis 数据 ☕"
    (job,) = jobs_in_message(new_proposed_changes(DS, DO, submission(DS, name), timestamp=1.0))
    assert job.name == name


@pytest.mark.parametrize(
    "name", ["a\nb", "a\rb", "x\u202etxt.exe", "..", ".", "", "a/b", "n" * 256]
)
def test_validate_job_name_rejects(name: str) -> None:
    with pytest.raises(InvalidJobError):
        validate_job_name(name)


def test_two_data_scientists_may_use_the_same_job_name() -> None:
    first = jobs_in_message(new_proposed_changes(DS, DO, submission(DS, "same"), timestamp=1.0))
    second = jobs_in_message(new_proposed_changes(DS2, DO, submission(DS2, "same"), timestamp=1.0))
    assert first[0].key != second[0].key


def test_proposals_cannot_write_status() -> None:
    files = {review(DS, "j", "state.yaml"): "status: approved\n"}
    extraction = extract_jobs(new_proposed_changes(DS, DO, files, timestamp=1.0))
    assert extraction.jobs == []
    assert extraction.rejected == []


def test_locate_job_path() -> None:
    location = locate_job_path(inbox(DS, "j", "code/a/b.py"))
    assert location is not None
    assert (location.layout, location.area, location.submitter, location.name) == (
        JobLayout.CURRENT,
        "inbox",
        DS,
        "j",
    )
    assert location.relative == "code/a/b.py"
    assert location.job_dir == f"app_data/job/inbox/{DS}/j"
    legacy = locate_job_path("app_data/job/j/config.yaml")
    assert legacy is not None
    assert legacy.layout is JobLayout.LEGACY
    assert legacy.job_dir == "app_data/job/j"
    assert locate_job_path("app_data/job/inbox/x/config.yaml") is None
    assert locate_job_path("app_data/job/config.yaml") is None
    assert locate_job_path("app_data/jobs/j/config.yaml") is None


# --- events ----------------------------------------------------------------------------------


STATE = (
    "status: {status}\nreceived_at: '2026-05-14T09:30:00+00:00'\napproved_by: {do}\n"
    "approved_at: '2026-05-14T10:00:00+00:00'\napproval_method: manual\nreturn_code: null\n"
)


@pytest.mark.parametrize("status", list(JobStatus))
def test_state_yaml_event_carries_the_status(status: JobStatus) -> None:
    files = {
        review(DS, "j", "state.yaml"): STATE.format(status=status, do=DO),
        review(DS, "j", "stdout.txt"): "out\n",
    }
    (job,) = jobs_in_message(new_events_message(DO, files, timestamp=2.0))
    assert job.status == status
    assert job.state is not None
    assert job.state["approved_by"] == DO
    assert job.state["approval_method"] == "manual"
    assert job.submitter == DS
    assert job.files == {}  # only submission files are listed; logs are in the changes


def test_unknown_status_is_rejected() -> None:
    files = {review(DS, "j", "state.yaml"): "status: hacked\n"}
    extraction = extract_jobs(new_events_message(DO, files, timestamp=2.0))
    assert extraction.jobs == []
    assert type(extraction.rejected[0][1]) is InvalidJobError


def test_state_yaml_without_status_is_rejected() -> None:
    files = {review(DS, "j", "state.yaml"): "approved_by: x\n"}
    extraction = extract_jobs(new_events_message(DO, files, timestamp=2.0))
    assert type(extraction.rejected[0][1]) is InvalidJobError


def test_echoed_submission_events_are_jobs_without_status() -> None:
    (job,) = jobs_in_message(new_events_message(DO, submission(DS, "j"), timestamp=2.0))
    assert job.status is None
    assert job.config is not None
    assert job.config["name"] == "j"
    assert set(job.files) == {"config.yaml", "run.sh", "code/main.py"}


def test_submission_and_status_in_one_events_message_merge() -> None:
    files = {**submission(DS, "j"), review(DS, "j", "state.yaml"): "status: pending\n"}
    (job,) = jobs_in_message(new_events_message(DO, files, timestamp=2.0))
    assert job.status == "pending"
    assert "config.yaml" in job.files


def test_logs_without_state_are_not_jobs() -> None:
    files = {review(DS, "j", "stdout.txt"): "x", review(DS, "j", "state.yaml"): None}
    extraction = extract_jobs(new_events_message(DO, files, timestamp=2.0))
    assert extraction.jobs == []
    assert extraction.rejected == []


def test_legacy_markers_give_status_done_over_approved() -> None:
    config = f"name: old\nsubmitted_by: {DS}\n"
    approved = {"app_data/job/old/config.yaml": config, "app_data/job/old/approved": ""}
    (job,) = jobs_in_message(new_events_message(DO, approved, timestamp=2.0))
    assert (job.status, job.layout, job.submitter) == ("approved", JobLayout.LEGACY, DS)
    assert job.files == {"config.yaml": sha(config)}
    done = {**approved, "app_data/job/old/done": ""}
    (job,) = jobs_in_message(new_events_message(DO, done, timestamp=2.0))
    assert job.status == "done"


def test_legacy_marker_without_submitter_is_rejected() -> None:
    extraction = extract_jobs(new_events_message(DO, {"app_data/job/old/done": ""}, timestamp=2.0))
    assert extraction.jobs == []
    assert type(extraction.rejected[0][1]) is InvalidJobError


def test_legacy_invalid_submitted_by_is_rejected() -> None:
    files = {"app_data/job/old/config.yaml": "submitted_by: '<b>x</b>'\n"}
    extraction = extract_jobs(new_events_message(DO, files, timestamp=2.0))
    assert type(extraction.rejected[0][1]) is InvalidEmailError
