"""What a job declares it runs, and the `run.sh` upstream's `syft-job` writes for that declaration.

A job's `config.yaml` declares its `type` (`python` or `bash`), its `entrypoint` (relative to
`code/`) and its `dependencies` (the syft-client install source first, then the data scientist's
packages). The owner's runner ignores all of it and executes `run.sh`, which the data scientist
also writes. A rule can therefore accept a `run.sh` only when it is byte for byte the script
upstream's `syft-job` (0.1.39) generates for the declared values:

- python: create a uv virtual environment in `code/`, install the declared dependencies (each in
  double quotes, in order), run the entrypoint; with a `code/pyproject.toml` the environment is
  first synced from it.
- bash: `run.sh` is the submitted script itself, stored as `code/script.sh`.

`tests/interop/test_approve_interop.py` generates jobs with the real `syft-job` and checks that
`canonical_run_script` gives the same bytes for every shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from syft_monitors.errors import JobFolderError

#: The interpreter version upstream's generated script asks uv for.
RUN_SCRIPT_PYTHON = "3.12"
BASH_SCRIPT = "script.sh"
PYPROJECT = "pyproject.toml"
JOB_TYPES = ("python", "bash")


@dataclasses.dataclass(frozen=True, slots=True)
class JobDeclaration:
    """The values of `config.yaml` that decide what runs (upstream's defaults when absent)."""

    type: str
    entrypoint: str | None
    dependencies: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, legacy: bool = False) -> JobDeclaration:
        """Read a parsed `config.yaml`; `JobFolderError` when a value has the wrong type."""
        job_type = config.get("type", "python")
        if job_type not in JOB_TYPES:
            raise JobFolderError("config.yaml: type is neither python nor bash")
        entrypoint = config.get("entrypoint")
        if legacy and entrypoint is None:
            entrypoint = config.get("entry_point")
        if entrypoint is not None and not isinstance(entrypoint, str):
            raise JobFolderError("config.yaml: entrypoint is not a string")
        dependencies = config.get("dependencies")
        if dependencies is None:
            dependencies = []
        if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
            raise JobFolderError("config.yaml: dependencies is not a list of strings")
        return cls(job_type, entrypoint, tuple(dependencies))


def canonical_run_script(
    declaration: JobDeclaration, *, has_pyproject: bool, bash_script: bytes | None
) -> bytes | None:
    """The `run.sh` syft-job writes for `declaration`; None when it cannot write one."""
    if declaration.type == "bash":
        return bash_script
    if not declaration.entrypoint:
        return None
    install = "uv pip install " + " ".join(f'"{dep}"' for dep in declaration.dependencies)
    sync = f"uv sync --python {RUN_SCRIPT_PYTHON}\n" if has_pyproject else ""
    script = (
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        "export UV_SYSTEM_PYTHON=false\n"
        "cd code\n"
        f"uv venv --python {RUN_SCRIPT_PYTHON}\n"
        "source .venv/bin/activate\n"
        f"{sync}"
        f"{install}\n"
        "export PYTHONPATH=.:${PYTHONPATH:-}\n"
        f"python {declaration.entrypoint}\n"
    )
    return script.encode("utf-8")
