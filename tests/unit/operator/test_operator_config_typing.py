"""The operator builds the monitor config through `MonitorConfig`: mypy checks every key.

A key renamed on one side (a `MonitorConfig` field, or the operator's keyword) must fail type
checking instead of rendering a config the monitor refuses at start-up. That holds only while
mypy's pydantic plugin is configured as pyproject.toml says (`init_typed`, without which every
argument is `Any`; the plugin, without which aliased fields cannot be passed by name): this runs
mypy with that configuration on a snippet with one mistake per line.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SNIPPET = textwrap.dedent(
    """
    from pathlib import Path

    from syft_monitors.approve_rules import ApproveSettings
    from syft_monitors.config import MonitorConfig
    from syft_operator.crd import Quantities

    MonitorConfig(do_email="a@b.example.org", notify_on_aproved=False)
    MonitorConfig(do_email="a@b.example.org", state_file="/tmp/state.json")
    ApproveSettings(intervall=5)
    # Aliased fields: the operator's models take field names too (populate_by_name).
    Quantities(ephemeral_storage="1Gi")
    MonitorConfig(do_email="a@b.example.org", state_file=Path("/tmp/state.json"))
    """
)


def test_a_misspelled_or_mistyped_config_key_fails_mypy(tmp_path: Path) -> None:
    source = tmp_path / "operator_snippet.py"
    source.write_text(SNIPPET)
    # In a process of its own: mypy raises the interpreter's recursion limit for good, which
    # would change what later tests in this process see (deeply nested YAML, for one).
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            "--hide-error-context",
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=240,
    )
    stdout, status = result.stdout, result.returncode
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert status == 1, stdout
    # Lines 8-10 of the snippet are wrong; the aliased and the correct calls (12-13) are not.
    assert lines == [8, 9, 10], stdout
    assert 'Unexpected keyword argument "notify_on_aproved"' in stdout
    assert 'incompatible type "str"; expected "Path"' in stdout
    assert 'Unexpected keyword argument "intervall"' in stdout
