"""`SYFT_version.json`: parsing, unknown keys ignored, known keys strict, round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syft_monitors.errors import ProtocolError, SyftFileError
from syft_monitors.protocol.names import versions_compatible
from syft_monitors.protocol.version import (
    VersionInfo,
    dump_version_file,
    parse_version_file,
)

TOKEN = "eyJhbGciOiJSUzI1NiJ9.attestation-secret.signature"
SAMPLE = {
    "syft_client_version": "0.1.117",
    "min_supported_syft_client_version": "0.1.110",
    "protocol_version": "1.0.0",
    "min_supported_protocol_version": "1.0.0",
    "syft_client_install_source": "pypi",
    "updated_at": "2026-06-11T09:30:00.123456+00:00",
    "attestation_token": TOKEN,
}


def _bytes(document: dict[str, object]) -> bytes:
    return json.dumps(document, indent=2).encode()


def test_parses_upstream_shape() -> None:
    info = parse_version_file(_bytes(SAMPLE))
    assert info.syft_client_version == "0.1.117"
    assert info.min_supported_syft_client_version == "0.1.110"
    assert info.protocol_version == "1.0.0"
    assert info.min_supported_protocol_version == "1.0.0"
    assert info.syft_client_install_source == "pypi"
    assert info.updated_at == datetime(2026, 6, 11, 9, 30, 0, 123456, tzinfo=UTC)
    assert info.attestation_token == TOKEN
    assert versions_compatible(info.syft_client_version, "0.1.3")


def test_optional_fields_may_be_absent_or_null() -> None:
    document = {k: v for k, v in SAMPLE.items() if k != "attestation_token"}
    document["syft_client_install_source"] = None
    info = parse_version_file(_bytes(document))
    assert info.attestation_token is None
    assert info.syft_client_install_source is None


def test_unknown_keys_are_ignored() -> None:
    info = parse_version_file(_bytes({**SAMPLE, "future_field": {"x": 1}}))
    assert "future_field" not in json.loads(info.dumps())


def test_naive_timestamps_are_taken_as_utc_and_offsets_are_kept() -> None:
    naive = parse_version_file(_bytes({**SAMPLE, "updated_at": "2026-06-11T09:30:00"}))
    assert naive.updated_at == datetime(2026, 6, 11, 9, 30, tzinfo=UTC)
    zulu = parse_version_file(_bytes({**SAMPLE, "updated_at": "2026-06-11T09:30:00Z"}))
    assert zulu.updated_at == naive.updated_at
    offset = parse_version_file(_bytes({**SAMPLE, "updated_at": "2026-06-11T11:30:00+02:00"}))
    assert offset.updated_at.utcoffset() == timedelta(hours=2)
    assert offset.updated_at == naive.updated_at


def test_round_trip() -> None:
    info = parse_version_file(_bytes(SAMPLE))
    data = dump_version_file(info)
    assert data == info.dumps()
    assert data.startswith(b'{\n  "syft_client_version": "0.1.117",')
    assert json.loads(data)["updated_at"] == "2026-06-11T09:30:00.123456+00:00"
    assert parse_version_file(data) == info


def test_the_attestation_token_stays_out_of_repr_and_errors() -> None:
    info = parse_version_file(_bytes(SAMPLE))
    assert TOKEN not in repr(info)
    assert TOKEN not in str(info)
    with pytest.raises(SyftFileError) as caught:
        parse_version_file(_bytes({**SAMPLE, "protocol_version": "one"}))
    assert TOKEN not in str(caught.value)
    assert TOKEN not in str(caught.value.__cause__)


def test_an_unreadable_token_is_not_echoed() -> None:
    with pytest.raises(SyftFileError, match="attestation_token") as caught:
        parse_version_file(_bytes({**SAMPLE, "attestation_token": {"secret": TOKEN}}))
    assert TOKEN not in str(caught.value)
    assert TOKEN not in str(caught.value.__cause__)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"syft_client_version": "latest"}, "syft_client_version"),
        ({"min_supported_protocol_version": "1.0"}, "min_supported_protocol_version"),
        ({"protocol_version": 1}, "protocol_version"),
        ({"updated_at": "yesterday"}, "updated_at"),
        ({"syft_client_install_source": "x" * 5000}, "syft_client_install_source"),
    ],
)
def test_bad_fields_are_refused(change: dict[str, object], fragment: str) -> None:
    with pytest.raises(SyftFileError, match=r"SYFT_version\.json") as caught:
        parse_version_file(_bytes({**SAMPLE, **change}))
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ProtocolError)


def test_missing_fields_are_named() -> None:
    document = {k: v for k, v in SAMPLE.items() if k != "updated_at"}
    with pytest.raises(SyftFileError, match="updated_at"):
        parse_version_file(_bytes(document))


@pytest.mark.parametrize("data", [b"", b"[]", b"not json", b'{"a": 1, "a": 2}'])
def test_non_objects_and_bad_json_are_refused(data: bytes) -> None:
    with pytest.raises(SyftFileError):
        parse_version_file(data)


def test_size_limit() -> None:
    data = _bytes(SAMPLE)
    assert parse_version_file(data, max_bytes=len(data)).protocol_version == "1.0.0"
    with pytest.raises(SyftFileError, match="limit"):
        parse_version_file(data, max_bytes=len(data) - 1)


def test_models_are_immutable() -> None:
    info = parse_version_file(_bytes(SAMPLE))
    with pytest.raises(ValueError, match="frozen"):
        info.protocol_version = "2.0.0"  # type: ignore[misc]


_versions = st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 10_000) for _ in range(3)))


@given(
    _versions,
    _versions,
    _versions,
    _versions,
    st.none() | st.text(max_size=50),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))])),
    st.none() | st.text(max_size=50),
)
def test_any_info_round_trips(
    client: str,
    min_client: str,
    protocol: str,
    min_protocol: str,
    source: str | None,
    updated_at: datetime,
    token: str | None,
) -> None:
    info = VersionInfo(
        syft_client_version=client,
        min_supported_syft_client_version=min_client,
        protocol_version=protocol,
        min_supported_protocol_version=min_protocol,
        syft_client_install_source=source,
        updated_at=updated_at,
        attestation_token=token,
    )
    assert parse_version_file(info.dumps()) == info


def test_deep_nesting_is_one_line_error() -> None:
    data = b'{"version": "0.1.0", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(SyftFileError, match="nests JSON values deeper than 64 levels") as caught:
        parse_version_file(data)
    assert "\n" not in str(caught.value)
