"""Bad config files through the CLI: `syft-bg run notify --once`, `syft-bg start`, `syft-bg doctor`.

Each defect (YAML syntax, unknown key, wrong type, invalid do_email, nesting too deep, a
5000-digit number, larger than 1 MiB, a directory instead of the file, no file, a missing Drive
token, a Gmail token path that is a directory, a token file that is a FIFO, a token file that is
not JSON, empty, `{}`, a list or nested too deeply) must give, for `run
--once` and `start`, exactly one `error: ...` line on stderr, exit code 2, nothing on stdout for
`run`, and no daemon; for `doctor`, exit code 1 with its check lines (one `FAIL`). The commands
run in-process through `run_cli` (what the `syft-bg` entry point calls); one case per command
also runs the real console script in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from syft_monitors.cli.errors import run_cli
from syft_monitors.cli.main import cli
from syft_monitors.config import MAX_CONFIG_BYTES
from syft_monitors.daemon.logsetup import remove_our_handlers

DO = "owner@hospital.example"
TOKEN = '{"refresh_token": "r", "client_id": "c", "client_secret": "s", "token": "t"}'
# Nothing listens there: the doctor's network checks fail at once instead of reaching Google.
CLOSED = "http://127.0.0.1:9/"


class Home:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config.yaml"
        self.tokens = root / "tokens"
        self.tokens.mkdir()
        (self.tokens / "drive.json").write_text(TOKEN)
        (self.tokens / "gmail.json").write_text(TOKEN)

    def write(self, **overrides: object) -> None:
        data: dict[str, object] = {
            "do_email": DO,
            "syftbox_root": None,
            "drive_token_path": str(self.tokens / "drive.json"),
            "gmail_token_path": str(self.tokens / "gmail.json"),
            "state_file": str(self.root / "state.json"),
            "google_api_root": CLOSED,
        }
        data.update(overrides)
        self.config.write_text(yaml.safe_dump(data))


def _raw(text: bytes) -> Callable[[Home], None]:
    def make(home: Home) -> None:
        home.config.write_bytes(text)

    return make


def _directory(home: Home) -> None:
    home.config.mkdir()


def _missing(home: Home) -> None:
    del home  # no config file at all


def _no_drive_token(home: Home) -> None:
    home.write(drive_token_path=str(home.tokens / "nope.json"))


def _gmail_token_is_a_directory(home: Home) -> None:
    home.write(gmail_token_path=str(home.tokens))


def _token_is_a_fifo(home: Home) -> None:
    os.mkfifo(home.tokens / "fifo.json")
    home.write(drive_token_path=str(home.tokens / "fifo.json"))


def _drive_token(content: bytes) -> Callable[[Home], None]:
    def make(home: Home) -> None:
        (home.tokens / "drive.json").write_bytes(content)
        home.write()

    return make


GOOD = f"do_email: {DO}\n".encode()
CASES: list[tuple[str, Callable[[Home], None], str]] = [
    ("yaml-syntax", _raw(b"do_email: [unclosed\n"), "line"),
    ("unknown-key", _raw(GOOD + b"intervall: 3\n"), "intervall: unknown key"),
    ("wrong-type", _raw(GOOD + b"interval: often\n"), "interval: Input should be"),
    ("invalid-do-email", _raw(b'do_email: "a@b.example\\r\\nBcc: x@y.example"\n'), "do_email"),
    ("too-deep", _raw(GOOD + b"approve: " + b"[" * 5000), "nested too deeply"),
    ("huge-number", _raw(GOOD + b"interval: " + b"7" * 5000 + b"\n"), "cannot be read"),
    ("duplicate-key", _raw(GOOD + b"interval: 5\ninterval: 6\n"), "duplicate key 'interval'"),
    ("too-large", _raw(GOOD + b"#" * (MAX_CONFIG_BYTES + 10)), "larger than"),
    ("directory", _directory, "Is a directory"),
    ("missing-config", _missing, "config file not found"),
    ("missing-drive-token", _no_drive_token, "drive_token_path: token file"),
    ("gmail-token-directory", _gmail_token_is_a_directory, "is a directory, not a token file"),
    ("token-fifo", _token_is_a_fifo, "not a regular file"),
    ("token-not-json", _drive_token(b"not json"), "is not valid JSON"),
    ("token-empty", _drive_token(b""), "is empty"),
    ("token-empty-object", _drive_token(b"{}"), "is not an authorized-user token"),
    ("token-list", _drive_token(b"[]"), "must be a JSON object"),
    # `doctor` printed a RecursionError traceback for this one.
    ("token-deep", _drive_token(b"[" * 30_000 + b"]" * 30_000), "deeper than 64 levels"),
]
IDS = [case for case, _, _ in CASES]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    monkeypatch.setenv("SYFT_MONITOR_HOME", str(tmp_path))
    for name in ("SYFT_GOOGLE_API_ROOT", "SYFT_MONITOR_CONFIG", "SYFT_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    yield Home(tmp_path)
    remove_our_handlers()  # `run` configures root logging in this process


def invoke(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["syft-bg", "--config", str(home.config), *args])
    code = run_cli(cli)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(err: str, fragment: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith("error: "), err
    assert fragment in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(("make", "fragment"), [(m, f) for _, m, f in CASES], ids=IDS)
def test_run_once(
    home: Home,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Home], None],
    fragment: str,
) -> None:
    make(home)
    code, out, err = invoke(home, monkeypatch, capsys, "run", "notify", "--once")
    assert code == 2, err
    assert out == ""
    assert_one_error_line(err, fragment)


@pytest.mark.parametrize(("make", "fragment"), [(m, f) for _, m, f in CASES], ids=IDS)
def test_start(
    home: Home,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Home], None],
    fragment: str,
) -> None:
    make(home)
    code, _, err = invoke(home, monkeypatch, capsys, "start")
    assert code == 2, err
    assert_one_error_line(err, fragment)
    assert not list(home.root.glob("*.pid")), "a daemon was started"
    assert not list(home.root.glob("*.log"))


TOKEN_CASES = (
    "missing-drive-token",
    "gmail-token-directory",
    *[c for c in IDS if c.startswith("token-")],
)


@pytest.mark.parametrize(("make", "fragment"), [(m, f) for _, m, f in CASES], ids=IDS)
def test_doctor(
    request: pytest.FixtureRequest,
    home: Home,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Home], None],
    fragment: str,
) -> None:
    make(home)
    code, out, err = invoke(home, monkeypatch, capsys, "doctor")
    assert code == 1, out + err
    assert "Traceback" not in out + err
    # Check lines start with their mark; long ones wrap onto lines that do not.
    lines = out.splitlines()
    assert lines[0][:5] in ("ok   ", "FAIL "), lines
    failing = [line for line in lines if line.startswith("FAIL ")]
    assert failing, lines
    code, out, _ = invoke(home, monkeypatch, capsys, "doctor", "--json")
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    failed = [c for c in document["checks"] if c["outcome"] == "fail"]
    assert [c["name"] for c in document["checks"]].count("config") == 1
    if request.node.callspec.id in TOKEN_CASES:
        # The doctor names token problems its own way: the check and the file. (The other
        # token's refresh fails too: nothing listens at the configured API root.)
        files = [c for c in failed if c["name"] in ("drive token file", "gmail token file")]
        assert len(files) == 1, failed
        assert files[0]["hint"]
        assert "config" not in [c["name"] for c in failed]
    else:
        assert lines[0].startswith("FAIL config: "), lines
        assert [c["name"] for c in failed] == ["config"], failed
        assert fragment in failed[0]["detail"], failed
        assert "\n" not in failed[0]["detail"]


@pytest.mark.parametrize(
    "args", [("run", "notify", "--once"), ("start",), ("doctor",)], ids=["run", "start", "doctor"]
)
def test_the_real_entry_point(home: Home, args: tuple[str, ...]) -> None:
    home.config.write_bytes(GOOD + b"notify_on_aproved: false\n")
    done = subprocess.run(
        [sys.executable, "-m", "syft_monitors.cli", "--config", str(home.config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYFT_LOG_FORMAT": "text"},
    )
    if args == ("doctor",):
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout.startswith("FAIL config: "), done.stdout
        # Long lines wrap at 120 columns: compare with the line breaks undone.
        assert "notify_on_aproved: unknown key" in " ".join(done.stdout.split())
        return
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert_one_error_line(done.stderr, "notify_on_aproved: unknown key")


@pytest.mark.parametrize("command", ["stop", "status"])
def test_stop_and_status_read_a_too_deep_config_without_a_traceback(
    home: Home,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    # They look for a `daemon_dir` even in a broken config; PyYAML's RecursionError escaped.
    _raw(GOOD + b"approve: " + b"[" * 700 + b"]" * 700)(home)
    code, out, err = invoke(home, monkeypatch, capsys, command)
    assert "Traceback" not in out + err
    assert "notify" in out, out + err
    assert code in (0, 2), err
