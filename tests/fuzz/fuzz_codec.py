"""Fuzz the message codec and everything the monitor does with a decoded message.

    python tests/fuzz/fuzz_codec.py -atheris_runs=100000

An input starting with "{" is wrapped as the JSON member of a well-formed archive, so mutations
reach the JSON and schema checks instead of dying in gzip; anything else is taken as archive
bytes (gzip, tar, limits). A decoded message must re-encode to itself,
and the events the monitor derives from it must plan emails whose MIME form has only our
headers and no active HTML. Anything else than a one-line `ProtocolError` is a finding.
"""

from __future__ import annotations

from syft_monitors.errors import ProtocolError
from syft_monitors.monitors.extract import job_events_from_proposal, status_events_from_log
from syft_monitors.notify.plan import NotifyConfig, plan_notifications
from syft_monitors.protocol.archive import read_member, write_member
from syft_monitors.protocol.messages import ProposedChangesMessage, decode_message
from syft_sandbox.messages import encode_message, new_events_message, new_proposed_changes

try:
    from tests.fuzz.fuzzing import check_error_text, check_outgoing, main
except ModuleNotFoundError:  # run as a script: this folder is sys.path[0]
    from fuzzing import check_error_text, check_outgoing, main  # type: ignore[no-redef]

DO = "owner@hospital.example"
DS = "alice@uni.example"
CONFIG = NotifyConfig()
STDERR = "Traceback\n<b>boom</b>\x1b[31m\r\nBcc: x@evil.example"


def archive_of(data: bytes) -> bytes:
    # gzip starts with 0x1f: an input starting with "{" can only be meant as the JSON member.
    return write_member(data) if data[:1] == b"{" else data


def one_input(data: bytes) -> None:
    try:
        message = decode_message(archive_of(data))
    except ProtocolError as error:
        check_error_text(error)
        return
    assert decode_message(encode_message(message)) == message, "re-encoding changed the message"
    if isinstance(message, ProposedChangesMessage):
        events = job_events_from_proposal(message, DO)
    else:
        events = status_events_from_log(message, DO)
    for event in events:
        for outgoing in plan_notifications(event, config=CONFIG):
            check_outgoing(outgoing, frozenset({DO.lower(), event.counterpart.lower()}))


def _job(name: str, files: dict[str, str | bytes], *, legacy: bool = False) -> bytes:
    base = f"app_data/job/{name}/" if legacy else f"app_data/job/inbox/{DS}/{name}/"
    config = f"name: {name}\ntype: python\nentrypoint: main.py\n"
    if legacy:
        config += f"submitted_by: {DS}\n"
    payload: dict[str, bytes | str | None] = {base + "config.yaml": config}
    code = base if legacy else base + "code/"
    payload.update({code + path: content for path, content in files.items()})
    return encode_message(new_proposed_changes(DS, DO, payload, timestamp=1715690000.5))


def _status(name: str, status: str, **outputs: str) -> bytes:
    review = f"app_data/job/review/{DS}/{name}/"
    files: dict[str, bytes | str | None] = {
        review + "state.yaml": f"status: {status}\napproved_by: {DO}\nreview_reason: because\n"
    }
    files.update({review + key: value for key, value in outputs.items()})
    return encode_message(new_events_message(DO, files, timestamp=1715690001.0))


def seeds() -> list[bytes]:
    archives = [
        _job("train", {"main.py": "print('hi')\n", "data.bin": b"\x00\xff"}),
        _job("<img src=x onerror=alert(1)>", {"<i>.py": "</pre><script>alert(1)</script>"}),
        _job("legacy_job", {"main.py": "print(1)\n"}, legacy=True),
        _status("train", "approved"),
        _status(
            "train",
            "failed",
            **{"stderr.txt": "Traceback\n<b>boom</b>\x1b[31m", "returncode.txt": "3"},
        ),
        _status("train", "rejected"),
    ]
    # The same messages as bare JSON (wrapped by `archive_of`).
    return archives + [read_member(archive) for archive in archives]


if __name__ == "__main__":
    main(one_input, seeds)
