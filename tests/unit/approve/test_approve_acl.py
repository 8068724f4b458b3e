"""The job-folder permission files written when a peer is accepted."""

from __future__ import annotations

from pathlib import Path

import yaml

from syft_monitors.approve.acl import grant_job_folders

DO = "do@x.org"
DS = "ds@y.org"


def read(root: Path, area: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(
        (root / DO / "app_data/job" / area / DS / "syft.pub.yaml").read_text()
    )
    return loaded


def test_inbox_write_and_review_read_in_the_upstream_format(tmp_path: Path) -> None:
    written = grant_job_folders(tmp_path, DO, DS)
    assert len(written) == 2
    assert read(tmp_path, "inbox") == {
        "rules": [{"access": {"admin": [], "read": [], "write": [DS]}, "pattern": "**"}],
        "terminal": False,
    }
    assert read(tmp_path, "review")["rules"] == [
        {"access": {"admin": [], "read": [DS], "write": []}, "pattern": "**"}
    ]
    assert grant_job_folders(tmp_path, DO, DS) == []  # already in place: nothing rewritten


def test_existing_file_is_extended_not_replaced(tmp_path: Path) -> None:
    folder = tmp_path / DO / "app_data/job/inbox" / DS
    folder.mkdir(parents=True)
    original = {
        "rules": [
            {"pattern": "*.csv", "access": {"read": ["x@z.org"]}},
            {"pattern": "**", "access": {"admin": ["a@z.org"], "read": [], "write": ["b@z.org"]}},
        ],
        "terminal": True,
    }
    (folder / "syft.pub.yaml").write_text(yaml.safe_dump(original))
    grant_job_folders(tmp_path, DO, DS)
    updated = read(tmp_path, "inbox")
    assert updated["terminal"] is True
    assert updated["rules"][0] == original["rules"][0]  # type: ignore[index]
    assert updated["rules"][1]["access"]["write"] == ["b@z.org", DS]  # type: ignore[index]


def test_unreadable_file_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / DO / "app_data/job/inbox" / DS
    folder.mkdir(parents=True)
    (folder / "syft.pub.yaml").write_text("rules: [unclosed\n")
    grant_job_folders(tmp_path, DO, DS)
    assert (folder / "syft.pub.yaml").read_text() == "rules: [unclosed\n"
