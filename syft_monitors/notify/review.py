"""The new-job email as the place a job is reviewed: everything that runs, or why it cannot be.

The owner may approve a job by replying to its email, so the email must show all that will run:
`run.sh` (what the owner's runner executes), `config.yaml` (the declared type, entrypoint and
dependencies, shown also as a summary) and every file under `code/`, whole. A job is approvable
by reply only when all of it is shown: current layout, each file text (UTF-8, no NUL) and within
`MAX_FILE_BYTES`, all of it within `MAX_TOTAL_CODE_BYTES`, no file the job lists missing, and
none left unread by the source (`JobDetails.code_truncated`).
Otherwise the email says so and points to the job's folder on disk.

What the email showed is recorded as one digest over the SHA-256 of each file it showed
(`review_digest`), in a header of the email itself (`REVIEW_HEADER`): the reply handler reads it
back from the owner's Sent mail, so it describes the email that really left, even one sent again
after a crash. A reply approves only while the job on disk still has exactly that digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

from syft_monitors.events import JobDetails
from syft_monitors.notify.preview import (
    MAX_FILE_BYTES,
    MAX_TOTAL_CODE_BYTES,
    CodePreview,
    build_code_preview,
)
from syft_monitors.notify.sanitize import clean_block, clean_line

#: Header of the new-job email carrying `review_digest` of what it shows (absent: not approvable).
REVIEW_HEADER = "X-Syft-Monitor-Review"
CODE_PREFIX = "code/"
RUN_SCRIPT = "run.sh"
CONFIG_FILE = "config.yaml"


def review_digest(hashes: Mapping[str, str]) -> str:
    """One SHA-256 over `path -> sha256` of every file of a submission (order-independent)."""
    lines = "".join(f"{path}\x00{digest}\n" for path, digest in sorted(hashes.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Declaration:
    type: str
    entrypoint: str | None
    dependencies: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class JobReview:
    """What the new-job email shows of a job, and whether a reply may approve it."""

    declaration: Declaration | None
    run_sh: str | None
    config_yaml: str | None
    preview: CodePreview
    #: Why a reply cannot approve the job (None: it can).
    not_replyable: str | None
    #: `review_digest` of what is shown; None when not approvable by reply.
    digest: str | None

    @property
    def replyable(self) -> bool:
        return self.digest is not None


def _text(data: bytes | None) -> str | None:
    if data is None or b"\x00" in data or len(data) > MAX_FILE_BYTES:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _declaration(config: Mapping[str, object]) -> Declaration | None:
    job_type = config.get("type", "python")
    entrypoint = config.get("entrypoint")
    dependencies = config.get("dependencies") or []
    if not isinstance(job_type, str) or not (entrypoint is None or isinstance(entrypoint, str)):
        return None
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        return None
    return Declaration(
        clean_line(job_type),
        clean_line(entrypoint) if entrypoint else None,
        tuple(clean_line(d) for d in dependencies),
    )


def build_review(details: JobDetails) -> JobReview:
    """The review of a job from what its new-job event carries."""
    code = {p: d for p, d in details.code.items() if p.startswith(CODE_PREFIX)}
    preview = build_code_preview(
        code,
        max_file_bytes=MAX_FILE_BYTES,
        max_total_bytes=MAX_TOTAL_CODE_BYTES,
    )
    run_sh = _text(details.run_sh)
    config_yaml = _text(details.config_yaml)
    declaration = _declaration(details.config)
    why = _why_not(details, code, preview, run_sh, config_yaml, declaration)
    digest = None
    if why is None:
        assert details.run_sh is not None
        assert details.config_yaml is not None
        hashes = {p: hashlib.sha256(d).hexdigest() for p, d in code.items()}
        hashes[RUN_SCRIPT] = hashlib.sha256(details.run_sh).hexdigest()
        hashes[CONFIG_FILE] = hashlib.sha256(details.config_yaml).hexdigest()
        digest = review_digest(hashes)
    return JobReview(
        declaration=declaration,
        run_sh=clean_block(run_sh) if run_sh is not None else None,
        config_yaml=clean_block(config_yaml) if config_yaml is not None else None,
        preview=preview,
        not_replyable=why,
        digest=digest,
    )


def _why_not(
    details: JobDetails,
    code: Mapping[str, bytes],
    preview: CodePreview,
    run_sh: str | None,
    config_yaml: str | None,
    declaration: Declaration | None,
) -> str | None:
    if not code or len(code) != len(details.code):
        return "the job does not use the current job layout (code/, run.sh, config.yaml)"
    if details.run_sh is None or details.config_yaml is None:
        return "its run.sh or config.yaml could not be shown"
    if run_sh is None or config_yaml is None:
        return "its run.sh or config.yaml is binary or larger than the email may show"
    if declaration is None:
        return "its config.yaml does not declare a valid type, entrypoint and dependencies"
    binary = [f.path for f in preview.files if f.binary]
    if binary:
        return f"it holds a binary file ({clean_line(binary[0], limit=80)})"
    cut = [f.path for f in preview.files if f.truncated]
    if cut:
        return f"a file is too large to show whole ({clean_line(cut[0], limit=80)})"
    if preview.not_shown or details.code_truncated:
        return "the job is too large to show whole in an email"
    listed = {p for p in details.files if p.startswith(CODE_PREFIX)}
    missing = sorted(listed - code.keys())
    if missing:
        return f"a file could not be shown ({clean_line(missing[0], limit=80)})"
    return None
