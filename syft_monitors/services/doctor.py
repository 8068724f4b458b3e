"""`syft-bg doctor`: check everything a service needs, one line per check with a fix hint.

Checks: the config file; the token files (present, readable, private); each token's validity
(a refresh against the configured token endpoint, so a revoked grant shows here) and scopes;
Drive and Gmail (or SMTP, or the mail folder) reachability with that token; the clock against the
API server's `Date` header (OAuth and Gmail dislike skew); free disk space for logs and state;
the daemon folder. Network checks make one request each, without retries, with a short timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import os
import platform
import shutil
import socket
import stat
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from syft_monitors.config import MonitorConfig, load_config
from syft_monitors.errors import CredentialsError, MissingScopeError, SyftMonitorError
from syft_monitors.google.credentials import read_token_info
from syft_monitors.protocol.emails import normalize_email, safe_repr

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
GMAIL_SEND_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    }
)
GOOGLE_ROOT = "https://www.googleapis.com/"
TIMEOUT = 15.0
CLOCK_WARN = 30.0
CLOCK_FAIL = 300.0
DISK_WARN = 200 * 1024 * 1024
DISK_FAIL = 20 * 1024 * 1024


class Outcome(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    outcome: Outcome
    detail: str
    hint: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "outcome": str(self.outcome),
            "detail": self.detail,
            "hint": self.hint,
        }


def failed(results: list[CheckResult]) -> bool:
    return any(result.outcome is Outcome.FAIL for result in results)


def run_checks(
    config_path: Path, *, on_check: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Run every check in order; `on_check` sees each result as soon as it is known."""
    results: list[CheckResult] = []

    def add(result: CheckResult) -> None:
        results.append(result)
        if on_check is not None:
            on_check(result)

    try:
        config = load_config(config_path)
    except SyftMonitorError as error:
        missing = not config_path.exists()
        add(
            CheckResult(
                "config",
                Outcome.FAIL,
                str(error),
                "create one with `syft-bg init -e YOUR_EMAIL`"
                if missing
                else "fix the key named above, then run `syft-bg doctor` again",
            )
        )
        return results
    add(CheckResult("config", Outcome.OK, f"{config_path} is valid ({config.do_email})"))
    _Doctor(config, add).run()
    _auto_approval_rules(config, add)
    return results


class _Doctor:
    def __init__(self, config: MonitorConfig, add: Callable[[CheckResult], None]) -> None:
        self.config = config
        self.add = add
        self.api_root = config.api_root()

    def run(self) -> None:
        config = self.config
        tokens: dict[str, Path] = {}
        if config.drive_token_path is not None:
            tokens["drive"] = config.drive_token_path
        if config.sender == "gmail" or config.approve.email_replies:
            tokens["gmail"] = config.gmail_token_path
        readable = {api: self.token_file(api, path) for api, path in tokens.items()}
        credentials: dict[str, Any] = {}
        for api, path in tokens.items():
            if readable[api]:
                credentials[api] = self.token_validity(api, path)
            else:
                self.add(CheckResult(f"{api} token", Outcome.SKIP, "token file unusable"))
        if config.drive_token_path is None:
            self.add(
                CheckResult(
                    "drive", Outcome.WARN, "no drive_token_path: only the local SyftBox folder"
                )
            )
        elif credentials.get("drive") is not None:
            self.drive(credentials["drive"])
        else:
            self.add(CheckResult("drive", Outcome.SKIP, "no valid Drive token"))
        self.mail(credentials.get("gmail"))
        if config.approve.email_replies:
            self.email_replies(credentials.get("gmail"))
        self.python()
        self.clock()
        self.disk()
        self.state_file()
        self.syftbox_root()

    # --- tokens ---------------------------------------------------------------------------

    def token_file(self, api: str, path: Path) -> bool:
        name = f"{api} token file"
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                # A FIFO would block the open below; a directory or device is no token either.
                self.add(
                    CheckResult(
                        name,
                        Outcome.FAIL,
                        f"{path} is not a regular file",
                        f"point {api}_token_path at the authorized-user token file",
                    )
                )
                return False
            with path.open("rb") as file:
                file.read(1)
            read_token_info(path)
        except CredentialsError as error:
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    str(error),
                    "create the token file again (an authorized-user JSON with "
                    "refresh_token, client_id and client_secret)",
                )
            )
            return False
        except FileNotFoundError:
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    f"{path} does not exist",
                    f"create an authorized-user token file there, or set {api}_token_path",
                )
            )
            return False
        except OSError as error:
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    f"{path} cannot be read ({error.strerror})",
                    f"fix the file's permissions: chmod 600 {path}",
                )
            )
            return False
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.add(
                CheckResult(
                    name,
                    Outcome.WARN,
                    f"{path} is readable by other users",
                    f"chmod 600 {path}",
                )
            )
        else:
            self.add(CheckResult(name, Outcome.OK, f"{path}"))
        return True

    def token_validity(self, api: str, path: Path) -> Any:
        from syft_monitors.google.credentials import (  # noqa: PLC0415
            load_credentials,
            refresh_credentials,
        )

        name = f"{api} token"
        hint = "re-authorize: create a new token file, then run `syft-bg doctor` again"
        try:
            credentials = load_credentials(path, api_root=self.api_root)
            # Always refresh: a token that merely looks unexpired may have been revoked.
            refresh_credentials(credentials, timeout=TIMEOUT)
        except SyftMonitorError as error:
            retryable = getattr(error, "retryable", False)
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    str(error),
                    "check the network and the token endpoint" if retryable else hint,
                )
            )
            return None
        scopes = set(credentials.scopes or ()) | set(
            getattr(credentials, "granted_scopes", None) or ()
        )
        needed = {DRIVE_SCOPE} if api == "drive" else GMAIL_SEND_SCOPES
        if scopes and not scopes & needed:
            wanted = DRIVE_SCOPE if api == "drive" else "https://www.googleapis.com/auth/gmail.send"
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    f"valid, but without the scope {wanted}",
                    f"re-authorize with the scope {wanted}",
                )
            )
            return None
        shown = "scopes not listed in the token file" if not scopes else "scopes ok"
        self.add(CheckResult(name, Outcome.OK, f"refreshed against the token endpoint, {shown}"))
        return credentials

    # --- services -------------------------------------------------------------------------

    def drive(self, credentials: Any) -> None:
        from syft_monitors.google.clients import build_drive_service  # noqa: PLC0415

        try:
            service = build_drive_service(credentials, api_root=self.api_root, timeout=TIMEOUT)
            try:
                about = _once(
                    service.about().get(fields="user(emailAddress)"),
                    api="drive",
                    method="about.get",
                )
            finally:
                with contextlib.suppress(Exception):
                    service.close()
        except SyftMonitorError as error:
            self.add(CheckResult("drive", Outcome.FAIL, str(error), _network_hint(error)))
            return
        user = str((about or {}).get("user", {}).get("emailAddress", ""))
        if user and normalize_email(user) != normalize_email(self.config.do_email):
            self.add(
                CheckResult(
                    "drive",
                    Outcome.WARN,
                    f"reachable, but the token belongs to {safe_repr(user)}, "
                    f"not do_email {self.config.do_email}",
                    "use the data owner's token, or fix do_email",
                )
            )
            return
        self.add(CheckResult("drive", Outcome.OK, f"reachable as {user or 'the token owner'}"))

    def mail(self, credentials: Any) -> None:
        sender = self.config.sender
        if sender == "gmail":
            if credentials is None:
                self.add(CheckResult("gmail", Outcome.SKIP, "no valid Gmail token"))
            else:
                self.gmail(credentials)
        elif sender == "smtp":
            self.smtp()
        else:
            folder = self.config.mail_folder or self.config.state_file.parent / "outbox"
            self.writable("mail folder", folder)

    def gmail(self, credentials: Any) -> None:
        from syft_monitors.google.clients import build_gmail_service  # noqa: PLC0415

        try:
            service = build_gmail_service(credentials, api_root=self.api_root, timeout=TIMEOUT)
            try:
                # Gmail answering at all is the reachability check; a send-only token is told
                # 403 on both calls, and the second one is what exactly-once delivery needs.
                with contextlib.suppress(MissingScopeError):
                    _once(service.users().getProfile(userId="me"), api="gmail", method="getProfile")
                searchable = True
                try:
                    _once(
                        service.users()
                        .messages()
                        .list(userId="me", labelIds=["SENT"], maxResults=1),
                        api="gmail",
                        method="messages.list",
                    )
                except MissingScopeError:
                    searchable = False
            finally:
                with contextlib.suppress(Exception):
                    service.close()
        except SyftMonitorError as error:
            self.add(CheckResult("gmail", Outcome.FAIL, str(error), _network_hint(error)))
            return
        if not searchable:
            self.add(
                CheckResult(
                    "gmail",
                    Outcome.WARN,
                    "reachable, but the token may not search Sent mail: an email whose send "
                    "failed ambiguously is sent again and may arrive twice",
                    "for exactly-once delivery, re-authorize with gmail.modify or gmail.readonly",
                )
            )
            return
        self.add(CheckResult("gmail", Outcome.OK, "reachable, Sent mail searchable"))

    def email_replies(self, credentials: Any) -> None:
        """`approve.email_replies` reads the history feed and whole messages: a token that may
        only send (gmail.send) or only read headers (gmail.metadata) cannot."""
        from syft_monitors.google.clients import build_gmail_service  # noqa: PLC0415

        name = "email replies"
        hint = "re-authorize the Gmail token with gmail.modify (or gmail.readonly)"
        if credentials is None:
            self.add(CheckResult(name, Outcome.SKIP, "no valid Gmail token"))
            return
        if METADATA_SCOPE in set(credentials.scopes or ()):
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    "the Gmail token carries gmail.metadata, under which Gmail refuses to show a"
                    " message's body, so replies cannot be read",
                    hint + ", without gmail.metadata",
                )
            )
            return
        try:
            service = build_gmail_service(credentials, api_root=self.api_root, timeout=TIMEOUT)
            try:
                profile = _once(
                    service.users().getProfile(userId="me"), api="gmail", method="getProfile"
                )
                _once(
                    service.users()
                    .history()
                    .list(userId="me", startHistoryId=str(profile["historyId"]), maxResults=1),
                    api="gmail",
                    method="history.list",
                )
            finally:
                with contextlib.suppress(Exception):
                    service.close()
        except MissingScopeError:
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    "the Gmail token may not read mail: replies to new-job emails cannot be read",
                    hint,
                )
            )
            return
        except SyftMonitorError as error:
            self.add(CheckResult(name, Outcome.FAIL, str(error), _network_hint(error)))
            return
        self.add(CheckResult(name, Outcome.OK, "the Gmail history feed is readable"))

    def smtp(self) -> None:
        smtp = self.config.smtp
        if smtp is None:
            self.add(CheckResult("smtp", Outcome.FAIL, "sender is smtp but no smtp: section", None))
            return
        try:
            with socket.create_connection((smtp.host, smtp.port), timeout=TIMEOUT):
                pass
        except OSError as error:
            self.add(
                CheckResult(
                    "smtp",
                    Outcome.FAIL,
                    f"cannot connect to {smtp.host}:{smtp.port} ({error.strerror or error})",
                    "check smtp.host, smtp.port and the network",
                )
            )
            return
        self.add(CheckResult("smtp", Outcome.OK, f"{smtp.host}:{smtp.port} accepts connections"))

    # --- machine --------------------------------------------------------------------------

    def python(self) -> None:
        from syft_monitors.notify.email import email_package_is_fixed  # noqa: PLC0415

        version = f"Python {platform.python_version()}"
        if email_package_is_fixed():
            self.add(CheckResult("python", Outcome.OK, f"{version}, email headers safe"))
            return
        self.add(
            CheckResult(
                "python",
                Outcome.WARN,
                f"{version}'s email package lets an encoded word inject email headers "
                "(CVE-2024-6923); syft-monitor neutralises them in every header it writes, so "
                "its own emails are safe",
                "for other software on this machine, upgrade to Python 3.11.10+, 3.12.5+ or 3.13",
            )
        )

    def clock(self) -> None:
        import httplib2  # noqa: PLC0415

        root = self.api_root or GOOGLE_ROOT
        http = httplib2.Http(timeout=TIMEOUT)
        try:
            before = time.time()
            response, _ = http.request(root, "HEAD")
            after = time.time()
        except (httplib2.HttpLib2Error, OSError) as error:
            self.add(
                CheckResult(
                    "clock",
                    Outcome.WARN,
                    f"cannot reach {root} to compare clocks ({type(error).__name__})",
                    "check the network",
                )
            )
            return
        finally:
            http.close()
        header = response.get("date")
        parsed = email.utils.parsedate_to_datetime(header) if header else None
        if parsed is None:
            self.add(CheckResult("clock", Outcome.WARN, f"{root} sent no Date header"))
            return
        skew = parsed.timestamp() - (before + after) / 2
        # The header has one-second resolution: anything below 2 s is noise.
        detail = f"{abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} the API server"
        if abs(skew) >= CLOCK_FAIL:
            self.add(CheckResult("clock", Outcome.FAIL, detail, "synchronise the clock (NTP)"))
        elif abs(skew) >= CLOCK_WARN:
            self.add(CheckResult("clock", Outcome.WARN, detail, "synchronise the clock (NTP)"))
        else:
            self.add(CheckResult("clock", Outcome.OK, "in sync with the API server"))

    def disk(self) -> None:
        folders = {self.config.home(), self.config.state_file.parent}
        for folder in sorted(folders):
            self.writable(
                "daemon folder" if folder == self.config.home() else "state folder", folder
            )
            existing = _existing_parent(folder)
            free = shutil.disk_usage(existing).free
            detail = f"{free // (1024 * 1024)} MiB free at {existing}"
            hint = "free some space: logs take up to 160 MB, state a few MB"
            if free < DISK_FAIL:
                self.add(CheckResult("disk", Outcome.FAIL, detail, hint))
            elif free < DISK_WARN:
                self.add(CheckResult("disk", Outcome.WARN, detail, hint))
            else:
                self.add(CheckResult("disk", Outcome.OK, detail))

    def state_file(self) -> None:
        if self.config.state_backend != "file":
            return
        from syft_monitors.daemon.health import check_state_file  # noqa: PLC0415

        path = self.config.state_file
        try:
            check_state_file(self.config)
        except SyftMonitorError as error:
            hint = getattr(error, "hint", None) or "set state_file to a file in a private folder"
            self.add(CheckResult("state file", Outcome.FAIL, str(error), hint))
            return
        detail = f"{path} is usable" if path.exists() else f"{path} (created on the first poll)"
        self.add(CheckResult("state file", Outcome.OK, detail))

    def writable(self, name: str, folder: Path) -> None:
        existing = _existing_parent(folder)
        if os.access(existing, os.W_OK | os.X_OK):
            made = "" if existing == folder else " (will be created)"
            self.add(CheckResult(name, Outcome.OK, f"{folder} is writable{made}"))
        else:
            self.add(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    f"{folder} is not writable",
                    f"fix the permissions of {existing}",
                )
            )

    def syftbox_root(self) -> None:
        root = self.config.syftbox_root
        if root is None or root.is_dir():
            where = "not configured (Drive only)" if root is None else str(root)
            self.add(CheckResult("syftbox root", Outcome.OK, where))
            return
        self.add(
            CheckResult(
                "syftbox root",
                Outcome.WARN,
                f"{root} does not exist: local job status and auto-approval are unavailable",
                "set syftbox_root to your SyftBox folder (where the SyftBox client syncs)",
            )
        )


METADATA_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"


def _once(request: Any, *, api: str, method: str) -> Any:
    from syft_monitors.google.retry import RetryPolicy, execute  # noqa: PLC0415

    return execute(request, api=api, method=method, policy=RetryPolicy(max_attempts=1))


def _network_hint(error: SyftMonitorError) -> str:
    if getattr(error, "retryable", False):
        return "check the network (and google_api_root / SYFT_GOOGLE_API_ROOT)"
    return getattr(error, "hint", None) or "see the message above"


def _existing_parent(folder: Path) -> Path:
    current = folder
    while not current.exists() and current.parent != current:
        current = current.parent
    return current


def _auto_approval_rules(config: MonitorConfig, add: Callable[[CheckResult], None]) -> None:
    """A rule that does not pin what runs approves nothing: say so before the owner wonders."""
    for rule in config.approve.auto_approvals:
        refusal = rule.refusal()
        if refusal is not None:
            add(
                CheckResult(
                    f"auto-approval {rule.name}",
                    Outcome.WARN,
                    f"inactive: {refusal}",
                    f"remake it from a job you reviewed: syft-bg auto-approve --from-job FOLDER "
                    f"(then syft-bg remove-auto-approval {rule.name})",
                )
            )
