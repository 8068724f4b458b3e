"""`Sandbox`: the in-memory Google (Drive + Gmail + OAuth) world the sandbox server exposes.

One re-entrant lock guards the whole model; HTTP handlers and the Python helpers below both
take it, so tests and simulators may mix direct setup calls with traffic from real clients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from syft_monitors.protocol.emails import normalize_email, safe_repr, validate_email
from syft_sandbox.apierror import SandboxError, insufficient_scopes
from syft_sandbox.auth import ACCESS_TOKEN_LIFETIME, TokenRegistry, scope_allows
from syft_sandbox.drive import SandboxDriveApi
from syft_sandbox.drive_files import FOLDER_MIME, FileInfo
from syft_sandbox.drive_model import DriveStore
from syft_sandbox.drive_resources import file_info
from syft_sandbox.faults import FaultInjector
from syft_sandbox.gmail import SandboxGmailApi
from syft_sandbox.gmail_model import Mailboxes, MailRecord, StoredMessage
from syft_sandbox.oauth import (
    AUTHORIZE_PATH,
    AuthorizationCodes,
    PendingCode,
    is_loopback_redirect,
    oauth_error,
    redirect,
    s256,
)
from syft_sandbox.requestlog import RequestLog, RequestRecord
from syft_sandbox.routes import Router, route
from syft_sandbox.tokenfiles import (
    DEFAULT_SCOPES,
    default_expiry,
    token_file_data,
    write_token_file,
)
from syft_sandbox.uploads import UploadSessions
from syft_sandbox.wire import Request, Response, json_response

if TYPE_CHECKING:
    from syft_sandbox.server import SandboxServer


class Sandbox:
    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
        log_capacity: int = 200_000,
    ) -> None:
        self.lock = threading.RLock()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.tokens = TokenRegistry()
        self.drive = DriveStore(seed=seed, clock=self._clock)
        self.mail = Mailboxes(lambda: self._clock().timestamp() * 1000)
        self.uploads = UploadSessions()
        self.faults = FaultInjector(seed)
        self.log = RequestLog(log_capacity)
        drive_api = SandboxDriveApi(self.drive, self.uploads)
        gmail_api = SandboxGmailApi(self.mail, self.uploads)
        self.router = Router(
            [
                *drive_api.routes(),
                *gmail_api.routes(),
                route("POST", "/token", "oauth", "token", self._token_endpoint, public=True),
                route("GET", AUTHORIZE_PATH, "oauth", "authorize", self._authorize, public=True),
            ]
        )
        self.codes = AuthorizationCodes()
        #: Who is signed in to the "browser" when an app asks without a known login_hint.
        self.browser_user: str | None = None
        #: The scopes the user leaves ticked on the consent screen (None: all requested).
        self.consent_scopes: frozenset[str] | None = None

    # --- users and tokens -------------------------------------------------------------------

    def add_user(self, email: str) -> str:
        """Create a user with an empty My Drive and mailbox; returns a bearer access token."""
        address = normalize_email(validate_email(email, what="sandbox user"))
        with self.lock:
            token = self.tokens.add_user(address)
            self.drive.add_user(address)
            self.mail.add_user(address)
            return token

    def users(self) -> list[str]:
        with self.lock:
            return self.tokens.users()

    def access_token(self, email: str) -> str:
        """A fresh valid access token for the user (older ones stay valid)."""
        with self.lock:
            return self.tokens.issue_access_token(self._user(email))

    def refresh_token(self, email: str) -> str:
        with self.lock:
            return self.tokens.refresh_token(self._user(email))

    def expire_access_tokens(self, email: str) -> None:
        """Make the user's access tokens invalid; clients holding a refresh token recover."""
        with self.lock:
            self.tokens.expire_access_tokens(self._user(email))

    def revoke_user(self, email: str) -> None:
        """Revoke every token of the user: API calls get 401 and refreshing gets invalid_grant."""
        with self.lock:
            self.tokens.revoke(self._user(email))

    def authenticate(self, access_token: str) -> str | None:
        with self.lock:
            return self.tokens.user_for_access_token(access_token)

    def grant_scopes(self, email: str, scopes: Sequence[str] | None) -> None:
        """Restrict what `email`'s tokens may call to what `scopes` allow (None: everything);
        other calls get Google's 403 insufficientPermissions."""
        with self.lock:
            self.tokens.grant(self._user(email), None if scopes is None else frozenset(scopes))

    def authorize(self, user: str, api: str, operation: str) -> None:
        with self.lock:
            granted = self.tokens.granted(user)
        if granted is not None and not scope_allows(granted, api, operation):
            raise insufficient_scopes()

    def write_token_file(
        self,
        email: str,
        path: Path,
        *,
        token_uri: str,
        scopes: Sequence[str] = DEFAULT_SCOPES,
    ) -> Path:
        """An authorized-user JSON file for `email` whose refresh grant goes to `token_uri`."""
        with self.lock:
            user = self._user(email)
            data = token_file_data(
                access_token=self.tokens.issue_access_token(user),
                refresh_token=self.tokens.refresh_token(user),
                token_uri=token_uri,
                scopes=scopes,
                expiry=default_expiry(datetime.now(UTC), ACCESS_TOKEN_LIFETIME),
                account=user,
            )
        return write_token_file(path, data)

    def _user(self, email: str) -> str:
        address = normalize_email(email)
        if not self.tokens.has_user(address):
            raise SandboxError(f"unknown sandbox user {safe_repr(email)}")
        return address

    def _authorize(self, request: Request) -> Response:
        redirect_uri = request.param("redirect_uri") or ""
        if not is_loopback_redirect(redirect_uri):
            return oauth_error("invalid_request", "redirect_uri must be a loopback http address")
        if request.param("response_type") != "code" or not request.param("client_id"):
            return oauth_error("invalid_request", "response_type=code and client_id are required")
        challenge = request.param("code_challenge") or ""
        if request.param("code_challenge_method", "plain") != "S256" or not challenge:
            return oauth_error("invalid_request", "PKCE with S256 is required")
        state = request.param("state") or ""
        hint = normalize_email(request.param("login_hint") or self.browser_user or "")
        with self.lock:
            if not self.tokens.has_user(hint):
                return redirect(redirect_uri, error="access_denied", state=state)
            requested = tuple((request.param("scope") or "").split())
            granted = tuple(
                scope
                for scope in requested
                if self.consent_scopes is None or scope in self.consent_scopes
            )
            code = self.codes.issue(
                PendingCode(
                    hint, request.param("client_id") or "", redirect_uri, granted, challenge
                )
            )
        return redirect(redirect_uri, state=state, code=code, scope=" ".join(granted))

    def _exchange_code(self, form: dict[str, list[str]]) -> Response:
        with self.lock:
            pending = self.codes.redeem(form.get("code", [""])[-1])
            if pending is None:
                return oauth_error("invalid_grant", "Malformed auth code.")
            if form.get("redirect_uri", [""])[-1] != pending.redirect_uri:
                return oauth_error("redirect_uri_mismatch", "Bad Request")
            if s256(form.get("code_verifier", [""])[-1]) != pending.code_challenge:
                return oauth_error("invalid_grant", "Missing code verifier.")
            self.tokens.grant(pending.user, frozenset(pending.scopes))
            access = self.tokens.issue_access_token(pending.user)
            refresh = self.tokens.refresh_token(pending.user)
        return json_response(
            {
                "access_token": access,
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "refresh_token": refresh,
                "scope": " ".join(pending.scopes),
                "token_type": "Bearer",
            }
        )

    def _token_endpoint(self, request: Request) -> Response:
        form = parse_qs(request.body.decode("utf-8", "replace"))
        grant = form.get("grant_type", [""])[-1]
        if grant == "authorization_code":
            return self._exchange_code(form)
        if grant != "refresh_token":
            return json_response({"error": "unsupported_grant_type"}, 400)
        access = self.tokens.refresh(form.get("refresh_token", [""])[-1])
        if access is None:
            return json_response(
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
                400,
            )
        body: dict[str, object] = {
            "access_token": access,
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "token_type": "Bearer",
        }
        scope = form.get("scope", [""])[-1]
        if scope:
            body["scope"] = scope
        return json_response(body)

    # --- Drive helpers (direct, for setup speed; they feed the same change log) --------------

    def root_id(self, user: str) -> str:
        with self.lock:
            return self.drive.root_id(self._user(user))

    def create_folder(self, user: str, name: str, parent: str | None = None) -> str:
        with self.lock:
            file = self.drive.create(
                self._user(user),
                name=name,
                mime_type=FOLDER_MIME,
                parents=[parent] if parent else [],
                content=None,
            )
            return file.id

    def create_file(
        self,
        user: str,
        name: str,
        content: bytes = b"",
        *,
        parent: str | None = None,
        mime_type: str = "application/octet-stream",
    ) -> str:
        with self.lock:
            file = self.drive.create(
                self._user(user),
                name=name,
                mime_type=mime_type,
                parents=[parent] if parent else [],
                content=content,
            )
            return file.id

    def share(self, user: str, file_id: str, email: str, role: str = "writer") -> str:
        """Share as `user`; returns the permission id."""
        with self.lock:
            permission = self.drive.add_permission(
                self._user(user), file_id, type="user", role=role, email=email, domain=None
            )
            return permission.id

    def unshare(self, user: str, file_id: str, email: str) -> None:
        with self.lock:
            self.drive.remove_permission(
                self._user(user), file_id, self.drive.permission_id(normalize_email(email))
            )

    def move(self, user: str, file_id: str, new_parent: str) -> None:
        with self.lock:
            actor = self._user(user)
            current = self.drive.lookup(actor, file_id).parents
            self.drive.update(
                actor, file_id, add_parents=[new_parent], remove_parents=list(current)
            )

    def rename(self, user: str, file_id: str, name: str) -> None:
        with self.lock:
            self.drive.update(self._user(user), file_id, metadata={"name": name})

    def write_content(self, user: str, file_id: str, content: bytes) -> None:
        with self.lock:
            self.drive.update(self._user(user), file_id, content=content)

    def trash(self, user: str, file_id: str, trashed: bool = True) -> None:
        with self.lock:
            self.drive.update(self._user(user), file_id, metadata={"trashed": trashed})

    def delete(self, user: str, file_id: str) -> None:
        with self.lock:
            self.drive.delete(self._user(user), file_id)

    def file(self, file_id: str) -> FileInfo:
        """Any file by id, regardless of who may see it."""
        with self.lock:
            found = self.drive.files.get(file_id)
            if found is None:
                raise SandboxError(f"no file with id {safe_repr(file_id)}")
            return file_info(self.drive, found)

    def content(self, file_id: str) -> bytes:
        with self.lock:
            found = self.drive.files.get(file_id)
            if found is None:
                raise SandboxError(f"no file with id {safe_repr(file_id)}")
            return found.content or b""

    def find(
        self, *, name: str | None = None, parent: str | None = None, owner: str | None = None
    ) -> list[FileInfo]:
        """Files matching every given filter, across all users, oldest first."""
        with self.lock:
            if parent is not None:
                candidates = self.drive.children(parent)
            else:
                candidates = [f for f in self.drive.files.values() if not f.is_root]
            owner_address = normalize_email(owner) if owner else None
            found = [
                f
                for f in candidates
                if (name is None or f.name == name)
                and (owner_address is None or f.owner == owner_address)
            ]
            found.sort(key=lambda f: f.seq)
            return [file_info(self.drive, f) for f in found]

    # --- Gmail helpers ----------------------------------------------------------------------

    def sent_mail(self, user: str) -> list[MailRecord]:
        """Messages `user` sent through the API, oldest first."""
        return self._mail(user, "SENT")

    def received_mail(self, user: str) -> list[MailRecord]:
        return self._mail(user, "INBOX")

    def deliver(self, user: str, message: bytes | EmailMessage) -> MailRecord:
        """Put an incoming message (e.g. a reply from outside) into `user`'s inbox."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        with self.lock:
            return _record(self.mail.receive(self._user(user), raw))

    def expire_gmail_history(self, user: str) -> None:
        """Make `user`'s history ids so far too old: `users.history.list` answers 404."""
        with self.lock:
            self.mail.expire_history(self._user(user))

    def mail_thread(self, user: str, thread_id: str) -> list[MailRecord]:
        """The messages of one of `user`'s threads, oldest first."""
        with self.lock:
            box = self.mail.box(self._user(user))
            return [_record(box.messages[i]) for i in box.threads.get(thread_id, [])]

    def _mail(self, user: str, label: str) -> list[MailRecord]:
        with self.lock:
            box = self.mail.box(self._user(user))
            return [_record(m) for m in box.messages.values() if label in m.label_ids]

    # --- request log and serving ------------------------------------------------------------

    def mark(self) -> int:
        return self.log.mark()

    def requests(
        self,
        since: int = 0,
        *,
        api: str | None = None,
        method: str | None = None,
        user: str | None = None,
    ) -> list[RequestRecord]:
        return self.log.since(since, api=api, operation=method, user=user)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
        """Start an HTTP server for this sandbox in a background thread (stop() it when done)."""
        from syft_sandbox.server import SandboxServer  # noqa: PLC0415 - import cycle

        return SandboxServer(self, host=host, port=port).start()


def _record(message: StoredMessage) -> MailRecord:
    return MailRecord(
        id=message.id,
        thread_id=message.thread_id,
        label_ids=tuple(message.label_ids),
        message=message.parsed,
        raw=message.raw,
    )
