"""Google sign-in for `syft-bg init`: the installed-app OAuth flow, on a desktop or a server.

With a browser on this machine, `run_local_server` listens on a free loopback port and the
browser comes back to it. On a server (`headless`), the redirect goes to a loopback port nothing
listens on (`http://127.0.0.1:1/`): the browser elsewhere fails to load it, and the person
pastes the address it ended on; its `state` must match (pasted URLs skip oauthlib's own CSRF
check). Google retired the copy-a-code flow in 2023; this is what its docs leave for CLIs.

The client secrets file is a Google Cloud "Desktop app" OAuth client (`credentials.json`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from syft_monitors.errors import ConfigError, CredentialsError
from syft_monitors.google.credentials import DRIVE_SCOPE, GMAIL_SEND_SCOPE
from syft_monitors.private_files import write_private_text

GMAIL_MODIFY_SCOPE = "https://www.googleapis.com/auth/gmail.modify"
#: Default: Drive, and Gmail that can also search Sent mail (exactly-once delivery).
FULL_SCOPES: tuple[str, ...] = (DRIVE_SCOPE, GMAIL_MODIFY_SCOPE)
SEND_ONLY_SCOPES: tuple[str, ...] = (DRIVE_SCOPE, GMAIL_SEND_SCOPE)
SEND_ONLY_CONSEQUENCE = (
    "with gmail.send only, Sent mail cannot be searched: an email whose send failed "
    "ambiguously (a timeout, a server error) is sent again and may arrive twice"
)
HEADLESS_REDIRECT = "http://127.0.0.1:1/"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class SignInResult:
    token_json: str
    granted: tuple[str, ...]

    @property
    def send_only(self) -> bool:
        return GMAIL_MODIFY_SCOPE not in self.granted


def _allow_loopback_token_endpoint(token_uri: str) -> None:
    # oauthlib refuses http:// token endpoints; a loopback one (the sandbox) cannot be sniffed.
    parts = urlsplit(token_uri)
    if parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _flow(client_secrets: Path, scopes: Sequence[str]) -> Any:
    from google_auth_oauthlib.flow import InstalledAppFlow  # noqa: PLC0415

    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=list(scopes))
    except FileNotFoundError as error:
        raise ConfigError(f"client secrets file {client_secrets} not found") from error
    except (ValueError, json.JSONDecodeError, OSError) as error:
        raise ConfigError(
            f"{client_secrets} is not a Google OAuth client file (a Desktop app's "
            "credentials.json from Google Cloud Console)"
        ) from error
    _allow_loopback_token_endpoint(str(flow.client_config.get("token_uri", "")))
    # The person may untick scopes on the consent screen: we check the grant ourselves instead
    # of letting oauthlib raise "Scope has changed".
    os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"  # noqa: S105 - a switch, not a secret
    return flow


def sign_in(
    client_secrets: Path,
    scopes: Sequence[str] = FULL_SCOPES,
    *,
    email: str | None = None,
    headless: bool = False,
    open_browser: bool = True,
    port: int = 0,
    timeout: float = 300.0,
    say: Callable[[str], None] = print,
    ask: Callable[[str], str] = input,
) -> SignInResult:
    """Run the flow; returns the authorized-user token JSON (never logged) and what was granted.

    Raises CredentialsError when the sign-in is refused or Drive was not granted.
    """
    flow = _flow(client_secrets, scopes)
    extra = {"prompt": "consent", **({"login_hint": email} if email else {})}
    try:
        if headless:
            credentials = _headless(flow, extra, say=say, ask=ask)
        else:
            credentials = flow.run_local_server(
                host="127.0.0.1",
                port=port,
                open_browser=open_browser,
                authorization_prompt_message=(
                    "Sign in with Google in your browser (opening it now). If it does not open, "
                    "visit:\n{url}"
                ),
                success_message="Signed in: syft-bg has its tokens. You may close this window.",
                timeout_seconds=int(timeout),
                **extra,
            )
    except CredentialsError:
        raise
    except Exception as error:  # oauthlib and the local server raise many types
        raise CredentialsError(f"Google sign-in failed: {type(error).__name__}: {error}") from error
    granted = tuple(credentials.granted_scopes or credentials.scopes or ())
    if DRIVE_SCOPE not in granted:
        raise CredentialsError(
            "Google sign-in did not grant Drive access (the Drive box was unticked): run "
            "`syft-bg init` again and allow it"
        )
    return SignInResult(credentials.to_json(), granted)


def _headless(
    flow: Any, extra: dict[str, str], *, say: Callable[[str], None], ask: Callable[[str], str]
) -> Any:
    flow.redirect_uri = HEADLESS_REDIRECT
    url, state = flow.authorization_url(**extra)
    say(
        "Open this address in a browser on any machine and sign in:\n"
        f"{url}\n"
        f"The browser then fails to load {HEADLESS_REDIRECT}...: that is expected. Copy the "
        "whole address from its address bar."
    )
    pasted = ask("Address the browser ended on").strip()
    query = parse_qs(urlsplit(pasted).query)
    if "error" in query:
        raise CredentialsError(f"Google sign-in was refused: {query['error'][-1]}")
    if query.get("state", [""])[-1] != state:
        raise CredentialsError(
            "the pasted address is not from this sign-in (its state differs): start again"
        )
    code = query.get("code", [""])[-1]
    if not code:
        raise CredentialsError("the pasted address holds no sign-in code")
    flow.fetch_token(code=code)
    return flow.credentials


def save_token(path: Path, result: SignInResult) -> Path:
    """Write the token file 0600 (a bearer credential)."""
    return write_private_text(Path(os.path.expanduser(str(path))), result.token_json)


#: Where upstream's tools keep token files, newest layout first (offered for reuse by init).
UPSTREAM_TOKEN_FILES = (
    "~/.syft-bg/token.json",
    "~/.syft-creds/token_do.json",
    "~/.syft-creds/gmail_token.json",
)
UPSTREAM_CLIENT_SECRETS = ("~/.syft-bg/credentials.json", "~/.syft-creds/credentials.json")


def existing_files(candidates: Sequence[str]) -> list[Path]:
    found = []
    for candidate in candidates:
        path = Path(os.path.expanduser(candidate))
        if path.is_file():
            found.append(path)
    return found
