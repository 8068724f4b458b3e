"""Upstream's side of the approve interop: a data scientist asks, then reads our answers.

Runs INSIDE the interop virtualenv, one phase per call, the shared Drive kept in a JSON file
between phases (upstream's in-process Drive double is loaded from it and written back):

    .venv-interop/bin/python tests/interop/upstream_peer_flow.py PHASE WORKDIR

- `request`: the owner's and the data scientist's real clients write their version files, and the
  data scientist asks the owner to peer (`add_peer`), which creates and shares channel folders;
- `check_peer`: both clients load their peers; the data scientist submits a Python job to the
  owner and the owner's real `sync()` receives it onto its disk (which needs the permission files
  an acceptance writes);
- `check_job`: the owner's syft-job lists its jobs, and its runner says which it would run
  (without running any).

Each phase prints one JSON document on stdout. `WORKDIR/drive.json` holds the Drive: files
(id, name, mimeType, parents, owner, base64 content, trashed) and the non-owner permissions.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from syft_client.sync.connections.drive.mock_drive_service import (
    MockDriveBackingStore,
    MockDriveFile,
    MockPermission,
)
from syft_client.sync.peers.peer import PeerState
from syft_client.sync.syftbox_manager import SyftboxManager
from syft_job.config import SyftJobConfig
from syft_job.job_runner import SyftJobRunner
from upstream_writer import DO, DS1, make_manager, quiet

JOB_NAME = "auto approved job"
JOB_CODE = "import json\nprint(json.dumps({'rows': 42}))\n"


def load_store(path: Path) -> MockDriveBackingStore:
    document = json.loads(path.read_text(encoding="utf-8"))
    store = MockDriveBackingStore()
    for item in document["files"]:
        store.add_file(
            MockDriveFile(
                id=item["id"],
                name=item["name"],
                mimeType=item["mimeType"],
                parents=list(item["parents"]),
                owners=[{"emailAddress": item["owner"]}],
                content=base64.b64decode(item["content"]),
                trashed=bool(item["trashed"]),
            )
        )
    for file_id, permissions in document["permissions"].items():
        for permission in permissions:
            store.add_permission(
                file_id,
                MockPermission(
                    type=permission["type"],
                    role=permission["role"],
                    emailAddress=permission["email"],
                ),
            )
    return store


def dump_store(store: MockDriveBackingStore, path: Path) -> None:
    files = []
    permissions: dict[str, list[dict[str, Any]]] = {}
    for file in store.files.values():
        owner = file.owners[0]["emailAddress"] if file.owners else ""
        files.append(
            {
                "id": file.id,
                "name": file.name,
                "mimeType": file.mimeType,
                "parents": list(file.parents),
                "owner": owner,
                "content": base64.b64encode(file.content).decode("ascii"),
                "trashed": file.trashed,
            }
        )
        shared = [
            {"type": p.type, "role": p.role, "email": p.emailAddress}
            for p in store.get_permissions(file.id)
            if p.role != "owner"
        ]
        if shared:
            permissions[file.id] = shared
    path.write_text(json.dumps({"files": files, "permissions": permissions}), encoding="utf-8")


def managers(work: Path, store: MockDriveBackingStore) -> tuple[SyftboxManager, SyftboxManager]:
    do = make_manager(DO, work / "do", store, do_role=True)
    ds = make_manager(DS1, work / "ds", store, do_role=False)
    return do, ds


def states(manager: SyftboxManager) -> dict[str, str]:
    store = manager.peer_manager.peer_store
    found: dict[str, str] = {}
    for state, peers in (
        (PeerState.ACCEPTED, store.approved_peers),
        (PeerState.REQUESTED_BY_PEER, store.requested_by_peer_peers),
        (PeerState.REQUESTED_BY_ME, store.requested_by_me_peers),
    ):
        for peer in peers:
            found[peer.email] = state.value
    return found


def request(work: Path) -> dict[str, Any]:
    store = MockDriveBackingStore()
    do, ds = managers(work, store)
    with quiet():
        do.peer_manager.write_own_version()
        ds.peer_manager.write_own_version()
        ds.add_peer(DO, sync=False)
        do.load_peers()
    dump_store(store, work / "drive.json")
    return {"do_root": str(work / "do"), "owner_sees": states(do), "ds_sees": states(ds)}


def check_peer(work: Path) -> dict[str, Any]:
    store = load_store(work / "drive.json")
    do, ds = managers(work, store)
    with quiet():
        ds.load_peers(force_download=True)
        do.load_peers(force_download=True)
        report: dict[str, Any] = {"ds_sees": states(ds), "owner_sees": states(do)}
        source = work / "sources" / "analysis.py"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(JOB_CODE)
        ds.submit_python_job(DO, str(source), job_name=JOB_NAME)
        do.sync()
    job_dir = work / "do" / DO / "app_data" / "job" / "inbox" / DS1 / JOB_NAME
    report["job_received"] = (job_dir / "code" / "analysis.py").is_file()
    report["job_code"] = (
        sorted(
            p.relative_to(job_dir / "code").as_posix()
            for p in (job_dir / "code").rglob("*")
            if p.is_file()
        )
        if job_dir.is_dir()
        else []
    )
    dump_store(store, work / "drive.json")
    return report


def check_job(work: Path) -> dict[str, Any]:
    store = load_store(work / "drive.json")
    do, _ = managers(work, store)
    os.environ["PRE_SYNC"] = "false"  # read the disk as it is; a sync would not change it
    with quiet():
        jobs = [
            {
                "submitted_by": job.submitted_by,
                "name": job.name,
                "status": job.status,
                "approval_method": job.approval_method,
                "review_reason": job.review_reason,
            }
            for job in do.jobs
        ]
        runner = SyftJobRunner.from_config(
            SyftJobConfig(syftbox_folder=(work / "do").resolve(), current_user_email=DO)
        )
        would_run = runner._get_jobs_in_approved()
    return {"jobs": jobs, "runner_would_run": would_run}


PHASES = {"request": request, "check_peer": check_peer, "check_job": check_job}


def main() -> None:
    phase, work = sys.argv[1], Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(PHASES[phase](work)))


if __name__ == "__main__":
    main()
