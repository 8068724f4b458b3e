"""Defaults a new data owner meets: upstream's SyftBox folder, the Gmail scope init asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from syft_monitors.config import MonitorConfig, default_syftbox_root
from syft_monitors.services.init_config import render_config

EMAIL = "owner@uni.example"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_syftbox_folder_is_upstreams_per_email_folder(home: Path) -> None:
    assert default_syftbox_root(EMAIL) == home / f"SyftBox_{EMAIL}"
    assert MonitorConfig(do_email=EMAIL).syftbox_root == home / f"SyftBox_{EMAIL}"


def test_an_existing_plain_syftbox_folder_is_the_fallback(home: Path) -> None:
    (home / "SyftBox").mkdir()
    assert default_syftbox_root(EMAIL) == home / "SyftBox"
    (home / f"SyftBox_{EMAIL}").mkdir()
    assert default_syftbox_root(EMAIL) == home / f"SyftBox_{EMAIL}"


def test_an_explicit_null_means_no_local_folder(home: Path) -> None:
    assert MonitorConfig(do_email=EMAIL, syftbox_root=None).syftbox_root is None


def test_init_and_readme_ask_for_the_same_gmail_scope(home: Path) -> None:
    text = render_config(do_email=EMAIL, home=home)
    assert f'syftbox_root: "{home / f"SyftBox_{EMAIL}"}"' in text
    assert "the Gmail token needs\n# https://www.googleapis.com/auth/gmail.modify" in text
    assert "auth/gmail.send." not in text  # once the requirement, now only the fallback
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "auth/gmail.modify" in readme
