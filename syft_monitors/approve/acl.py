"""The local permission files a data owner's client writes when it accepts a peer.

Accepting a data scientist gives them write access to `app_data/job/inbox/{ds}/` (where their
job submissions land) and read access to `app_data/job/review/{ds}/` (where status and results
appear), through `syft.pub.yaml` files in those folders. The owner's own sync refuses proposals
the files do not allow, so an acceptance that skipped them would let the peer ask but never
submit. The file format is the one upstream's permission library writes: a `rules` list of
`{pattern, access: {admin, read, write}}` plus `terminal`.

An existing file is extended, never replaced; a file we cannot read is left alone (logged).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import yaml

from syft_monitors.errors import ProtocolError
from syft_monitors.files import write_atomically
from syft_monitors.job_folders.resolve import resolve_inside
from syft_monitors.protocol.emails import normalize_email, safe_repr, validate_email
from syft_monitors.protocol.jobs import INBOX, JOB_ROOT, REVIEW
from syft_monitors.protocol.safe_yaml import load_yaml_mapping

logger = logging.getLogger(__name__)

PERMISSION_FILE = "syft.pub.yaml"
ALL_FILES = "**"
Access = Literal["read", "write"]


def grant_job_folders(syftbox_root: Path, do_email: str, ds_email: str) -> list[Path]:
    """Write access to the peer's inbox folder, read access to its review folder.

    Returns the permission files written (empty when everything was already in place).
    """
    validate_email(do_email, what="data owner email")
    validate_email(ds_email, what="peer email")
    written = []
    grants: tuple[tuple[str, Access], ...] = ((INBOX, "write"), (REVIEW, "read"))
    for area, access in grants:
        rel = f"{do_email}/{JOB_ROOT}/{area}/{ds_email}"
        folder = resolve_inside(syftbox_root, rel)
        folder.mkdir(parents=True, exist_ok=True)
        target = resolve_inside(syftbox_root, f"{rel}/{PERMISSION_FILE}")
        if _grant(target, ds_email, access):
            written.append(target)
    return written


def _grant(path: Path, email: str, access: Access) -> bool:
    document: dict[str, Any]
    if path.is_symlink():
        logger.warning("not touching %s: it is a symbolic link", safe_repr(str(path)))
        return False
    if path.exists():
        try:
            document = load_yaml_mapping(path.read_bytes(), what=PERMISSION_FILE)
        except (OSError, ProtocolError) as error:
            logger.warning(
                "cannot read %s, leaving it unchanged (the peer may be refused): %s",
                safe_repr(str(path)),
                error,
            )
            return False
    else:
        document = {"rules": [], "terminal": False}
    rules = document.get("rules")
    if not isinstance(rules, list):
        logger.warning("%s has no rules list, leaving it unchanged", safe_repr(str(path)))
        return False
    rule = next(
        (r for r in rules if isinstance(r, dict) and r.get("pattern") == ALL_FILES),
        None,
    )
    if rule is None:
        rule = {"access": {"admin": [], "read": [], "write": []}, "pattern": ALL_FILES}
        rules.append(rule)
    grants = rule.setdefault("access", {})
    if not isinstance(grants, dict):
        logger.warning("%s has a malformed rule, leaving it unchanged", safe_repr(str(path)))
        return False
    for key in ("admin", "read", "write"):
        grants.setdefault(key, [])
    current = grants[access]
    if not isinstance(current, list):
        logger.warning("%s has a malformed rule, leaving it unchanged", safe_repr(str(path)))
        return False
    if any(isinstance(e, str) and normalize_email(e) == normalize_email(email) for e in current):
        return False
    current.append(email)
    data = yaml.safe_dump(document, default_flow_style=False).encode("utf-8")
    write_atomically(path, data, mode=0o644)
    return True
