"""Drive names: classification, exact round trips, and refusal of hostile or malformed names."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syft_monitors.errors import AmbiguousNameError, InvalidEmailError, InvalidNameError
from syft_monitors.protocol.emails import is_valid_email
from syft_monitors.protocol.names import (
    MAX_NAME_LENGTH,
    PEERS_FILE,
    SYFTBOX_FOLDER,
    VERSION_FILE,
    ArchiveFolder,
    Direction,
    EventLogFolder,
    Generation,
    PeerChannel,
    SpecialFile,
    archive_name,
    current_channel_name,
    describe_drive_name,
    event_log_name,
    is_valid_version,
    legacy_channel_name,
    parse_drive_name,
    split_email_pair,
    version_key,
    versions_compatible,
)

# --- strategies ---------------------------------------------------------------------------------

_atom = st.text(alphabet=string.ascii_letters + string.digits + "_+-", min_size=1, max_size=10)
_dotted_local = st.lists(_atom, min_size=1, max_size=3).map(".".join)
# `_to_` inside the local part is the case that breaks naive `_to_` splitting.
_local = st.one_of(
    _dotted_local,
    st.tuples(_dotted_local, _dotted_local).map(lambda p: f"{p[0]}_to_{p[1]}"),
    _dotted_local.map(lambda p: f"{p}_to_"),
    _dotted_local.map(lambda p: f"_to_{p}"),
)
_label = st.one_of(
    st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True),
    st.sampled_from(["to", "x-to-y", "to-archive", "archive", "inbox", "outbox"]),
)
_tld = st.from_regex(r"[a-z]{2,6}", fullmatch=True)
_domain = st.tuples(st.lists(_label, min_size=1, max_size=3), _tld).map(
    lambda parts: ".".join([*parts[0], parts[1]])
)
emails = st.builds(lambda local, domain: f"{local}@{domain}", _local, _domain).filter(
    is_valid_email
)
_num = st.integers(min_value=0, max_value=999).map(str)
versions = st.builds(
    lambda a, b, c, tail: f"{a}.{b}.{c}{tail}",
    _num,
    _num,
    _num,
    st.sampled_from(["", "rc1", "a2", "b10", ".post1", ".dev0", "rc2.post3.dev4"]),
)
directions = st.sampled_from(list(Direction))


# --- fixed names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [(SYFTBOX_FOLDER, "syftbox_root"), (PEERS_FILE, "peers_file"), (VERSION_FILE, "version_file")],
)
def test_fixed_names_are_special_files(name: str, kind: str) -> None:
    parsed = parse_drive_name(name)
    assert parsed == SpecialFile(kind)  # type: ignore[arg-type]
    assert isinstance(parsed, SpecialFile)
    assert parsed.name == name


def test_constants_have_upstream_spelling() -> None:
    assert (SYFTBOX_FOLDER, PEERS_FILE, VERSION_FILE) == (
        "SyftBox",
        "SYFT_peers.json",
        "SYFT_version.json",
    )


@pytest.mark.parametrize(
    "name",
    [
        "holiday.jpg",
        "",
        "syftbox",
        "syft_peers.json",
        "msgv2_1715690000.123456_0b9e7f4e-9f39-4a4c-9a4f-1d2c3b4a5f6e.tar.gz",
        "syfteventsmessagev3_1715690000.1_0b9e7f4e-9f39-4a4c-9a4f-1d2c3b4a5f6e.tar.gz",
        "syft_datasite",
        "syft_encryption_bundles#alice@example.com",
        "encryption_bundle_a@x.io_for_b@y.io.json",
        "alice@example.com-0.1.117-checkpoints",
        "alice@example.com-0.1.117-rolling-state",
        "notes#draft",
        "<script>alert(1)</script>",
        "SYFT_DATASITE#0.1.117#a@b.io#inbox#c@d.io",
    ],
)
def test_names_that_are_not_syftbox_are_none(name: str) -> None:
    assert parse_drive_name(name) is None
    assert describe_drive_name(name)["kind"] == "unknown"


# --- current channels ---------------------------------------------------------------------------


def test_current_inbox_is_written_by_the_peer_for_the_datasite() -> None:
    parsed = parse_drive_name("syft_datasite#0.1.117#do@uni.edu#inbox#ds@lab.org")
    assert parsed == PeerChannel(
        Generation.CURRENT,
        sender="ds@lab.org",
        recipient="do@uni.edu",
        version="0.1.117",
        datasite="do@uni.edu",
        direction=Direction.INBOX,
        peer="ds@lab.org",
    )


def test_current_outbox_is_written_by_the_datasite_for_the_peer() -> None:
    parsed = parse_drive_name("syft_datasite#0.1.117#do@uni.edu#outbox#ds@lab.org")
    assert isinstance(parsed, PeerChannel)
    assert (parsed.sender, parsed.recipient) == ("do@uni.edu", "ds@lab.org")
    assert parsed.direction is Direction.OUTBOX


def test_current_channel_keeps_original_case_but_compares_case_blind() -> None:
    name = "syft_datasite#0.1.117#DO@Uni.edu#inbox#Data.Scientist@Lab.ORG"
    parsed = parse_drive_name(name)
    assert isinstance(parsed, PeerChannel)
    assert parsed.name == name
    assert parsed.involves("do@uni.edu")
    assert parsed.is_inbound_for("do@UNI.EDU")
    assert not parsed.is_inbound_for("data.scientist@lab.org")
    assert parsed.counterpart("do@uni.edu") == "Data.Scientist@Lab.ORG"
    assert parsed.counterpart("DATA.SCIENTIST@lab.org") == "DO@Uni.edu"
    with pytest.raises(InvalidNameError):
        parsed.counterpart("stranger@else.where")


@pytest.mark.parametrize(
    "name",
    [
        "syft_datasite#0.1.117#a@b.io#inbox",  # 4 fields
        "syft_datasite#0.1.117#a@b.io#inbox#c@d.io#extra",  # 6 fields
        "syft_datasite#",
        "syft_datasite##a@b.io#inbox#c@d.io",  # empty version
        "syft_datasite#0.1.117##inbox#c@d.io",  # empty datasite
        "syft_datasite#0.1.117#a@b.io##c@d.io",  # empty direction
        "syft_datasite#0.1.117#a@b.io#inbox#",  # empty peer
        "syft_datasite#0.1#a@b.io#inbox#c@d.io",
        "syft_datasite#v0.1.117#a@b.io#inbox#c@d.io",
        "syft_datasite#\u0660.\u0661.\u0661#a@b.io#inbox#c@d.io",  # Arabic-Indic digits
        "syft_datasite#0.1.117#a@b.io#INBOX#c@d.io",
        "syft_datasite#0.1.117#a@b.io#sideways#c@d.io",
        "syft_datasite#0.1.117#not-an-email#inbox#c@d.io",
        "syft_datasite#0.1.117#a@b.io#inbox#c@d",
        "syft_datasite#0.1.117#<script>@x.io#inbox#c@d.io",
        "syft_datasite#0.1.117#a@b.io#inbox#<script>alert(1)</script>",
        "syft_datasite#0.1.117#a@b.io#inbox#c@d.io_archive",
    ],
)
def test_malformed_current_channels_are_invalid(name: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_drive_name(name)


@given(versions, emails, directions, emails)
def test_current_channel_round_trips(
    version: str, datasite: str, direction: Direction, peer: str
) -> None:
    name = current_channel_name(version, datasite, direction, peer)
    parsed = parse_drive_name(name)
    assert parsed == PeerChannel.current(version, datasite, direction, peer)
    assert isinstance(parsed, PeerChannel)
    assert parsed.name == name
    assert (parsed.datasite, parsed.peer, parsed.direction) == (datasite, peer, direction)
    expected = (peer, datasite) if direction is Direction.INBOX else (datasite, peer)
    assert (parsed.sender, parsed.recipient) == expected


# --- legacy channels and archives ---------------------------------------------------------------


def test_legacy_channel_with_to_in_the_local_part() -> None:
    parsed = parse_drive_name("syft_outbox_inbox_a_to_b@x.io_to_c@y.io")
    assert parsed == PeerChannel.legacy("a_to_b@x.io", "c@y.io")
    assert isinstance(parsed, PeerChannel)
    assert parsed.generation is Generation.LEGACY
    assert (parsed.version, parsed.datasite, parsed.direction, parsed.peer) == (None,) * 4


def test_legacy_channel_recipient_may_contain_to_as_well() -> None:
    parsed = parse_drive_name("syft_outbox_inbox_ds@lab.org_to_to_do_to_@uni.edu")
    assert parsed == PeerChannel.legacy("ds@lab.org", "to_do_to_@uni.edu")


def test_archive_whose_sender_starts_like_a_legacy_channel() -> None:
    parsed = parse_drive_name("syft_outbox_inbox_a@x.io_to_b@y.io_archive")
    assert parsed == ArchiveFolder("outbox_inbox_a@x.io", "b@y.io")


@pytest.mark.parametrize(
    "name",
    [
        "syft_outbox_inbox_",
        "syft_outbox_inbox_a@x.io",
        "syft_outbox_inbox_a@x.io_to_",
        "syft_outbox_inbox__to_b@y.io",
        "syft_outbox_inbox_a@x.io_b@y.io",
        "syft_outbox_inbox_a@x.io_to_b@y.io_to_c@z.io",  # recipient has two '@'
        "syft_outbox_inbox_a@x_to_b@y.io",  # one-label domain
        "syft_a@x.io_to_b@y.io_archive_archive",
        "syft_backup_archive",
        "syft__to__archive",
    ],
)
def test_malformed_pairs_are_invalid(name: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_drive_name(name)


@given(emails, emails)
def test_legacy_channel_round_trips(sender: str, recipient: str) -> None:
    name = legacy_channel_name(sender, recipient)
    parsed = parse_drive_name(name)
    assert parsed == PeerChannel.legacy(sender, recipient)
    assert isinstance(parsed, PeerChannel)
    assert parsed.name == name


@given(emails, emails)
def test_archive_round_trips(sender: str, recipient: str) -> None:
    name = archive_name(sender, recipient)
    parsed = parse_drive_name(name)
    assert parsed == ArchiveFolder(sender, recipient)
    assert isinstance(parsed, ArchiveFolder)
    assert parsed.name == name


@given(emails, emails)
def test_valid_addresses_split_exactly_one_way(left: str, right: str) -> None:
    # The project's address rules (one '@', no '_' in domains) make a second split impossible.
    assert split_email_pair(f"{left}_to_{right}") == (left, right)


def _loose_email(value: str) -> bool:
    # An address check that allows '_' in domains: under it a name can split two ways.
    local, at, domain = value.partition("@")
    return bool(local and at and domain and "@" not in domain)


def test_two_valid_splits_are_ambiguous_not_guessed() -> None:
    middle = "a_to_b@x_to_c_to_d@y.io"
    # Two candidates: ('a_to_b@x', 'c_to_d@y.io') and ('a_to_b@x_to_c', 'd@y.io').
    with pytest.raises(AmbiguousNameError, match="in 2 ways"):
        split_email_pair(middle, is_email=_loose_email)
    with pytest.raises(InvalidNameError) as caught:  # under the real address rules: no split
        split_email_pair(middle)
    assert type(caught.value) is InvalidNameError


def test_ambiguity_is_an_invalid_name() -> None:
    assert issubclass(AmbiguousNameError, InvalidNameError)


# --- event logs ---------------------------------------------------------------------------------


def test_current_event_log() -> None:
    parsed = parse_drive_name("0.1.117#do@uni.edu")
    assert parsed == EventLogFolder("do@uni.edu", "0.1.117")
    assert isinstance(parsed, EventLogFolder)
    assert parsed.generation is Generation.CURRENT


def test_legacy_event_log_is_a_bare_email() -> None:
    parsed = parse_drive_name("Do@Uni.edu")
    assert parsed == EventLogFolder("Do@Uni.edu", None)
    assert isinstance(parsed, EventLogFolder)
    assert parsed.generation is Generation.LEGACY
    assert parsed.name == "Do@Uni.edu"


@pytest.mark.parametrize(
    "name", ["0.1.117#", "0.1.117#not-an-email", "0.1.117#a@b.io#c", "0.1.117#a@b.io "]
)
def test_malformed_event_logs_are_invalid(name: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_drive_name(name)


@given(versions, emails)
def test_event_log_round_trips(version: str, email: str) -> None:
    for expected in (EventLogFolder(email, version), EventLogFolder(email, None)):
        name = event_log_name(expected.version, email)
        assert parse_drive_name(name) == expected
        assert expected.name == name


# --- builders validate --------------------------------------------------------------------------


def test_builders_reject_bad_addresses() -> None:
    with pytest.raises(InvalidEmailError):
        legacy_channel_name("not-an-email", "b@y.io")
    with pytest.raises(InvalidEmailError):
        archive_name("a@x.io", "b#c@y.io")
    with pytest.raises(InvalidEmailError):
        current_channel_name("0.1.117", "a@x.io", Direction.INBOX, "evil\r\n@y.io")
    with pytest.raises(InvalidEmailError):
        event_log_name("0.1.117", "")


def test_builders_reject_bad_versions_and_directions() -> None:
    with pytest.raises(InvalidNameError):
        current_channel_name("0.1", "a@x.io", Direction.INBOX, "b@y.io")
    with pytest.raises(InvalidNameError):
        current_channel_name("0.1.117", "a@x.io", "sideways", "b@y.io")
    with pytest.raises(InvalidNameError):
        event_log_name("0.1.117#x", "a@x.io")
    assert current_channel_name("0.1.117", "a@x.io", "outbox", "b@y.io") == (
        "syft_datasite#0.1.117#a@x.io#outbox#b@y.io"
    )


def test_inconsistent_channel_values_cannot_be_built() -> None:
    with pytest.raises(InvalidNameError):
        PeerChannel(
            Generation.CURRENT, "a@x.io", "b@y.io", "0.1.117", "a@x.io", Direction.INBOX, "b@y.io"
        )
    with pytest.raises(InvalidNameError):
        PeerChannel(Generation.LEGACY, "a@x.io", "b@y.io", "0.1.117", None, None, None)
    with pytest.raises(InvalidNameError):
        SpecialFile("secrets_file")  # type: ignore[arg-type]


# --- hostile names ------------------------------------------------------------------------------

_CHANNEL = "syft_datasite#0.1.117#do@uni.edu#inbox#ds@lab.org"


@pytest.mark.parametrize(
    "name",
    [
        _CHANNEL + "\r\n",
        _CHANNEL.replace("#inbox#", "#inbox\r\n#"),
        "syft_outbox_inbox_a@x.io\n_to_b@y.io",
        _CHANNEL + "\x00",
        "holiday\x00.jpg",  # hostile whatever the shape
        "photo\u202egpj.exe",  # right-to-left override
        _CHANNEL.replace("ds@", "d\u200bs@"),  # zero-width space
        "a@b.io\u2028",
        "\x1b[31mSyftBox",
    ],
)
def test_control_format_and_bidi_characters_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError) as caught:
        parse_drive_name(name)
    message = str(caught.value)
    assert "\r" not in message
    assert "\n" not in message
    assert "\x00" not in message
    assert "\u202e" not in message


@pytest.mark.parametrize(
    "name", [_CHANNEL + " ", " " + _CHANNEL, "SyftBox ", " SYFT_peers.json", "\t0.1.117#a@b.io"]
)
def test_whitespace_around_a_syftbox_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_drive_name(name)


def test_whitespace_around_other_names_is_fine() -> None:
    assert parse_drive_name(" holiday.jpg ") is None


def test_overlong_names_are_refused_with_a_bounded_message() -> None:
    assert parse_drive_name("x" * MAX_NAME_LENGTH) is None
    for name in ("x" * (MAX_NAME_LENGTH + 1), _CHANNEL + "a" * 10_240):
        with pytest.raises(InvalidNameError) as caught:
            parse_drive_name(name)
        assert len(str(caught.value)) < 200


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidNameError):
        parse_drive_name(b"SyftBox")  # type: ignore[arg-type]


# --- versions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("0.1.117", "0.1.3", True),
        ("0.1.117", "0.2.117", False),
        ("1.0.0", "0.1.0", False),
        ("0.1.117rc1", "0.1.118", True),
        ("10.20.3.dev0", "10.20.0", True),
    ],
)
def test_versions_compatible_means_same_major_minor(a: str, b: str, same: bool) -> None:
    assert versions_compatible(a, b) is same
    assert versions_compatible(b, a) is same


@pytest.mark.parametrize(
    "value", ["", "0.1", "0.1.117.4", "01.1.1", "0.1.x", "v1.0.0", "1.0.0-rc1", " 1.0.0", "1.0.0\n"]
)
def test_invalid_versions(value: str) -> None:
    assert not is_valid_version(value)
    with pytest.raises(InvalidNameError):
        versions_compatible(value, "0.1.0")


def test_version_key() -> None:
    assert version_key("0.1.117rc1") == (0, 1, 117)


# --- description --------------------------------------------------------------------------------


def test_describe_has_every_key_in_a_fixed_order() -> None:
    keys = ["kind", "generation", "sender", "recipient", "datasite", "peer", "direction", "version"]
    for name in (
        _CHANNEL,
        "holiday.jpg",
        PEERS_FILE,
        "0.1.117#a@b.io",
        "syft_a@x.io_to_b@y.io_archive",
    ):
        assert list(describe_drive_name(name)) == keys


def test_describe_values() -> None:
    assert describe_drive_name(_CHANNEL) == {
        "kind": "peer_channel",
        "generation": "current",
        "sender": "ds@lab.org",
        "recipient": "do@uni.edu",
        "datasite": "do@uni.edu",
        "peer": "ds@lab.org",
        "direction": "inbox",
        "version": "0.1.117",
    }
    assert describe_drive_name("syft_a@x.io_to_b@y.io_archive")["sender"] == "a@x.io"
    legacy_log = describe_drive_name("a@b.io")
    assert (legacy_log["kind"], legacy_log["generation"], legacy_log["datasite"]) == (
        "event_log",
        "legacy",
        "a@b.io",
    )
    assert describe_drive_name(VERSION_FILE)["kind"] == "version_file"
