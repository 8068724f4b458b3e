"""`syft-bg inspect message FILE` and `syft-bg jobs`: SyftBox data the way the monitors see it.

Both print a readable summary, or one JSON document with `--json`. Unreadable or hostile input
raises the `ProtocolError` from the protocol layer; `run_cli` prints it as one `error: ...` line
on stderr and exits with status 2.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from syft_monitors.errors import CorruptMessageError, InvalidNameError, MessageTooLargeError
from syft_monitors.job_folders.listing import LocalJob, list_local_jobs
from syft_monitors.protocol.emails import normalize_email, safe_repr
from syft_monitors.protocol.jobs import JobExtraction, extract_jobs
from syft_monitors.protocol.limits import DEFAULT_LIMITS
from syft_monitors.protocol.messages import (
    EventsMessage,
    MessageKind,
    ProposedChangesMessage,
    decode_message,
    parse_message_filename,
)


def _read_message_file(path: Path) -> bytes:
    limit = DEFAULT_LIMITS.max_compressed_bytes
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise MessageTooLargeError(f"message file is larger than {limit} bytes")
    return data


def _kind_from_name(name: str) -> MessageKind | None:
    try:
        return parse_message_filename(name).kind
    except InvalidNameError:
        return None  # renamed copies are fine: the JSON shape tells the kind


def message_document(
    name: str,
    message: ProposedChangesMessage | EventsMessage,
    extraction: JobExtraction | None = None,
) -> dict[str, Any]:
    """The `inspect message --json` document.

    `jobs[].files` lists the files of the job's submission folder that the message writes, with
    their SHA-256; deletions are omitted. `jobs[].status` is set only when the message carries a
    status change (`state.yaml` or a legacy marker). `layout` is the layout of the first job.
    """
    changes = message.changes
    datasites = {normalize_email(change.datasite_email) for change in changes}
    if len(datasites) > 1:
        raise CorruptMessageError("message changes target more than one datasite")
    jobs = (extraction or extract_jobs(message)).jobs
    return {
        "file": name,
        "kind": str(message.kind),
        "sender": message.sender_email if isinstance(message, ProposedChangesMessage) else None,
        "datasite": changes[0].datasite_email if changes else None,
        "layout": str(jobs[0].layout) if jobs else None,
        "changes": [
            {
                "path": change.path,
                "deleted": change.is_deleted,
                "binary": change.is_binary,
                "sha256": change.new_hash,
            }
            for change in changes
        ],
        "jobs": [
            {
                "name": job.name,
                "submitter": job.submitter,
                "files": {path: sha for path, sha in job.files.items() if sha is not None},
                "status": job.status,
            }
            for job in jobs
        ],
    }


@click.command(name="message")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def message_command(file: Path, as_json: bool) -> None:
    """Decode a msgv2 or syfteventsmessagev3 archive (never extracts anything to disk)."""
    message = decode_message(_read_message_file(file), kind=_kind_from_name(file.name))
    extraction = extract_jobs(message)
    for job_dir, error in extraction.rejected:
        click.echo(f"warning: job folder {safe_repr(job_dir)} ignored: {error}", err=True)
    document = message_document(file.name, message, extraction)
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    _print_message(document)


def _print_message(doc: dict[str, Any]) -> None:
    click.echo(f"file:     {doc['file']}")
    click.echo(f"kind:     {doc['kind']}")
    click.echo(f"sender:   {doc['sender'] or '-'}")
    click.echo(f"datasite: {doc['datasite'] or '-'}")
    click.echo(f"layout:   {doc['layout'] or '-'}")
    click.echo(f"changes ({len(doc['changes'])}):")
    for change in doc["changes"]:
        if change["deleted"]:
            detail = "deleted"
        else:
            detail = f"{'binary' if change['binary'] else 'text'}, sha256 {change['sha256'][:12]}"
        click.echo(f"  {change['path']}  ({detail})")
    click.echo(f"jobs ({len(doc['jobs'])}):")
    for job in doc["jobs"]:
        status = f", status {job['status']}" if job["status"] else ""
        click.echo(f"  {job['name']}  (by {job['submitter']}{status})")
        for path, sha in job["files"].items():
            click.echo(f"    {path}  {sha[:12]}")


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _printable_path(path: Path) -> str:
    # Names read from disk may hold undecodable bytes (surrogate escapes); keep them visible.
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _job_row(job: LocalJob) -> dict[str, Any]:
    return {
        "name": job.name,
        "submitter": job.submitter,
        "datasite": job.datasite,
        "layout": str(job.layout),
        "status": job.status,
        "submitted_at": _iso(job.submitted_at),
        "updated_at": _iso(job.updated_at),
        "path": _printable_path(job.path),
    }


@click.command(name="jobs")
@click.option(
    "--root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The SyftBox folder (it contains one folder per datasite).",
)
@click.option("--email", required=True, help="The data owner's email (datasite).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def jobs_command(root: Path, email: str, as_json: bool) -> None:
    """List the jobs in a data owner's local SyftBox folder, newest first."""
    listing = list_local_jobs(root, email)
    document = {
        "jobs": [_job_row(job) for job in listing.jobs],
        "rejected": [
            {"path": _printable_path(path), "error": str(error)} for path, error in listing.rejected
        ],
    }
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    rows = [
        (job["status"], job["layout"], job["submitter"], job["name"], job["submitted_at"] or "-")
        for job in document["jobs"]
    ]
    headers = ("STATUS", "LAYOUT", "SUBMITTER", "NAME", "SUBMITTED")
    widths = [max([len(h)] + [len(str(row[i])) for row in rows]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(no jobs)")
    for item in document["rejected"]:
        click.echo(f"skipped {item['path']}: {item['error']}", err=True)
