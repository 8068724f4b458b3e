"""Resource limits applied to everything read from a peer or from the data owner's disk.

Every number here bounds work done on untrusted input before it is parsed, so a hostile message
or job folder costs at most these amounts of memory and CPU. The defaults leave generous room for
real jobs (upstream job submissions are a few text files) while staying far below what a 2-core
monitor can afford per message.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Upper bounds for decoding messages and reading job folders (all keyword-configurable)."""

    #: Size of a `.tar.gz` message as downloaded. Drive downloads beyond this are refused.
    max_compressed_bytes: int = 10 * MIB
    #: Total bytes produced by gunzip, tar headers included: stops decompression bombs.
    max_uncompressed_bytes: int = 50 * MIB
    #: Tar members in one archive. Upstream writes exactly one; a few extras are tolerated.
    max_members: int = 16
    #: Nesting of `[`/`{` in the JSON member, checked before `json.loads` ever recurses.
    max_json_depth: int = 64
    #: File changes (or events) in one message.
    max_changes: int = 10_000
    #: Characters in one path (`path_in_datasite`, tar member name, path under a SyftBox root).
    max_path_length: int = 1024
    #: Bytes of one `config.yaml` / `state.yaml`; real ones are well under 4 KiB.
    max_yaml_bytes: int = 256 * KIB
    #: Nesting of YAML collections, checked on the event stream before composing.
    max_yaml_depth: int = 32
    #: Entries examined per directory when listing job folders on disk.
    max_dir_entries: int = 100_000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{field.name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = Limits()
