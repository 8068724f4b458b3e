"""A local Google Drive v3 + Gmail v1 + OAuth token server for tests, demos and the bench.

sandbox = Sandbox()
token = sandbox.add_user("do@example.org")
with sandbox.serve() as server:          # http://127.0.0.1:<free port>/
    drive = build_drive_service(Credentials(token), api_root=server.url)
"""

from syft_sandbox.apierror import ApiError, SandboxError
from syft_sandbox.core import Sandbox
from syft_sandbox.drive_files import FOLDER_MIME, FileInfo
from syft_sandbox.faults import FaultInjector, FaultKind, FaultRule
from syft_sandbox.gmail_model import MailRecord
from syft_sandbox.requestlog import RequestLog, RequestRecord
from syft_sandbox.server import SandboxServer

__all__ = [
    "FOLDER_MIME",
    "ApiError",
    "FaultInjector",
    "FaultKind",
    "FaultRule",
    "FileInfo",
    "MailRecord",
    "RequestLog",
    "RequestRecord",
    "Sandbox",
    "SandboxError",
    "SandboxServer",
]
