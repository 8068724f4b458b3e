"""What sharing the Google clients saves a pool, per owner: `python -m bench.pool_services`.

Builds the Drive v3 and Gmail v1 service objects (and the resources an owner's poll and send
use) once per owner, as single-owner processes do, then gives as many owners views of one shared
pair (`google.shared`), and prints the growth of this process's resident set per owner for each.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_drive_service, build_gmail_service
from syft_monitors.google.shared import SharedServices

ROOT = "http://127.0.0.1:9/"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _grow(build: Any, owners: int) -> float:
    gc.collect()
    before = _rss_kib()
    kept = [build() for _ in range(owners)]
    gc.collect()
    grown = (_rss_kib() - before) / owners
    del kept
    return round(grown, 2)


def measure(owners: int = 200) -> dict[str, float]:
    credentials = Credentials(token="x")  # type: ignore[no-untyped-call]

    def own() -> Any:
        drive = build_drive_service(credentials, api_root=ROOT)
        gmail = build_gmail_service(credentials, api_root=ROOT)
        return drive, drive.changes(), drive.files(), gmail, gmail.users().messages()

    shared = SharedServices(api_root=ROOT)

    def pooled() -> Any:
        drive = shared.client("drive", lambda: credentials)
        gmail = shared.client("gmail", lambda: credentials)
        return drive, drive.changes(), drive.files(), gmail, gmail.users().messages()

    own()  # warm the discovery cache and the imports in both cases
    pooled()
    return {
        "own_services_kib_per_owner": _grow(own, owners),
        "shared_services_kib_per_owner": _grow(pooled, owners * 5),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
