"""Editing the approve: section in place: comments elsewhere survive, bad edits never land."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from syft_monitors.approve.config_file import edit_settings, read_settings, replace_section
from syft_monitors.approve_rules import ApproveSettings
from syft_monitors.errors import ConfigError

CONFIG = """\
# My config
do_email: owner@x.org   # the owner
sender: file

# approval rules
approve:
  # this comment is inside the block and is replaced
  interval: 7
  approved_domains: [old.org]

# notifications below
notify_on_new_job: false
"""


def with_domain(domain: str) -> Callable[[ApproveSettings], ApproveSettings]:
    def change(settings: ApproveSettings) -> ApproveSettings:
        return settings.model_copy(
            update={"approved_domains": (*settings.approved_domains, domain)}
        )

    return change


def test_block_is_replaced_and_everything_else_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    path.chmod(0o640)
    result = edit_settings(path, with_domain("new.org"))
    text = path.read_text()
    assert result.comments_kept
    assert text.startswith("# My config\ndo_email: owner@x.org   # the owner\nsender: file\n")
    assert "# approval rules\napprove:\n" in text
    assert text.endswith("\n# notifications below\nnotify_on_new_job: false\n")
    assert "inside the block" not in text
    assert read_settings(path).approved_domains == ("old.org", "new.org")
    assert read_settings(path).interval == 7
    assert path.stat().st_mode & 0o777 == 0o640


def test_section_is_appended_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("do_email: owner@x.org\n# last line comment")
    edit_settings(path, with_domain("a.org"))
    text = path.read_text()
    assert text.startswith("do_email: owner@x.org\n# last line comment\napprove:\n")
    assert read_settings(path).approved_domains == ("a.org",)


def test_unusual_file_is_rewritten_whole(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('{"do_email": "owner@x.org", "approve": {"interval": 9}}\n')
    result = edit_settings(path, with_domain("a.org"))
    assert not result.comments_kept
    data = yaml.safe_load(path.read_text())
    assert data["approve"]["approved_domains"] == ["a.org"]
    assert data["do_email"] == "owner@x.org"


def test_invalid_config_is_refused_and_not_written(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("do_email: owner@x.org\ncolour: blue\n")
    with pytest.raises(ConfigError, match="colour"):
        edit_settings(path, with_domain("a.org"))
    assert path.read_text() == "do_email: owner@x.org\ncolour: blue\n"
    with pytest.raises(ConfigError, match="not found"):
        read_settings(tmp_path / "missing.yaml")


def test_a_repeated_key_is_refused_and_not_written(tmp_path: Path) -> None:
    # Rewriting would have kept only the last `approve:` block, silently dropping the first.
    path = tmp_path / "config.yaml"
    text = "do_email: owner@x.org\napprove:\n  interval: 5\napprove:\n  interval: 9\n"
    path.write_text(text)
    for action in (lambda: edit_settings(path, with_domain("a.org")), lambda: read_settings(path)):
        with pytest.raises(ConfigError, match=r"duplicate key 'approve' \(first on line 2\)"):
            action()
    assert path.read_text() == text


def test_replace_section_refuses_two_sections() -> None:
    assert replace_section("approve: {}\napprove: {}\n", "approve: {}\n") is None
