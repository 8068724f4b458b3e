"""Upstream's syft-job writes jobs of every shape: what run.sh does it generate for each?

Runs INSIDE the interop virtualenv:

    .venv-interop/bin/python tests/interop/upstream_run_scripts.py WORKDIR

A data scientist's real `JobClient` submits one job per case into `WORKDIR/box` (the submission
folder it writes is exactly what the owner's sync later delivers). Prints one JSON document:
case -> {"job": submission folder, "source": what was submitted}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from syft_job import install_source
from syft_job.client import JobClient
from syft_job.config import SyftJobConfig

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"


def sources(work: Path) -> dict[str, Path]:
    files = {
        "single/analysis.py": "print('rows')\n",
        "project/main.py": "from lib import util\nprint(util.X)\n",
        "project/lib/util.py": "X = 1\n",
        "project/params.json": '{"k": 3}\n',
        "uvproject/train.py": "print('train')\n",
        "uvproject/pyproject.toml": '[project]\nname = "train"\nversion = "0"\n',
    }
    for relative, text in files.items():
        path = work / "src" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {name: work / "src" / name for name in ("single", "project", "uvproject")}


def main() -> None:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    src = sources(work)
    client = JobClient(
        SyftJobConfig(syftbox_folder=(work / "box").resolve(), current_user_email=DS)
    )
    jobs: dict[str, Any] = {}

    def python(case: str, source: Path, **kw: Any) -> None:
        path = client.submit_python_job(DO, str(source), job_name=case, **kw)
        jobs[case] = {"job": str(path), "source": str(source)}

    python("file", src["single"] / "analysis.py")
    python("file-deps", src["single"] / "analysis.py", dependencies=["numpy==2.0", "pandas"])
    python("folder-main", src["project"])
    python("folder-entrypoint", src["project"], entrypoint="lib/util.py")
    python("pyproject", src["uvproject"], entrypoint="train.py", dependencies=["torch"])
    os.environ[install_source.ENV_VAR_NAME] = "git+https://github.com/OpenMined/syft-client@main"
    install_source.get_syft_client_install_source.cache_clear()
    python("git-install-source", src["single"] / "analysis.py")
    path = client.submit_bash_job(DO, "#!/bin/bash\necho hello\n", job_name="bash")
    jobs["bash"] = {"job": str(path), "source": None}
    print(json.dumps(jobs))


if __name__ == "__main__":
    main()
