"""`syft-bg inspect name`: JSON and text output, and the exit status for bad names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from syft_monitors.cli.main import cli
from syft_monitors.errors import InvalidNameError

SYFT_BG = Path(sys.executable).parent / "syft-bg"
KEYS = ["kind", "generation", "sender", "recipient", "datasite", "peer", "direction", "version"]


def _invoke(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, ["inspect", "name", *args])
    return result.exit_code, result.output, result.exception


def test_json_for_a_current_channel() -> None:
    code, output, _ = _invoke("syft_datasite#0.1.117#do@uni.edu#outbox#ds@lab.org", "--json")
    assert code == 0
    assert json.loads(output) == {
        "kind": "peer_channel",
        "generation": "current",
        "sender": "do@uni.edu",
        "recipient": "ds@lab.org",
        "datasite": "do@uni.edu",
        "peer": "ds@lab.org",
        "direction": "outbox",
        "version": "0.1.117",
    }


@pytest.mark.parametrize(
    ("name", "kind", "generation"),
    [
        ("syft_outbox_inbox_a_to_b@x.io_to_c@y.io", "peer_channel", "legacy"),
        ("syft_a@x.io_to_b@y.io_archive", "archive", None),
        ("0.1.117#do@uni.edu", "event_log", "current"),
        ("do@uni.edu", "event_log", "legacy"),
        ("SYFT_peers.json", "peers_file", None),
        ("SYFT_version.json", "version_file", None),
        ("holiday.jpg", "unknown", None),
    ],
)
def test_json_kind_and_generation(name: str, kind: str, generation: str | None) -> None:
    code, output, _ = _invoke(name, "--json")
    assert code == 0
    document = json.loads(output)
    assert list(document) == KEYS
    assert (document["kind"], document["generation"]) == (kind, generation)


def test_text_summary_shows_only_what_applies() -> None:
    code, output, _ = _invoke("syft_outbox_inbox_a_to_b@x.io_to_c@y.io")
    assert code == 0
    assert output.splitlines() == [
        "kind: peer_channel",
        "generation: legacy",
        "sender: a_to_b@x.io",
        "recipient: c@y.io",
    ]


def test_text_summary_for_an_unknown_name_does_not_echo_it() -> None:
    code, output, _ = _invoke("<b>holiday</b>.jpg")
    assert (code, output) == (0, "kind: unknown\n")


def test_a_bad_syftbox_name_raises_our_error() -> None:
    code, output, error = _invoke("syft_datasite#0.1.117#do@uni.edu#inbox", "--json")
    assert code != 0
    assert output == ""
    assert isinstance(error, InvalidNameError)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYFT_BG.exists(), f"console script missing: {SYFT_BG}"
    return subprocess.run(
        [str(SYFT_BG), "inspect", "name", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_real_command_exits_0_for_unknown_names() -> None:
    done = _run("holiday.jpg", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "unknown"
    assert done.stderr == ""


@pytest.mark.parametrize(
    "name",
    [
        "syft_datasite#0.1.117#do@uni.edu#inbox#ds@lab.org#extra",
        "syft_datasite#0.1.117#do@uni.edu#inbox#ds@lab.org\r\nX-Injected: 1",
        "syft_datasite#0.1.117#<script>alert(1)</script>#inbox#ds@lab.org",
        "syft_outbox_inbox_" + "a" * 10_000,
    ],
)
def test_real_command_exits_2_with_one_error_line(name: str) -> None:
    done = _run(name, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
    assert "X-Injected: 1\n" not in done.stderr
