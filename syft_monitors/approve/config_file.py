"""Editing the `approve:` section of the config file, keeping the rest of the file as it is.

The file is edited textually: the top-level `approve:` block (from its key to the next top-level
key, without the comments that introduce that key) is replaced by a freshly written block, and
every other line, comments included, is kept byte for byte. Comments *inside* the `approve:`
block are not kept (there is no YAML round-trip library among our dependencies). When the file
does not have that simple shape (the edit would change anything else), the whole file is
rewritten with PyYAML instead and comments are lost; `EditResult.comments_kept` says which.

Every edit is validated as a whole config before it is written, and written atomically (a
temporary file renamed over the old one, same permissions), so a running approve service that
re-reads the file every tick sees either the old rules or the new ones.
"""

from __future__ import annotations

import dataclasses
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from syft_monitors.approve_rules import ApproveSettings
from syft_monitors.config import (
    MAX_CONFIG_BYTES,
    describe_validation_error,
    parse_config,
    read_yaml,
)
from syft_monitors.errors import ConfigError
from syft_monitors.files import write_atomically

SECTION = "approve"
_SECTION_KEY = re.compile(rf"^{SECTION}\s*:(\s|$)")
_TOP_LEVEL = re.compile(r"^[^\s#]")


@dataclasses.dataclass(frozen=True, slots=True)
class EditResult:
    settings: ApproveSettings
    comments_kept: bool


def read_settings(path: Path) -> ApproveSettings:
    """The `approve:` section of the config file at `path` (the rest is validated too)."""
    _, data = _load(path)
    return _settings(data, path)


def edit_settings(path: Path, change: Callable[[ApproveSettings], ApproveSettings]) -> EditResult:
    """Apply `change` to the `approve:` section and write the file back."""
    text, data = _load(path)
    current = _settings(data, path)
    updated = change(current)
    block = render_section(updated)
    edited = replace_section(text, block)
    comments_kept = edited is not None and _same_apart_from_section(text, edited, updated)
    if not comments_kept:
        rewritten = dict(data)
        rewritten[SECTION] = yaml.safe_load(block)[SECTION]
        edited = yaml.safe_dump(rewritten, sort_keys=False, allow_unicode=True)
    assert edited is not None
    parse_config(yaml.safe_load(edited), source=str(path))
    _write(path, edited)
    return EditResult(updated, comments_kept)


def render_section(settings: ApproveSettings) -> str:
    """The `approve:` block as YAML text (default values left out, rule order kept)."""
    rest = settings.model_dump(mode="json", exclude_defaults=True)
    rest.pop("interval", None)
    body = {"interval": settings.interval, **rest}
    return yaml.safe_dump(
        {SECTION: body}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def replace_section(text: str, block: str) -> str | None:
    """`text` with its top-level `approve:` block replaced by `block` (appended when absent)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _SECTION_KEY.match(line)]
    if len(starts) > 1:
        return None
    if not starts:
        prefix = text if not text or text.endswith("\n") else text + "\n"
        return prefix + block
    start = starts[0]
    end = start + 1
    while end < len(lines) and not _TOP_LEVEL.match(lines[end]):
        end += 1
    # Comments and blank lines just before the next key belong to that key.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _same_apart_from_section(before: str, after: str, settings: ApproveSettings) -> bool:
    try:
        old, new = yaml.safe_load(before) or {}, yaml.safe_load(after) or {}
    except yaml.YAMLError:
        return False
    if not isinstance(old, dict) or not isinstance(new, dict):
        return False
    section = new.pop(SECTION, None)
    old.pop(SECTION, None)
    try:
        parsed = ApproveSettings.model_validate(section or {})
    except ValidationError:
        return False
    return old == new and parsed == settings


def _load(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise ConfigError(
            f"config file not found: {path} (create one with `syft-bg init`)"
        ) from error
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a readable YAML file") from error
    data = read_yaml(text, source=str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values")
    parse_config(data, source=str(path))
    return text, data


def _settings(data: dict[str, Any], path: Path) -> ApproveSettings:
    try:
        return ApproveSettings.model_validate(data.get(SECTION) or {})
    except ValidationError as error:
        raise ConfigError(f"{path}: {SECTION}.{describe_validation_error(error)}") from error


def _write(path: Path, text: str) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o600
    write_atomically(path, text.encode("utf-8"), mode=mode)
