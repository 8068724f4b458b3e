"""Fuzz the Drive name parsers and the folder classification built on them.

    python tests/fuzz/fuzz_names.py -atheris_runs=100000

The input is decoded as UTF-8 (invalid bytes become U+FFFD, lone surrogates stay out) and used
as a Drive folder name, a message file name and an email address. Expected: a typed value, `None`
or a one-line `InvalidNameError`; a parsed name spells back exactly the input; a folder the
monitor classifies as a peer request names a valid peer, and only ever its Drive owner; and
`classify` reports a refused name to its hook exactly when the parser refused it.
"""

from __future__ import annotations

from syft_monitors.drive.files import FOLDER_MIME, DriveFile
from syft_monitors.errors import InvalidEmailError, InvalidNameError, ProtocolError
from syft_monitors.protocol.emails import is_valid_email, normalize_email, validate_email
from syft_monitors.protocol.messages import parse_message_filename
from syft_monitors.protocol.names import describe_drive_name, parse_drive_name, split_email_pair
from syft_monitors.runtime.classify import WorkKind, classify

try:
    from tests.fuzz.fuzzing import check_error_text, main
except ModuleNotFoundError:  # run as a script: this folder is sys.path[0]
    from fuzzing import check_error_text, main  # type: ignore[no-redef]

DO = "owner@hospital.example"
MALLORY = "mallory@evil.example"


def one_input(data: bytes) -> None:
    name = data.decode("utf-8", "replace")
    refused = False
    try:
        parsed = parse_drive_name(name)
    except InvalidNameError as error:
        check_error_text(error)
        refused = True
    else:
        if parsed is not None:
            assert parsed.name == name, (parsed, name)
            assert describe_drive_name(name)["kind"] != "unknown"
    hook: list[ProtocolError] = []
    # Owner unknown (as on shared drives): refused exactly when the parser refused.
    folder = DriveFile(id="f", name=name, mime_type=FOLDER_MIME)
    found = classify(folder, DO, lambda _: None, on_invalid=lambda _, error: hook.append(error))
    assert bool(hook) == refused, (name, hook)
    if found is not None:
        assert found.kind is WorkKind.PEER_CHANNEL
        assert found.peer is not None
        assert is_valid_email(found.peer)
        assert normalize_email(found.peer) != normalize_email(DO)
    # Owned by a stranger: a peer request only ever in the owner's own name.
    forged = DriveFile(id="g", name=name, mime_type=FOLDER_MIME, owners=(MALLORY,))
    found = classify(forged, DO, lambda _: None)
    if found is not None:
        assert found.peer is not None
        assert normalize_email(found.peer) == MALLORY
    try:
        parse_message_filename(name)
    except InvalidNameError as error:
        check_error_text(error)
    if is_valid_email(name):
        assert validate_email(name) == name
    else:
        try:
            validate_email(name)
        except InvalidEmailError as error:
            check_error_text(error)
        else:
            raise AssertionError(f"validate_email accepted {name!r}")
    try:
        left, right = split_email_pair(name)
    except InvalidNameError as error:
        check_error_text(error)
    else:
        assert f"{left}_to_{right}" == name


def seeds() -> list[bytes]:
    names = [
        f"syft_datasite#0.1.117#{DO}#inbox#alice@uni.example",
        f"syft_datasite#0.1.117#{DO}#inbox#{MALLORY}",
        f"syft_datasite#0.1.117#{DO}#outbox#alice@uni.example",
        f"syft_outbox_inbox_alice_to_x@uni.example_to_{DO}",
        f"syft_alice@uni.example_to_{DO}_archive",
        f"0.1.117#{DO}",
        DO,
        "SYFT_peers.json",
        "msgv2_1715690000.5_0b9e7f4e-9f39-4a4c-9a4f-1d2c3b4a5f6e.tar.gz",
        f"syft_datasite#0.1.117#{DO}#inbox#x@evil.example\r\nBcc: all@x.example",
        f"syft_datasite#0.1.117#{DO}#inbox#\u0430lice@uni.example",
        f"syft_datasite#0.1.117#{DO}#inbox#moc.elpmaxe@\u202eevil",
    ]
    return [name.encode() for name in names]


if __name__ == "__main__":
    main(one_input, seeds)
