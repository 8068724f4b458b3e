"""Rule and settings models: who is accepted, which rule applies to whom."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from syft_monitors.approve_rules import (
    ApproveSettings,
    AutoApprovalRule,
    FileHash,
    JobSpec,
    email_domain,
)

HEX = "ab" * 32


def test_domain_is_the_part_after_the_last_at_lower_cased() -> None:
    assert email_domain("Ann@Uni.Example") == "uni.example"
    assert email_domain("weird@name@x.org") == "x.org"


@pytest.mark.parametrize(
    ("email", "accepted"),
    [
        ("dana@example.com", True),
        ("DANA@EXAMPLE.COM", True),
        ("eve@evil-example.com", False),
        ("a@x.example.com", False),
        ("a@example.com.evil.org", False),
        ("listed@other.org", True),
        ("LISTED@other.org", True),
        ("rule-peer@lab.org", True),
        ("nobody@lab.org", False),
    ],
)
def test_accepts_peer_exact_matches_only(email: str, accepted: bool) -> None:
    settings = ApproveSettings(
        approved_domains=("@Example.COM",),
        approved_peers=("listed@other.org",),
        auto_approvals=(
            AutoApprovalRule(name="r", peers=("Rule-Peer@lab.org",), file_paths=("main.py",)),
        ),
    )
    assert settings.accepts_peer(email) is accepted


def test_no_peer_rules_means_nothing_to_accept() -> None:
    assert not ApproveSettings().accepts_any_peer
    assert ApproveSettings(approved_domains=("x.org",)).accepts_any_peer


def test_rule_without_peers_allows_anyone_and_with_peers_only_them() -> None:
    anyone = AutoApprovalRule(name="a", file_paths=("main.py",))
    only = AutoApprovalRule(name="b", peers=("Ann@x.org",), file_paths=("main.py",))
    assert anyone.allows_submitter("who@ever.org")
    assert only.allows_submitter("ann@X.org")
    assert not only.allows_submitter("bob@x.org")


def test_hashes_accept_a_prefix_and_case_and_refuse_short_ones() -> None:
    assert FileHash(relative_path="a.py", sha256="SHA256:" + HEX.upper()).sha256 == HEX
    with pytest.raises(ValidationError):
        FileHash(relative_path="a.py", sha256="abc")
    rule = AutoApprovalRule(name="r", file_paths=("a",), run_sh_sha256=(HEX, "sha256:" + HEX))
    assert rule.run_sh_sha256 == (HEX,)


@pytest.mark.parametrize("path", ["/abs.py", "../up.py", "a//b.py", "a\\b.py", "./a.py", ""])
def test_rule_paths_must_be_clean_relative_paths(path: str) -> None:
    with pytest.raises(ValidationError):
        AutoApprovalRule(name="r", file_paths=(path,))


def test_rule_needs_files_and_unique_paths_and_names() -> None:
    with pytest.raises(ValidationError):
        AutoApprovalRule(name="r")
    with pytest.raises(ValidationError):
        AutoApprovalRule(
            name="r",
            file_contents=(FileHash(relative_path="a.py", sha256=HEX),),
            file_paths=("a.py",),
        )
    rule = AutoApprovalRule(name="r", file_paths=("a.py",))
    with pytest.raises(ValidationError):
        ApproveSettings(auto_approvals=(rule, rule))


def test_path_only_code_or_install_files_leave_what_runs_open() -> None:
    job = JobSpec(type="python", entrypoint="main.py", dependencies=("syft-client==0.1.117",))
    pinned = AutoApprovalRule(
        name="r",
        file_contents=(FileHash(relative_path="main.py", sha256=HEX),),
        file_paths=("params.json",),
        job=job,
        canonical_run_sh=True,
    )
    assert pinned.unreviewed() == ()
    assert not pinned.inert
    for path in ("lib/helper.py", "uv.toml", "pyproject.toml", "sub/uv.lock", "x.pth"):
        loose = pinned.model_copy(update={"file_paths": ("params.json", path)})
        assert loose.inert, path
        assert loose.refusal() is not None
        assert path in (loose.refusal() or "")
