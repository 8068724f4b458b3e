"""Bad config files: every defect is one `ConfigError` line naming the file, never a traceback.

Cases (27): YAML syntax error, tab indentation, a `!!python` tag, nesting 5000 deep, a 5000-digit
integer, the date 2024-13-45, invalid UTF-8, a NUL byte, a top-level list, a bare scalar, an empty
file, an unknown key, an unknown nested key, a string interval, a list for `smtp`, a do_email with
CR/LF, a Cyrillic look-alike approved peer, an unhashable key, a date as key, a 2 MiB file, a FIFO
that never ends, a directory, a missing file, `configmap` state without its section, an ftp:// API
root, a port above 65535, a "billion laughs" alias bomb. Then the token-file check that service
start-up runs (missing, directory, FIFO, unreadable is root-dependent so left out), and
hypothesis: any YAML document, and any bytes, give a config or one `ConfigError` line.
"""

from __future__ import annotations

import os
import string
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syft_monitors.config import (
    MAX_CONFIG_BYTES,
    MonitorConfig,
    check_token_files,
    load_config,
    parse_config,
)
from syft_monitors.errors import ConfigError

GOOD = "do_email: owner@hospital.example\n"

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
    for i in range(9)
)

TEXT_CASES: list[tuple[str, bytes, str]] = [
    ("yaml-syntax", b"do_email: 'unclosed\n", "(line 2, column 1)"),
    ("tab-indent", b"do_email:\towner@hospital.example\n", "cannot start any token"),
    ("python-tag", b"do_email: !!python/object/apply:os.system ['id']\n", "constructor"),
    ("deep-nesting", GOOD.encode() + b"approve: " + b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ("huge-integer", GOOD.encode() + b"interval: " + b"9" * 5000 + b"\n", "cannot be read"),
    ("impossible-date", GOOD.encode() + b"heartbeat_interval: 2024-13-45\n", "cannot be read"),
    ("invalid-utf8", b"do_email: \xff\xfe@x.example\n", "invalid YAML"),
    ("nul-byte", b"do_email: owner@hospital.example\x00\n", "invalid YAML"),
    ("top-level-list", b"- do_email\n- owner@hospital.example\n", "expected a mapping"),
    ("bare-scalar", b"owner@hospital.example\n", "expected a mapping"),
    ("empty-file", b"", "do_email: Field required"),
    (
        "unknown-key",
        GOOD.encode() + b"notify_on_aproved: false\n",
        "notify_on_aproved: unknown key",
    ),
    (
        "unknown-nested-key",
        GOOD.encode() + b"sender: smtp\nsmtp:\n  host: mail.example\n  hots: x\n",
        "smtp.hots: unknown key",
    ),
    ("string-interval", GOOD.encode() + b"interval: soon\n", "interval: Input should be"),
    ("list-for-section", GOOD.encode() + b"smtp: []\n", "smtp: Input should be"),
    ("crlf-in-email", b'do_email: "owner@hospital.example\\r\\nBcc: all@x.example"\n', "do_email"),
    (
        "cyrillic-approved-peer",
        GOOD.encode() + "approve:\n  approved_peers: ['\u0430lice@uni.example']\n".encode(),
        "not a valid email address",
    ),
    ("unhashable-key", b"? [a, b]\n: 1\n" + GOOD.encode(), "unhashable key"),
    ("date-as-key", b"2020-01-01: x\n" + GOOD.encode(), "Keys should be strings"),
    ("too-large", GOOD.encode() + b"#" * (2 * MAX_CONFIG_BYTES) + b"\n", "larger than"),
    # Last-wins before: the second `interval` silently replaced the first.
    (
        "duplicate-key",
        GOOD.encode() + b"interval: 5\ninterval: 3600\n",
        "duplicate key 'interval' (first on line 2) (line 3, column 1)",
    ),
    (
        "duplicate-nested-key",
        GOOD.encode() + b"approve:\n  interval: 5\n  approved_peers: []\n  interval: 9\n",
        "duplicate key 'interval' (first on line 3) (line 5, column 3)",
    ),
    (
        "duplicate-key-in-flow-mapping",
        GOOD.encode() + b"smtp: {host: a.example, host: b.example}\n",
        "duplicate key 'host' (first on line 2) (line 2, column 25)",
    ),
    ("configmap-without-section", GOOD.encode() + b"state_backend: configmap\n", "state_configmap"),
    ("ftp-api-root", GOOD.encode() + b"google_api_root: ftp://x.example/\n", "http://"),
    ("port-too-big", GOOD.encode() + b"metrics_port: 70000\n", "metrics_port"),
    ("billion-laughs", GOOD.encode() + BILLION_LAUGHS.encode(), "unknown key"),
]


def assert_one_line(error: ConfigError, path: Path | None = None) -> str:
    text = str(error)
    assert "\n" not in text
    assert "\r" not in text
    assert len(text) < 600, text
    assert "Traceback" not in text
    if path is not None:
        assert str(path) in text
    return text


@pytest.mark.parametrize(
    ("data", "fragment"),
    [pytest.param(data, fragment, id=case) for case, data, fragment in TEXT_CASES],
)
def test_bad_config_text_is_one_config_error_line(
    tmp_path: Path, data: bytes, fragment: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = assert_one_line(caught.value, path)
    assert fragment in text, text


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert "Is a directory" in assert_one_line(caught.value, tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "config file not found" in assert_one_line(caught.value, path)


@pytest.fixture
def endless_fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO whose writer never stops: reading it whole would never return."""
    path = tmp_path / "config.yaml"
    os.mkfifo(path)
    stop = threading.Event()

    def feed() -> None:
        try:
            with path.open("wb") as sink:
                sink.write(GOOD.encode())
                while not stop.is_set():
                    sink.write(b"# padding\n" * 1024)
        except (BrokenPipeError, OSError):
            return  # the reader stopped reading: what the test wants

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    yield path
    stop.set()
    writer.join(10)


def test_a_never_ending_file_is_refused_before_reading(endless_fifo: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(endless_fifo)
    assert "a FIFO, not a regular file" in assert_one_line(caught.value, endless_fifo)


# --- token files (checked when a service starts) ------------------------------------------


def _config(tmp_path: Path, **overrides: Any) -> MonitorConfig:
    data: dict[str, Any] = {
        "do_email": "owner@hospital.example",
        "drive_token_path": str(tmp_path / "drive.json"),
        "gmail_token_path": str(tmp_path / "gmail.json"),
    }
    data.update(overrides)
    return parse_config(data)


def _token(path: Path) -> Path:
    path.write_text('{"refresh_token": "x", "client_id": "y", "client_secret": "z"}')
    return path


def _drive_token(content: bytes) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / "drive.json").write_bytes(content)
        _token(folder / "gmail.json")

    return make


def _drive_token_is_a_directory(folder: Path) -> None:
    (folder / "drive.json").mkdir()
    _token(folder / "gmail.json")


def _gmail_token_is_a_fifo(folder: Path) -> None:
    _token(folder / "drive.json")
    os.mkfifo(folder / "gmail.json")


TOKEN_DEFECTS: list[tuple[str, Callable[[Path], object], str]] = [
    ("missing-drive-token", lambda p: _token(p / "gmail.json"), "drive_token_path: token file"),
    ("missing-gmail-token", lambda p: _token(p / "drive.json"), "gmail_token_path: token file"),
    ("drive-token-is-a-directory", _drive_token_is_a_directory, "is a directory"),
    ("gmail-token-is-a-fifo", _gmail_token_is_a_fifo, "not a regular file"),
    # Accepted by `start` before, after which every poll failed.
    ("drive-token-not-json", _drive_token(b"refresh_token=x"), "is not valid JSON (line 1"),
    ("drive-token-empty", _drive_token(b""), "is empty"),
    ("drive-token-blank", _drive_token(b" \n"), "is empty"),
    ("drive-token-empty-object", _drive_token(b"{}"), "no refresh_token, client_id, client_secret"),
    ("drive-token-list", _drive_token(b'["x"]'), "must be a JSON object, found an array"),
    (
        "drive-token-missing-key",
        _drive_token(b'{"refresh_token": "x", "client_id": "y"}'),
        "not an authorized-user token: no client_secret",
    ),
    (
        "drive-token-empty-value",
        _drive_token(b'{"refresh_token": "", "client_id": "y", "client_secret": "z"}'),
        "no refresh_token",
    ),
    ("drive-token-deep", _drive_token(b"[" * 30_000 + b"]" * 30_000), "deeper than 64 levels"),
    ("drive-token-huge", _drive_token(b" " * 70_000 + b"{}"), "larger than 65536 bytes"),
    ("drive-token-not-utf8", _drive_token(b'{"refresh_token": "\xff"}'), "is not UTF-8"),
]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [pytest.param(make, fragment, id=case) for case, make, fragment in TOKEN_DEFECTS],
)
def test_token_file_defects_stop_start_up(
    tmp_path: Path, make: Callable[[Path], object], fragment: str
) -> None:
    make(tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_token_files(_config(tmp_path))
    assert fragment in assert_one_line(caught.value)
    assert caught.value.hint is not None
    assert "doctor" in caught.value.hint


def test_token_files_that_exist_pass_and_unused_ones_are_not_required(tmp_path: Path) -> None:
    _token(tmp_path / "drive.json")
    _token(tmp_path / "gmail.json")
    check_token_files(_config(tmp_path))
    (tmp_path / "gmail.json").unlink()
    check_token_files(_config(tmp_path, sender="file"))  # no Gmail: no Gmail token needed
    check_token_files(
        _config(tmp_path, sender="file", drive_token_path=None)
    )  # local SyftBox folder only


# --- properties ------------------------------------------------------------------------------

_FIELDS = sorted(MonitorConfig.model_fields)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["owner@hospital.example", "gmail", "smtp", "file", "html", "configmap"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(_FIELDS), st.text(max_size=8)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
_documents = st.one_of(
    st.dictionaries(st.sampled_from(_FIELDS), _values, max_size=8).map(
        lambda d: {"do_email": "owner@hospital.example", **d}
    ),
    _values,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_document_is_a_config_or_one_config_error_line(document: Any) -> None:
    try:
        parse_config(document)
    except ConfigError as error:
        assert_one_line(error)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs") / "config.yaml"


_yaml_text = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet=string.printable + "\u0430\u202e\x00", max_size=300).map(str.encode),
    _documents.map(lambda d: yaml.safe_dump(d).encode()),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(_yaml_text)
def test_any_bytes_are_a_config_or_one_config_error_line(scratch: Path, data: bytes) -> None:
    scratch.write_bytes(data)
    try:
        load_config(scratch)
    except ConfigError as error:
        assert_one_line(error, scratch)
