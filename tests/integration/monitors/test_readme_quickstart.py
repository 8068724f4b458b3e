"""The README's library quick start, run verbatim against a sandbox started as the README says."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from syft_monitors.google.clients import build_drive_service, build_gmail_service
from syft_sandbox.actors import SimulatedDataScientist

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_blocks() -> tuple[str, str]:
    text = README.read_text()
    shell = re.search(r"```bash\n(\S*python -m syft_sandbox[^`]*?)```", text)
    python = re.search(r"<!-- readme-quickstart -->\n```python\n(.*?)```", text, re.S)
    assert shell, "README sandbox command not found"
    assert python, "README quick-start code block not found"
    return shell.group(1), python.group(1)


def test_readme_quickstart_runs_against_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell, code = readme_blocks()
    tokens = tmp_path / "syft-sandbox"
    command = shell.replace("\\\n", " ").replace("/tmp/syft-sandbox", str(tokens))
    args = command.split()
    assert args[0] == ".venv/bin/python"
    args[0] = sys.executable
    args[args.index("--port") + 1] = "0"  # the README's fixed port may be taken here
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        assert server.stdout is not None
        for line in server.stdout:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
            if url and (tokens / "ds@example.org.json").exists():
                break
        assert url, "sandbox did not print its URL"
        monkeypatch.setenv("SYFT_GOOGLE_API_ROOT", url)
        namespace: dict[str, object] = {}
        exec(compile(code.replace("/tmp/syft-sandbox", str(tokens)), "README", "exec"), namespace)
        monitor = namespace["monitor"]
        peers = namespace["peers"]
        try:
            ds_token = Credentials.from_authorized_user_file(str(tokens / "ds@example.org.json"))
            ds = SimulatedDataScientist(
                "ds@example.org", build_drive_service(ds_token, api_root=url)
            )
            ds.request_peer("do@example.org")
            ds.submit_job("do@example.org", "readme job", {"main.py": "print(1)\n"})
            peers.check()  # type: ignore[attr-defined]
            monitor.stop()  # type: ignore[attr-defined]  # no need to wait for its 10 s tick
            monitor.check()  # type: ignore[attr-defined]
            gmail = build_gmail(tokens, url)
            deadline = time.monotonic() + 30
            subjects: set[str] = set()
            while time.monotonic() < deadline and "Job: readme job" not in subjects:
                time.sleep(0.2)
                subjects = sent_subjects(gmail)
            assert "Job: readme job" in subjects
            assert "New Peer Request from ds@example.org" in subjects
        finally:
            monitor.stop()  # type: ignore[attr-defined]
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def build_gmail(tokens: Path, url: str) -> object:
    creds = Credentials.from_authorized_user_file(str(tokens / "do@example.org.json"))
    return build_gmail_service(creds, api_root=url)


def sent_subjects(gmail) -> set[str]:  # type: ignore[no-untyped-def]
    listing = gmail.users().messages().list(userId="me").execute()
    subjects = set()
    for item in listing.get("messages", []):
        message = (
            gmail.users()
            .messages()
            .get(userId="me", id=item["id"], format="metadata", metadataHeaders=["Subject"])
            .execute()
        )
        for header in message["payload"]["headers"]:
            if header["name"].lower() == "subject":
                subjects.add(header["value"])
    return subjects
