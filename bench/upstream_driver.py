"""Drive the real upstream poller (PyPI syft-client with `syft_client.notifications`) on command.

Runs INSIDE the upstream virtualenv, never in ours, and imports nothing of this project:

    .cache/bench-upstream-venv/bin/python bench/upstream_driver.py SPEC.json

SPEC: {"api_root", "do_email", "drive_token", "gmail_token", "state_file", "syftbox_root",
"config"}. The driver builds upstream's `JobMonitor` and `PeerMonitor` exactly as upstream's
`NotificationMonitor` does (one Gmail sender and one JSON state shared by both) and runs one
`check()` of each per "poll" command; the bench counts the Drive requests the sandbox served.

Upstream builds its Google clients with `googleapiclient.discovery.build` and has no setting for
the API endpoint, so before importing upstream the driver wraps `build` to use the bundled
discovery document with its root URL pointed at the sandbox (what our own client does with
`api_root`). The requests themselves are upstream's, unchanged.

Same line protocol as `bench.child`: one JSON command per line on stdin, one JSON answer per line
on the real stdout; fd 1 is pointed at stderr so upstream's prints go to the log.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
from importlib import metadata, resources
from pathlib import Path
from typing import IO, Any

import googleapiclient.discovery as discovery


def reroot(api_root: str) -> None:
    original_from_document = discovery.build_from_document

    def build(service_name: str, version: str, *args: Any, **kwargs: Any) -> Any:
        package = resources.files("googleapiclient") / "discovery_cache" / "documents"
        document = json.loads((package / f"{service_name}.{version}.json").read_text("utf-8"))
        document["rootUrl"] = api_root
        document["mtlsRootUrl"] = api_root
        document["baseUrl"] = api_root + document.get("servicePath", "")
        return original_from_document(
            document, http=kwargs.get("http"), credentials=kwargs.get("credentials")
        )

    discovery.build = build


def memory() -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key.lower() + "_kib"] = int(value.split()[0])
    return found


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_monitors(spec: dict[str, Any]) -> list[Any]:
    # Imported only now, by name: upstream binds `build` when its modules are imported.
    package = "syft_client.notifications."
    auth = importlib.import_module(package + "gmail_auth")
    gmail = importlib.import_module(package + "gmail_sender")
    jobs_module = importlib.import_module(package + "job_monitor")
    state_module = importlib.import_module(package + "json_state_manager")
    peers_module = importlib.import_module(package + "peer_monitor")
    GmailAuth, GmailSender = auth.GmailAuth, gmail.GmailSender  # noqa: N806 - upstream's names
    JobMonitor, PeerMonitor = jobs_module.JobMonitor, peers_module.PeerMonitor  # noqa: N806
    JsonStateManager = state_module.JsonStateManager  # noqa: N806

    sender = GmailSender(GmailAuth().load_credentials(Path(spec["gmail_token"])))
    state = JsonStateManager(Path(spec["state_file"]))
    config = dict(spec["config"])
    jobs = JobMonitor(
        syftbox_root=Path(spec["syftbox_root"]),
        do_email=spec["do_email"],
        sender=sender,
        state=state,
        config=config,
        drive_token_path=Path(spec["drive_token"]),
    )
    peers = PeerMonitor(
        do_email=spec["do_email"],
        drive_token_path=Path(spec["drive_token"]),
        sender=sender,
        state=state,
        config=config,
    )
    return [jobs, peers]


def serve(spec: dict[str, Any], stream: IO[str]) -> None:
    reroot(spec["api_root"])
    monitors = build_monitors(spec)
    info = {
        "ready": True,
        "syft_client": metadata.version("syft-client"),
        "python": sys.version.split()[0],
        **memory(),
    }
    stream.write(json.dumps(info) + "\n")
    stream.flush()
    for line in sys.stdin:
        command = json.loads(line)
        name = command.get("cmd")
        try:
            if name == "poll":
                cpu, wall = cpu_seconds(), time.perf_counter()
                for _ in range(int(command.get("n", 1))):
                    for monitor in monitors:
                        monitor.check()
                reply: dict[str, Any] = {
                    "cpu_s": cpu_seconds() - cpu,
                    "wall_s": time.perf_counter() - wall,
                }
            elif name == "stats":
                reply = memory()
            elif name == "quit":
                reply = {"bye": True}
            else:
                reply = {"error": f"unknown command {name!r}"}
        except Exception as error:  # report, do not hang the bench
            traceback.print_exc()
            reply = {"error": f"{type(error).__name__}: {error}"[:500]}
        stream.write(json.dumps(reply) + "\n")
        stream.flush()
        if name == "quit":
            return


def main(argv: list[str]) -> int:
    sys.stdout.flush()
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    serve(json.loads(Path(argv[1]).read_text(encoding="utf-8")), stream)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
