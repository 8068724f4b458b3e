"""`syft-bg jobs --root --email`: JSON document, readable table, rejected entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from syft_monitors.cli.main import cli
from syft_monitors.errors import InvalidEmailError

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "SyftBox"
    jobs = root / DO / "app_data" / "job"
    current = jobs / "inbox" / DS / "Job - 1a2b"
    current.mkdir(parents=True)
    (current / "config.yaml").write_text(
        "name: Job - 1a2b\nsubmitted_at: '2026-05-14T09:30:00+00:00'\n"
    )
    review = jobs / "review" / DS / "Job - 1a2b"
    review.mkdir(parents=True)
    (review / "state.yaml").write_text("status: approved\n")
    legacy = jobs / "old"
    legacy.mkdir()
    (legacy / "config.yaml").write_text(
        f"name: old\nsubmitted_by: {DS}\nsubmitted_at: '2026-01-01T00:00:00+00:00'\n"
    )
    (legacy / "done").write_text("")
    (jobs / "inbox" / DS / "bad\nname").mkdir()
    return root


def test_jobs_json(root: Path) -> None:
    result = CliRunner().invoke(cli, ["jobs", "--root", str(root), "--email", DO, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jobs = document["jobs"]
    for job in jobs:
        assert job.pop("updated_at") is not None
    assert jobs == [
        {
            "name": "Job - 1a2b",
            "submitter": DS,
            "datasite": DO,
            "layout": "current",
            "status": "approved",
            "submitted_at": "2026-05-14T09:30:00+00:00",
            "path": str((root / DO / "app_data/job/inbox" / DS / "Job - 1a2b").resolve()),
        },
        {
            "name": "old",
            "submitter": DS,
            "datasite": DO,
            "layout": "legacy",
            "status": "done",
            "submitted_at": "2026-01-01T00:00:00+00:00",
            "path": str((root / DO / "app_data/job/old").resolve()),
        },
    ]
    (rejected,) = document["rejected"]
    assert rejected["path"] == str(root / DO / "app_data/job/inbox" / DS / "bad\nname")
    assert "forbidden character U+000A" in rejected["error"]


def test_jobs_table(root: Path) -> None:
    result = CliRunner().invoke(cli, ["jobs", "--root", str(root), "--email", DO])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "LAYOUT", "SUBMITTER", "NAME", "SUBMITTED"]
    assert lines[1].startswith("approved  current  " + DS)
    assert "Job - 1a2b" in lines[1]
    assert lines[2].startswith("done")
    assert "skipped" in result.stderr
    assert "U+000A" in result.stderr


def test_no_jobs(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["jobs", "--root", str(tmp_path), "--email", DO, "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"jobs": [], "rejected": []}
    table = CliRunner().invoke(cli, ["jobs", "--root", str(tmp_path), "--email", DO])
    assert "(no jobs)" in table.stdout


def test_invalid_email_and_missing_root(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["jobs", "--root", str(tmp_path), "--email", "../x"])
    assert isinstance(result.exception, InvalidEmailError)
    missing = CliRunner().invoke(cli, ["jobs", "--root", str(tmp_path / "nope"), "--email", DO])
    assert missing.exit_code == 2
