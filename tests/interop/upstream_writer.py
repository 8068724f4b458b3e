"""Drive the real upstream syft-client/syft-job offline and record everything it wrote.

Runs INSIDE the interop virtualenv (`.venv-interop`), never in ours:

    .venv-interop/bin/python tests/interop/upstream_writer.py OUTDIR

Upstream ships an in-process Google Drive double (`MockDriveService` over a shared
`MockDriveBackingStore`) that its own test-suite plugs into the real `GDriveConnection`. Using it,
every byte below is produced by upstream's own code paths: data scientists submit jobs with
`SyftboxManager.submit_python_job` / `submit_bash_job`, the data owner runs its real `sync()`,
lists jobs, approves, rejects and runs them with syft-job. Nothing here builds a tar or a JSON
document by hand; the only upstream objects constructed directly are the ones upstream has no
public call for (a data scientist's deletion, a job file that is not UTF-8), and those are still
serialised and uploaded by upstream's transport.

Output in OUTDIR:
- `messages/`: every `msgv2_*` and `syfteventsmessagev3_*` file upstream put on the fake Drive;
- `do_root/`: a copy of the data owner's SyftBox folder taken while one job is running, so that
  every job status (received ... failed) is on disk at once;
- `manifest.json`: what was written, as seen by upstream's own readers (see `build_manifest`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from syft_client.sync.connections.drive.gdrive_transport import GDriveConnection
from syft_client.sync.connections.drive.mock_drive_service import (
    MockDriveBackingStore,
    MockDriveService,
)
from syft_client.sync.events.file_change_event import FileChangeEventsMessage
from syft_client.sync.messages.proposed_filechange import (
    MessageFileName,
    ProposedFileChange,
    ProposedFileChangesMessage,
)
from syft_client.sync.syftbox_manager import SyftboxManager, SyftboxManagerConfig
from syft_job.client import JobClient
from syft_job.config import SyftJobConfig
from syft_job.models.state import JobState, JobStatus
from syft_perms.syftperm_context import SyftPermContext

DO = "data.owner@hospital.example.org"
# Underscore and plus: the characters that broke upstream's own folder-name parsing.
DS1 = "first_last+tag@uni-x.edu"
DS2 = "ds_two@lab.example.com"

RUNNING_WAIT_SECONDS = 60.0


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Upstream prints progress to stdout; keep ours for nothing and send theirs to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


# --- the fake world: one Drive, one data owner, two data scientists --------------------------


def make_manager(
    email: str, folder: Path, store: MockDriveBackingStore, *, do_role: bool
) -> SyftboxManager:
    config = SyftboxManagerConfig._base_config_for_testing(
        email=email,
        syftbox_folder=folder,
        has_do_role=do_role,
        has_ds_role=not do_role,
        # On-disk caches: the data owner must write the received files to its SyftBox folder.
        use_in_memory_cache=False,
    )
    manager = SyftboxManager.from_config(config)
    manager._add_connection(GDriveConnection.from_service(email, MockDriveService(store, email)))
    if do_role:
        manager.datasite_owner_syncer.event_cache.add_callback(
            "on_event_local_write", manager.job_file_change_handler._handle_file_change
        )
    else:
        manager.file_writer.add_callback(
            "write_file", manager.datasite_watcher_syncer.on_file_change
        )
    return manager


class World:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.store = MockDriveBackingStore()
        self.do = make_manager(DO, work / "do", self.store, do_role=True)
        self.ds = {
            email: make_manager(email, work / f"ds{i}", self.store, do_role=False)
            for i, email in enumerate((DS1, DS2), start=1)
        }
        self.labels: dict[str, str] = {}
        self.plain_file = ""

    def connect(self) -> None:
        for manager in (self.do, *self.ds.values()):
            manager.peer_manager.write_own_version()
        for manager in self.ds.values():
            manager.add_peer(DO, sync=False)
        self.do.load_peers()
        for email in self.ds:
            self.do.approve_peer_request(email)
        for manager in self.ds.values():
            manager.load_peers()

    @property
    def do_datasite(self) -> Path:
        return self.work / "do" / DO

    def message_names(self) -> set[str]:
        return {f.name for f in self.store.files.values() if f.name.startswith("msgv2_")}

    @contextlib.contextmanager
    def labelled(self, label: str) -> Iterator[None]:
        """Remember which msgv2 file the enclosed data-scientist action produced."""
        before = self.message_names()
        yield
        new = sorted(self.message_names() - before)
        if len(new) != 1:
            raise RuntimeError(f"{label!r} produced {len(new)} msgv2 files, expected 1")
        self.labels[new[0]] = label


def ds_job_dir(world: World, ds: str, name: str) -> Path:
    return world.ds[ds].syftbox_folder / DO / "app_data" / "job" / "inbox" / ds / name


def push_files_keeping_bytes(manager: SyftboxManager, job_dir: Path) -> None:
    """Upstream's `push_job_files`, except non-UTF-8 files travel as bytes.

    `push_job_files` reopens every file in text mode, so upstream 0.1.117 cannot submit a job that
    contains a binary file (UnicodeDecodeError). Its message model does carry bytes
    (`content_type: "binary"`, base64), so the file goes through the same watcher call with its
    bytes supplied; the data owner accepts it and echoes it as binary in its events.
    """
    files = sorted(p for p in job_dir.rglob("*") if p.is_file())
    for index, path in enumerate(files):
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            content: bytes | None = None
        except UnicodeDecodeError:
            content = raw
        manager.datasite_watcher_syncer.on_file_change(
            path.relative_to(manager.syftbox_folder),
            content=content,
            process_now=index == len(files) - 1,
        )


# --- scenario ---------------------------------------------------------------------------------

BINARY_BLOB = bytes(range(256)) + b"\x89PNG\r\n\x1a\n\xff\xfe\x00"


def submit_jobs(world: World, sources: Path) -> dict[tuple[str, str], str]:
    """Every job the data scientists submit; returns (submitter, name) -> intended final status."""
    ds1, ds2 = world.ds[DS1], world.ds[DS2]
    plan: dict[tuple[str, str], str] = {}

    single = sources / "analysis.py"
    single.write_text("import json\nprint(json.dumps({'rows': 42}))\n")
    with world.labelled("python job"):
        ds1.submit_python_job(DO, str(single), job_name="python job")
    plan[(DS1, "python job")] = "pending"

    # The same job name from another data scientist: jobs are identified by (submitter, name).
    with world.labelled("python job, second submitter"):
        ds2.submit_python_job(DO, str(single), job_name="python job")
    plan[(DS2, "python job")] = "approved"

    folder = sources / "folder_job"
    (folder / "data").mkdir(parents=True)
    (folder / "main.py").write_text("import json\nparams = json.load(open('params.json'))\n")
    (folder / "params.json").write_text(json.dumps({"alpha": 0.5, "label": "naïve ✓"}) + "\n")
    (folder / "data" / "blob.bin").write_bytes(BINARY_BLOB)
    (folder / "README.md").write_text("# Folder job\n\nUnicode: Grüße, 東京\n")
    job_dir = ds1.job_client.submit_python_job(DO, str(folder), job_name="folder job")
    with world.labelled("folder job with binary file and params.json"):
        push_files_keeping_bytes(ds1, job_dir)
    plan[(DS1, "folder job")] = "pending"

    unicode_source = sources / "unicode.py"
    unicode_source.write_text("print('Ünïcödé ジョブ')\n")
    with world.labelled("unicode job name"):
        ds2.submit_python_job(DO, str(unicode_source), job_name="Ünïcödé ジョブ")
    plan[(DS2, "Ünïcödé ジョブ")] = "rejected"

    # An extra top-level file breaks syft-job's strict folder shape: upstream auto-rejects it.
    job_dir = ds1.job_client.submit_bash_job(DO, "echo shape\n", job_name="bad shape")
    (job_dir / "notes.txt").write_text("not allowed next to run.sh\n")
    with world.labelled("job with an invalid folder shape"):
        ds1.push_job_files(job_dir)
    plan[(DS1, "bad shape")] = "rejected"

    with world.labelled("bash job, name with spaces"):
        ds1.submit_bash_job(
            DO, "echo hello\necho 'result' > code/outputs/result.txt\n", job_name="job with spaces"
        )
    plan[(DS1, "job with spaces")] = "done"

    with world.labelled("bash job, default name"):
        ds2.submit_bash_job(DO, "echo failing >&2\nexit 3\n", job_name="")
    default_names = [
        p.name
        for p in (ds2.syftbox_folder / DO / "app_data" / "job" / "inbox" / DS2).iterdir()
        if p.name.startswith("Job - ")
    ]
    if len(default_names) != 1:
        raise RuntimeError(f"expected one default-named job, found {default_names}")
    plan[(DS2, default_names[0])] = "failed"

    release = world.work / "release-running-job"
    script = (
        f"for i in $(seq 1 {int(RUNNING_WAIT_SECONDS * 20)}); do\n"
        f"  if [ -e '{release}' ]; then exit 0; fi\n"
        "  sleep 0.05\n"
        "done\n"
    )
    with world.labelled("bash job that stays running"):
        ds1.submit_bash_job(DO, script, job_name="still running")
    plan[(DS1, "still running")] = "running"
    return plan


def send_plain_file(world: World) -> str:
    """A non-job file the data owner lets DS1 write, which the owner later deletes itself."""
    rel = f"shared/{DS1}/notes.md"
    shared = world.do_datasite / "shared" / DS1
    shared.mkdir(parents=True)
    SyftPermContext(datasite=world.do_datasite).open(f"shared/{DS1}/").grant_write_access(DS1)

    ds1 = world.ds[DS1]
    local = ds1.syftbox_folder / DO / rel
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text("plain file, not part of any job\n")
    with world.labelled("plain file sync"):
        ds1.datasite_watcher_syncer.on_file_change(local.relative_to(ds1.syftbox_folder))
    with quiet():
        world.do.sync()
    # The owner deleting a file is how upstream produces a deletion event (`is_deleted: true`).
    (world.do_datasite / rel).unlink()
    with quiet():
        world.do.sync()
    return rel


def send_ds_deletion(world: World, rel: str) -> None:
    """A data scientist's deletion proposal, sent by upstream's transport; never processed.

    Upstream's watcher has no call for "this file was deleted" (it re-reads the file), so the
    proposal is upstream's own model object. Upstream 0.1.117's data owner cannot apply it:
    `FileChangeEvent.from_proposed_filechange` drops `is_deleted`, so the accepted event is a
    write with no content and `sync()` raises TypeError. It is therefore sent last, after the
    snapshot, and only the message file is checked.
    """
    ds1 = world.ds[DS1]
    local = ds1.syftbox_folder / DO / rel
    old_hash = ds1.datasite_watcher_syncer.datasite_watcher_cache.current_hash_for_file(
        Path(DO) / rel
    )
    local.unlink()
    deletion = ProposedFileChangesMessage(
        sender_email=DS1,
        proposed_file_changes=[
            ProposedFileChange(
                datasite_email=DO,
                path_in_datasite=Path(rel),
                content=None,
                old_hash=old_hash,
                new_hash=None,
                is_deleted=True,
            )
        ],
    )
    with world.labelled("deletion proposed by a data scientist"):
        ds1.datasite_watcher_syncer.connection_router.watcher_send_proposed_file_changes_message(
            DO, deletion
        )


def find_job(client: JobClient, submitter: str, name: str) -> Any:
    for job in client._get_all_jobs():
        if job.submitted_by == submitter and job.name == name:
            return job
    raise RuntimeError(f"upstream does not list job {name!r} from {submitter}")


def _status_of(state_file: Path) -> JobStatus | None:
    # Upstream rewrites state.yaml in place (truncate, then write), so a read can land between
    # the two and see an empty file: that is "not yet", not an error.
    try:
        return JobState.load(state_file).status
    except (TypeError, ValueError, OSError, yaml.YAMLError):
        return None


def wait_for_status(state_file: Path, status: JobStatus) -> None:
    deadline = time.monotonic() + RUNNING_WAIT_SECONDS
    while time.monotonic() < deadline:
        if state_file.exists() and _status_of(state_file) == status:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{state_file} never reached {status.value}")


def run_scenario(work: Path, out: Path) -> tuple[World, dict[tuple[str, str], str]]:
    world = World(work)
    sources = work / "sources"
    sources.mkdir(parents=True)
    with quiet():
        world.connect()
        plan = submit_jobs(world, sources)
        world.do.sync()
        # Listing jobs is what turns "received" into "pending" (or "rejected" for a bad shape).
        jobs = world.do.job_client.jobs
        listed = {(j.submitted_by, j.name): j for j in jobs}
        for key, target in plan.items():
            if target in ("done", "failed"):
                listed[key].approve()
        world.do.process_approved_jobs(stream_output=False, force_execution=True)
    plain_path = send_plain_file(world)

    with quiet():
        running_key = next(k for k, v in plan.items() if v == "running")
        find_job(world.do.job_client, *running_key).approve()
        runner = threading.Thread(
            target=world.do.job_runner.process_approved_jobs,
            kwargs={"stream_output": False, "timeout": int(RUNNING_WAIT_SECONDS) + 30},
        )
        runner.start()
        try:
            wait_for_status(
                world.do_datasite
                / "app_data"
                / "job"
                / "review"
                / running_key[0]
                / running_key[1]
                / "state.yaml",
                JobStatus.RUNNING,
            )
            for key, target in plan.items():
                if target == "approved":
                    find_job(world.do.job_client, *key).approve(reason="looks fine")
                elif target == "rejected" and key != (DS1, "bad shape"):
                    find_job(world.do.job_client, *key).reject(reason="uses private columns")

            late = sources / "late.py"
            late.write_text("print('late')\n")
            with world.labelled("job the data owner has not listed yet"):
                world.ds[DS2].submit_python_job(DO, str(late), job_name="late arrival")
            plan[(DS2, "late arrival")] = "received"
            # Publishes the review/ state changes as events and receives the late job; nothing
            # here lists jobs, so the late one keeps no state.yaml ("received").
            world.do.sync()
            shutil.copytree(work / "do", out / "do_root", symlinks=True)
        finally:
            (work / "release-running-job").touch()
            runner.join(timeout=RUNNING_WAIT_SECONDS)
    send_ds_deletion(world, plain_path)

    world.plain_file = plain_path
    export_messages(world, out / "messages")
    return world, plan


def export_messages(world: World, target: Path) -> None:
    """Write every message file from the fake Drive; the same name in two folders is one file."""
    target.mkdir(parents=True)
    for drive_file in world.store.files.values():
        name = drive_file.name
        if not (name.startswith("msgv2_") or name.startswith("syfteventsmessagev3_")):
            continue
        path = target / name
        if path.exists():
            # The event log and a peer outbox get the same message; gzip headers may differ.
            same = (
                decode(name, path.read_bytes()).model_dump_json()
                == decode(name, drive_file.content).model_dump_json()
            )
            if not same:
                raise RuntimeError(f"two different messages share the name {name}")
            continue
        path.write_bytes(drive_file.content)


# --- manifest: upstream's own reading of what it wrote -----------------------------------------


def decode(name: str, data: bytes) -> ProposedFileChangesMessage | FileChangeEventsMessage:
    if name.startswith("msgv2_"):
        return ProposedFileChangesMessage.from_compressed_data(data)
    return FileChangeEventsMessage.from_compressed_data(data)


def change_bytes(content: str | bytes | None) -> bytes | None:
    if content is None:
        return None
    return content if isinstance(content, bytes) else content.encode("utf-8")


def describe_message(path: Path, label: str | None) -> dict[str, Any]:
    message = decode(path.name, path.read_bytes())
    if isinstance(message, ProposedFileChangesMessage):
        kind, sender, items = (
            "proposed_changes",
            message.sender_email,
            message.proposed_file_changes,
        )
        name_fields = MessageFileName.from_string(path.name)
        if name_fields.as_string() != message.message_filename.as_string():
            raise RuntimeError(f"{path.name}: file name and message_filename disagree")
    else:
        kind, sender, items = "events", None, message.events
    changes = []
    datasites = set()
    for item in items:
        raw = change_bytes(item.content)
        digest = None if raw is None else sha256_hex(raw)
        if digest != item.new_hash:
            raise RuntimeError(f"{path.name}: upstream's new_hash differs from its content")
        entry: dict[str, Any] = {
            "path": Path(item.path_in_datasite).as_posix(),
            "deleted": item.is_deleted,
            "binary": item.content_type == "binary",
            "sha256": digest,
        }
        if entry["path"].endswith("/state.yaml") and raw is not None:
            entry["state_status"] = upstream_state_status(raw)
        changes.append(entry)
        datasites.add(item.datasite_email)
    if len(datasites) != 1:
        raise RuntimeError(f"{path.name}: expected one datasite, got {sorted(datasites)}")
    jobs = message_jobs(kind, changes)
    return {
        "file": path.name,
        "label": label,
        "kind": kind,
        "sender": sender,
        "datasite": datasites.pop(),
        "layout": "current" if jobs else None,
        "changes": changes,
        "jobs": jobs,
    }


def upstream_state_status(raw: bytes) -> str:
    """The status upstream's syft-job shows for this `state.yaml` content."""
    with tempfile.TemporaryDirectory() as scratch:
        state_file = Path(scratch) / "state.yaml"
        state_file.write_bytes(raw)
        return str(JobState.load(state_file).status.value)


def message_jobs(kind: str, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The jobs a message carries, by upstream's recognition rule (sync/job docs, HEAD).

    A submission is a `config.yaml` change at `app_data/job/inbox/{ds}/{job}/config.yaml`: the job
    name is the 5th segment, the submitter the 4th, its files the sibling changes (path under the
    job folder -> sha256, deletions left out). An events message also carries status changes:
    `app_data/job/review/{ds}/{job}/state.yaml`, whose status is what syft-job reads from it.
    Logs or outputs alone are neither. Proposals never carry review/ files as jobs.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:
        parts = change["path"].split("/")
        if (
            parts[:2] != ["app_data", "job"]
            or len(parts) < 6
            or parts[2] not in ("inbox", "review")
        ):
            continue
        if kind == "proposed_changes" and parts[2] == "review":
            continue
        group = groups.setdefault(
            (parts[3], parts[4]), {"files": {}, "config": False, "status": None}
        )
        relative = "/".join(parts[5:])
        if parts[2] == "inbox":
            if not change["deleted"]:
                group["files"][relative] = change["sha256"]
                group["config"] = group["config"] or relative == "config.yaml"
        elif relative == "state.yaml" and not change["deleted"]:
            group["status"] = change["state_status"]
    return [
        {"name": name, "submitter": submitter, "files": group["files"], "status": group["status"]}
        for (submitter, name), group in groups.items()
        if group["config"] or group["status"] is not None
    ]


def check_against_data_scientists(world: World, messages: list[dict[str, Any]]) -> None:
    """Every job in a proposal must be exactly the folder the data scientist has on disk."""
    for message in messages:
        if message["kind"] != "proposed_changes":
            continue
        for job in message["jobs"]:
            job_dir = ds_job_dir(world, job["submitter"], job["name"])
            on_disk = {
                p.relative_to(job_dir).as_posix(): sha256_hex(p.read_bytes())
                for p in job_dir.rglob("*")
                if p.is_file()
            }
            if on_disk != job["files"]:
                raise RuntimeError(f"{message['file']}: job files differ from the sender's folder")


def describe_jobs(root: Path, plan: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """The data owner's jobs as upstream's own JobClient reads the snapshot (no inbox scan)."""
    client = JobClient(SyftJobConfig(syftbox_folder=root, current_user_email=DO, has_do_role=True))
    seen = client._get_all_jobs()
    if {(j.submitted_by, j.name) for j in seen} != set(plan):
        raise RuntimeError("upstream's job listing does not match the jobs this script created")
    jobs = []
    for job in seen:
        key = (job.submitted_by, job.name)
        if job.status != plan[key]:
            raise RuntimeError(f"job {key} is {job.status}, the scenario wanted {plan[key]}")
        job_dir = job.job_submission_path
        files = {
            p.relative_to(job_dir).as_posix(): sha256_hex(p.read_bytes())
            for p in sorted(job_dir.rglob("*"))
            if p.is_file()
        }
        state_file = job.job_review_path / "state.yaml"
        jobs.append(
            {
                "name": job.name,
                "submitter": job.submitted_by,
                "datasite": job.datasite_owner_email,
                "layout": "current",
                "status": job.status,
                "submitted_at": job.submitted_at,
                "path": job_dir.relative_to(root).as_posix(),
                "state_file": (
                    state_file.relative_to(root).as_posix() if state_file.exists() else None
                ),
                "files": files,
            }
        )
    return sorted(jobs, key=lambda j: (j["submitter"], j["name"]))


def build_manifest(world: World, out: Path, plan: dict[tuple[str, str], str]) -> dict[str, Any]:
    messages = [
        describe_message(path, world.labels.get(path.name))
        for path in sorted((out / "messages").iterdir())
    ]
    missing = set(world.labels) - {m["file"] for m in messages}
    if missing:
        raise RuntimeError(f"labelled messages missing from the export: {sorted(missing)}")
    check_against_data_scientists(world, messages)
    return {
        "upstream": {"syft-client": version("syft-client"), "syft-job": version("syft-job")},
        "datasite": DO,
        "data_scientists": [DS1, DS2],
        "do_root": "do_root",
        "plain_file": world.plain_file,
        "messages": messages,
        "jobs": describe_jobs(out / "do_root", plan),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: upstream_writer.py OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve()
    if out.exists() and any(out.iterdir()):
        print(f"{out} is not empty", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    # Upstream syncs after running jobs only when PRE_SYNC is true (its default); the manifest
    # counts on those syncs publishing the final job states as events.
    os.environ["PRE_SYNC"] = "true"
    work = out / "work"
    world, plan = run_scenario(work, out)
    manifest = build_manifest(world, out, plan)
    shutil.rmtree(work)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({"messages": len(manifest["messages"]), "jobs": len(manifest["jobs"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
