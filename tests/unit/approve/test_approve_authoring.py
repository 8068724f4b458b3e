"""Building rules from local files and removing peers without ever widening a rule."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from syft_monitors.approve.authoring import (
    add_rule,
    build_rule,
    default_name,
    remove_peer,
    remove_rule,
    rule_from_job,
)
from syft_monitors.approve.run_script import JobDeclaration, canonical_run_script
from syft_monitors.approve_rules import ApproveSettings, AutoApprovalRule
from syft_monitors.errors import ConfigError

DEPS = ("syft-client==0.1.117",)


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
    one = build_rule(
        ApproveSettings(),
        files=[project / "src/main.py"],
        name_only=["params.json"],
        dependencies=DEPS,
    )
    assert one.name == "main"
    assert [(f.relative_path, f.sha256) for f in one.file_contents] == [
        ("main.py", sha(b"print(1)\n"))
    ]
    assert one.file_paths == ("params.json",)
    assert one.peers == ()
    folder = build_rule(
        ApproveSettings(), files=[project / "src"], peers=["ann@x.org"], dependencies=DEPS
    )
    assert [f.relative_path for f in folder.file_contents] == ["lib/util.py", "main.py"]
    assert folder.name == "auto_approval"
    based = build_rule(
        ApproveSettings(),
        files=[project / "src/lib/util.py"],
        base_dir=project / "src",
        entrypoint="lib/util.py",
        dependencies=DEPS,
    )
    assert [f.relative_path for f in based.file_contents] == ["lib/util.py"]


def test_names_are_made_unique_and_explicit_duplicates_refused(project: Path) -> None:
    assert default_name(["my script.py"], []) == "my_script"
    assert default_name(["a.py", "b.py"], ["auto_approval", "auto_approval_1"]) == "auto_approval_2"
    main = [project / "src/main.py"]
    settings = add_rule(
        ApproveSettings(), build_rule(ApproveSettings(), files=main, dependencies=DEPS)
    )
    assert build_rule(settings, files=main, dependencies=DEPS).name == "main_1"
    with pytest.raises(ConfigError, match="exists"):
        build_rule(settings, files=main, name="main", dependencies=DEPS)


def test_built_rule_pins_the_declaration_and_the_generated_run_sh(project: Path) -> None:
    rule = build_rule(
        ApproveSettings(), files=[project / "src"], dependencies=(*DEPS, "pandas==2.2")
    )
    assert rule.job is not None
    assert (rule.job.type, rule.job.entrypoint) == ("python", "main.py")
    assert rule.job.dependencies == (*DEPS, "pandas==2.2")
    assert rule.canonical_run_sh
    assert rule.run_sh_sha256 == ()
    assert not rule.inert
    custom = project / "run.sh"
    custom.write_text("#!/bin/bash\ncd code && python main.py\n")
    pinned = build_rule(
        ApproveSettings(), files=[project / "src"], dependencies=DEPS, run_scripts=[custom]
    )
    assert not pinned.canonical_run_sh
    assert pinned.run_sh_sha256 == (sha(custom.read_bytes()),)


def test_rule_that_would_not_pin_what_runs_is_refused(project: Path) -> None:
    main = [project / "src/main.py"]
    with pytest.raises(ConfigError, match="give the job's dependencies"):
        build_rule(ApproveSettings(), files=main)
    with pytest.raises(ConfigError, match="shell characters"):
        build_rule(ApproveSettings(), files=main, dependencies=(*DEPS, "$(curl evil)"))
    (project / "a.py").write_text("")
    (project / "b.py").write_text("")
    with pytest.raises(ConfigError, match="cannot tell the entrypoint"):
        build_rule(ApproveSettings(), files=[project / "a.py", project / "b.py"], dependencies=DEPS)
    with pytest.raises(ConfigError, match=r"entrypoint main.py \(not content-matched\)"):
        build_rule(
            ApproveSettings(),
            files=[],
            name_only=["main.py"],
            entrypoint="main.py",
            dependencies=DEPS,
        )
    loose = build_rule(ApproveSettings(), files=main, allow_unreviewed_run_sh=True)
    assert loose.job is None
    assert loose.unreviewed()
    assert not loose.inert


def write_job(root: Path, run_sh: str | None = None, deps: tuple[str, ...] = DEPS) -> Path:
    folder = root / "inbox" / "ann@x.org" / "train"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "main.py").write_bytes(b"print(1)\n")
    (folder / "code" / "params.json").write_bytes(b"{}\n")
    config = {
        "name": "train",
        "type": "python",
        "entrypoint": "main.py",
        "dependencies": list(deps),
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    declared = JobDeclaration("python", "main.py", deps)
    generated = canonical_run_script(declared, has_pyproject=False, bash_script=None)
    (folder / "run.sh").write_bytes(run_sh.encode() if run_sh else generated or b"")
    return folder


def test_rule_from_a_reviewed_job_pins_everything(tmp_path: Path) -> None:
    folder = write_job(tmp_path, deps=(*DEPS, "numpy"))
    rule = rule_from_job(ApproveSettings(), folder, name_only=["params.json"])
    assert rule.peers == ("ann@x.org",)
    assert [f.relative_path for f in rule.file_contents] == ["main.py"]
    assert rule.file_paths == ("params.json",)
    assert rule.job is not None
    assert rule.job.dependencies == (*DEPS, "numpy")
    assert rule.canonical_run_sh
    assert rule.run_sh_sha256 == ()
    assert not rule.inert


def test_rule_from_a_job_with_its_own_run_sh_pins_that_script(tmp_path: Path) -> None:
    script = "#!/bin/bash\ncd code && python main.py\n"
    folder = write_job(tmp_path, run_sh=script)
    rule = rule_from_job(ApproveSettings(), folder, peers=["bob@x.org"])
    assert rule.peers == ("bob@x.org",)
    assert not rule.canonical_run_sh
    assert rule.run_sh_sha256 == (sha(script.encode()),)
    assert sorted(f.relative_path for f in rule.file_contents) == ["main.py", "params.json"]


def test_rule_from_a_broken_job_folder_is_refused(tmp_path: Path) -> None:
    folder = write_job(tmp_path)
    (folder / "notes.txt").write_text("not a syft-job folder\n")
    with pytest.raises(ConfigError, match="not a usable job folder"):
        rule_from_job(ApproveSettings(), folder)
    (folder / "notes.txt").unlink()
    with pytest.raises(ConfigError, match=r"no file 'x\.json'"):
        rule_from_job(ApproveSettings(), folder, name_only=["x.json"])


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
