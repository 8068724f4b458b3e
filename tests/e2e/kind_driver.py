"""The data scientist's side of the kind end-to-end run, and the check that an email went out.

    python -m tests.e2e.kind_driver --api-root http://127.0.0.1:18765/ \
        --do do@sandbox.example.org --do-token do.json \
        --ds ds@sandbox.example.org --ds-token ds.json --timeout 180

Against a sandbox (reached through `kubectl port-forward`): the DS asks to peer, the DO accepts,
the DS submits a job; then the DO's Gmail (the sandbox's) is polled until the monitor running in
the cluster has sent the "Job: <name>" email. Exit 0 when it did, 1 when it did not in time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from syft_monitors.google.clients import build_drive_service, build_gmail_service
from syft_monitors.google.credentials import load_credentials
from syft_sandbox.actors import SimulatedDataOwner, SimulatedDataScientist

JOB_NAME = "kind e2e job"


def services(token: Path, api_root: str) -> tuple[Any, Any]:
    credentials = load_credentials(token, api_root=api_root)
    return (
        build_drive_service(credentials, api_root=api_root),
        build_gmail_service(credentials, api_root=api_root),
    )


def submit_job(api_root: str, do: str, do_token: Path, ds: str, ds_token: Path) -> None:
    do_drive, _ = services(do_token, api_root)
    ds_drive, _ = services(ds_token, api_root)
    scientist = SimulatedDataScientist(ds, ds_drive)
    owner = SimulatedDataOwner(do, do_drive)
    scientist.request_peer(do)
    owner.accept_peer(ds)
    scientist.submit_job(do, JOB_NAME, {"main.py": "print('hello from kind')\n"})


def sent_subjects(gmail: Any) -> list[str]:
    listed = gmail.users().messages().list(userId="me").execute()
    subjects = []
    for item in listed.get("messages", []):
        message = (
            gmail.users()
            .messages()
            .get(userId="me", id=item["id"], format="metadata", metadataHeaders=["Subject"])
            .execute()
        )
        for header in message.get("payload", {}).get("headers", []):
            if header["name"].lower() == "subject":
                subjects.append(str(header["value"]))
    return subjects


def wait_for_job_email(api_root: str, do_token: Path, timeout: float) -> list[str]:
    _, gmail = services(do_token, api_root)
    deadline = time.monotonic() + timeout
    subjects: list[str] = []
    while time.monotonic() < deadline:
        subjects = sent_subjects(gmail)
        if any(JOB_NAME in subject for subject in subjects):
            return subjects
        time.sleep(2)
    raise TimeoutError(f"no email about {JOB_NAME!r} after {timeout:.0f}s; saw {subjects}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="kind e2e: simulate a job, expect an email")
    parser.add_argument("--api-root", required=True)
    parser.add_argument("--do", required=True)
    parser.add_argument("--do-token", type=Path, required=True)
    parser.add_argument("--ds", required=True)
    parser.add_argument("--ds-token", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    submit_job(args.api_root, args.do, args.do_token, args.ds, args.ds_token)
    print(f"job {JOB_NAME!r} submitted by {args.ds}; waiting for the monitor's email")
    try:
        subjects = wait_for_job_email(args.api_root, args.do_token, args.timeout)
    except TimeoutError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print("emails sent by the monitor:", *subjects, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
