"""Building rules from local files and removing peers without ever widening a rule."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from syft_monitors.approve.authoring import (
    add_rule,
    build_rule,
    default_name,
    remove_peer,
    remove_rule,
)
from syft_monitors.approve.rules import ApproveSettings, AutoApprovalRule
from syft_monitors.errors import ConfigError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src/lib").mkdir(parents=True)
    (tmp_path / "src/main.py").write_bytes(b"print(1)\n")
    (tmp_path / "src/lib/util.py").write_bytes(b"x = 1\n")
    (tmp_path / "src/__pycache__").mkdir()
    (tmp_path / "src/__pycache__/main.pyc").write_bytes(b"\0")
    return tmp_path


def test_files_by_name_folders_by_relative_path(project: Path) -> None:
    one = build_rule(ApproveSettings(), files=[project / "src/main.py"], name_only=["params.json"])
    assert one.name == "main"
    assert [(f.relative_path, f.sha256) for f in one.file_contents] == [
        ("main.py", sha(b"print(1)\n"))
    ]
    assert one.file_paths == ("params.json",)
    assert one.peers == ()
    folder = build_rule(ApproveSettings(), files=[project / "src"], peers=["ann@x.org"])
    assert [f.relative_path for f in folder.file_contents] == ["lib/util.py", "main.py"]
    assert folder.name == "auto_approval"
    based = build_rule(
        ApproveSettings(), files=[project / "src/lib/util.py"], base_dir=project / "src"
    )
    assert [f.relative_path for f in based.file_contents] == ["lib/util.py"]


def test_names_are_made_unique_and_explicit_duplicates_refused(project: Path) -> None:
    assert default_name(["my script.py"], []) == "my_script"
    assert default_name(["a.py", "b.py"], ["auto_approval", "auto_approval_1"]) == "auto_approval_2"
    settings = add_rule(
        ApproveSettings(), build_rule(ApproveSettings(), files=[project / "src/main.py"])
    )
    assert build_rule(settings, files=[project / "src/main.py"]).name == "main_1"
    with pytest.raises(ConfigError, match="exists"):
        build_rule(settings, files=[project / "src/main.py"], name="main")


def test_bad_inputs_are_config_errors(project: Path) -> None:
    with pytest.raises(ConfigError, match="not inside"):
        build_rule(ApproveSettings(), files=[project / "src/main.py"], base_dir=project / "src/lib")
    with pytest.raises(ConfigError):
        build_rule(ApproveSettings(), files=[project / "src/main.py"], peers=["not-an-email"])
    (project / "link.py").symlink_to(project / "src/main.py")
    with pytest.raises(ConfigError, match="symbolic link"):
        build_rule(ApproveSettings(), files=[project / "link.py"])


def rule(name: str, *peers: str) -> AutoApprovalRule:
    return AutoApprovalRule(name=name, peers=peers, file_paths=("main.py",))


def test_remove_peer_never_widens_a_rule() -> None:
    settings = ApproveSettings(
        approved_peers=("ann@x.org",),
        auto_approvals=(
            rule("both", "ann@x.org", "bob@x.org"),
            rule("solo", "Ann@X.org"),
            rule("any"),
        ),
    )
    removal = remove_peer(settings, "ANN@x.org")
    assert removal.narrowed == ("both",)
    assert removal.deleted == ("solo",)
    assert removal.unlisted
    assert [r.name for r in removal.settings.auto_approvals] == ["both", "any"]
    assert removal.settings.auto_approvals[0].peers == ("bob@x.org",)
    assert removal.settings.approved_peers == ()


def test_remove_peer_from_one_rule_and_errors() -> None:
    settings = ApproveSettings(
        approved_peers=("ann@x.org",),
        auto_approvals=(rule("a", "ann@x.org", "bob@x.org"), rule("b", "ann@x.org", "c@x.org")),
    )
    removal = remove_peer(settings, "ann@x.org", name="a")
    assert removal.narrowed == ("a",)
    assert removal.settings.auto_approvals[1].peers == ("ann@x.org", "c@x.org")
    assert removal.settings.approved_peers == ("ann@x.org",)
    with pytest.raises(ConfigError, match="no auto-approval rule"):
        remove_peer(settings, "ann@x.org", name="zzz")
    with pytest.raises(ConfigError, match="not listed"):
        remove_peer(settings, "nobody@x.org")
    assert remove_rule(settings, "a").auto_approvals[0].name == "b"
    with pytest.raises(ConfigError):
        remove_rule(settings, "zzz")
