"""The seed's notebook path with upstream's real client: `JobMonitor.from_client(sc.login_do(...))`.

Runs as a subprocess of the test: the Python running the tests, with the interop venv's
site-packages appended so upstream's packages (syft-client, syft-job and their dependencies)
import beside ours, one process holding both, as in a data owner's notebook. Upstream talks to
the sandbox as Google through `google_tls_proxy` (its environment is set by the test).

    python upstream_client_monitor.py SITE_PACKAGES WORKDIR API_ROOT DO_TOKEN DS_TOKEN

Prints one JSON document: the monitors' reports and what `from_client` did with a client that
has no token.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

DO = "data.owner@hospital.example.org"
DS = "first_last+tag@uni-x.edu"
JOB_NAME = "count rows"


def report(monitor: Any) -> dict[str, Any]:
    last = monitor.last_report
    return {"baseline": last.baseline, "events": last.events, "emails": last.emails}


def main() -> None:
    site, work, api_root = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    do_token, ds_token = sys.argv[4], sys.argv[5]
    sys.path.append(site)
    # Imported only now: upstream's packages are importable once its site-packages are on the path.
    import syft_client as sc  # noqa: PLC0415
    from syft_client.sync.syftbox_manager import (  # noqa: PLC0415
        SyftboxManager,
        SyftboxManagerConfig,
    )

    from syft_monitors import JobMonitor, PeerMonitor  # noqa: PLC0415
    from syft_monitors.errors import CredentialsError  # noqa: PLC0415

    out: dict[str, Any] = {}
    chatter = io.StringIO()  # upstream prints progress with emoji; keep stdout for the JSON
    with contextlib.redirect_stdout(chatter):
        owner = sc.login_do(email=DO, token_path=do_token, sync=False, load_peers=False)
        scientist = sc.login_ds(email=DS, token_path=ds_token, sync=False, load_peers=False)
        owner.peer_manager.write_own_version()
        scientist.peer_manager.write_own_version()

        peers = PeerMonitor.from_client(owner, gmail_token_path=do_token, google_api_root=api_root)
        jobs = JobMonitor.from_client(owner, gmail_token_path=do_token, google_api_root=api_root)
        out["syftbox_root"] = str(jobs.syftbox_root)
        peers.check()
        jobs.check()
        out["baseline"] = {"peers": report(peers), "jobs": report(jobs)}

        scientist.add_peer(DO)
        peers.check()
        out["peer_request"] = report(peers)

        owner.load_peers()
        owner.approve_peer_request(DS)
        scientist.load_peers()
        source = work / "analysis.py"
        source.write_text("print(42)\n", encoding="utf-8")
        scientist.submit_python_job(DO, str(source), job_name=JOB_NAME)
        jobs.check()
        out["job"] = report(jobs)
        peers.stop()
        jobs.stop()

        # A client holding no token file (as on Colab, or one built for tests): a clear error,
        # not a monitor that watches nothing.
        bare = SyftboxManager.from_config(
            SyftboxManagerConfig._base_config_for_testing(
                email=DO, syftbox_folder=work / "bare", has_do_role=True
            )
        )
        for cls in (JobMonitor, PeerMonitor):
            try:
                cls.from_client(bare, gmail_token_path=do_token, google_api_root=api_root)
            except CredentialsError as error:
                out.setdefault("no_token", []).append(str(error))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
