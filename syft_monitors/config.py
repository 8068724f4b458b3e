"""The monitor configuration: one YAML file, the seed's keys and defaults, validated strictly.

Unknown keys are errors (a typo such as `notify_on_aproved` would otherwise silently keep a
default), and every error is one line naming the key, so the CLI can print it and exit 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syft_monitors.approve_rules import ApproveSettings
from syft_monitors.errors import ConfigError, CredentialsError, InvalidEmailError
from syft_monitors.files import open_regular
from syft_monitors.google.clients import resolve_api_root
from syft_monitors.google.credentials import read_token_info
from syft_monitors.notify.flood import FloodConfig
from syft_monitors.protocol.emails import validate_email
from syft_monitors.protocol.safe_yaml import load_unique_yaml

DEFAULT_CREDS_DIR = Path("~/.syft-creds")
#: Overrides the folder for PID, log and default config files (the seed's ~/.syft-creds).
HOME_ENV = "SYFT_MONITOR_HOME"
_K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_CONFIG_BYTES = 1024 * 1024


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    #: A file holding the password; never the password itself (config files get shared).
    password_file: Path | None = None
    from_address: str | None = None
    timeout: float = Field(default=30.0, gt=0)


class ConfigMapStateSettings(BaseModel):
    """Where a monitor on Kubernetes keeps its state (see `state.configmap`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_K8S_NAME, max_length=253)
    #: None: the pod's own namespace (from the service-account mount).
    namespace: str | None = Field(default=None, pattern=_K8S_NAME, max_length=63)
    #: A small ConfigMap for the liveness keys, merge-patched once per poll so an idle poll does
    #: not rewrite the state document. None: they go into the state ConfigMap (as before).
    heartbeat: str | None = Field(default=None, pattern=_K8S_NAME, max_length=253)


class MonitorConfig(BaseModel):
    """Everything a JobMonitor/PeerMonitor needs; keys as in the seed's "Common Configuration"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    do_email: str
    #: Unset: upstream's folder for do_email (see `default_syftbox_root`); null: none.
    syftbox_root: Path | None = None
    gmail_token_path: Path = DEFAULT_CREDS_DIR / "gmail_token.json"
    drive_token_path: Path | None = DEFAULT_CREDS_DIR / "token_do.json"
    state_file: Path = DEFAULT_CREDS_DIR / "state.json"
    email_format: Literal["html", "text", "both"] = "html"

    notify_on_new_job: bool = True
    notify_on_approved: bool = True
    notify_on_executed: bool = True
    notify_on_failed: bool = True
    notify_on_rejected: bool = True
    notify_on_new_peer: bool = True
    notify_on_peer_granted: bool = True
    notify_ds_on_failed: bool = True
    share_stderr_with_ds: bool = False
    notify_on_peer_accepted_by_rule: bool = True

    interval: int = Field(default=30, ge=1, le=86400)
    strategy: Literal["changes", "list"] = "changes"
    google_api_root: str | None = None
    sender: Literal["gmail", "smtp", "file"] = "gmail"
    smtp: SmtpSettings | None = None
    mail_folder: Path | None = None
    rate_limit_per_minute: int = Field(default=150, ge=1, le=10000)
    heartbeat_enabled: bool = False
    heartbeat_interval: int = Field(default=86400, ge=60)
    #: Flood control: daily budget, low-priority share, per-sender and burst limits.
    flood: FloodConfig = FloodConfig()
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    #: PID and log files of the daemons; None: $SYFT_MONITOR_HOME, else ~/.syft-creds.
    daemon_dir: Path | None = None
    state_backend: Literal["file", "configmap"] = "file"
    state_configmap: ConfigMapStateSettings | None = None
    approve: ApproveSettings = ApproveSettings()

    @model_validator(mode="before")
    @classmethod
    def _default_syftbox_root(cls, data: Any) -> Any:
        # Computed per data owner: upstream's folder name carries the email.
        if isinstance(data, dict) and "syftbox_root" not in data:
            email = data.get("do_email")
            if isinstance(email, str) and email.strip():
                return {**data, "syftbox_root": default_syftbox_root(email.strip())}
        return data

    @field_validator("do_email")
    @classmethod
    def _email(cls, value: str) -> str:
        return validate_email(value, what="do_email")

    @field_validator("google_api_root")
    @classmethod
    def _api_root(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    @field_validator(
        "syftbox_root",
        "gmail_token_path",
        "drive_token_path",
        "state_file",
        "mail_folder",
        "daemon_dir",
    )
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else Path(os.path.expanduser(str(value)))

    @model_validator(mode="after")
    def _state_backend(self) -> MonitorConfig:
        if self.state_backend == "configmap" and self.state_configmap is None:
            raise ValueError("state_backend is configmap but state_configmap is not set")
        if self.approve.email_replies and self.syftbox_root is None:
            raise ValueError(
                "approve.email_replies needs syftbox_root: replies decide jobs on that disk"
            )
        return self

    def home(self) -> Path:
        """The daemon folder: config `daemon_dir`, then $SYFT_MONITOR_HOME, then ~/.syft-creds."""
        return self.daemon_dir or monitor_home()

    def api_root(self) -> str | None:
        """Explicit config wins, then $SYFT_GOOGLE_API_ROOT, then real Google (None)."""
        return resolve_api_root(self.google_api_root)

    def toggles(self) -> dict[str, bool]:
        return {
            name: bool(getattr(self, name))
            for name in type(self).model_fields
            if name.startswith("notify_on_")
        }


def default_syftbox_root(email: str) -> Path:
    """The SyftBox folder of `email`'s own client: `~/SyftBox_{email}` (upstream's clients), else
    an existing `~/SyftBox` (older clients), else `~/SyftBox_{email}`."""
    home = Path(os.path.expanduser("~"))
    current, older = home / f"SyftBox_{email}", home / "SyftBox"
    if not current.is_dir() and older.is_dir():
        return older
    return current


def monitor_home() -> Path:
    """$SYFT_MONITOR_HOME or ~/.syft-creds, expanded."""
    return Path(os.path.expanduser(os.environ.get(HOME_ENV) or str(DEFAULT_CREDS_DIR)))


def default_config_path() -> Path:
    return monitor_home() / "config.yaml"


def parse_config(data: Any, *, source: str = "config") -> MonitorConfig:
    """Validate a mapping (from YAML or code), or raise a one-line ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of keys to values, got {type(data).__name__}"
        )
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: {describe_validation_error(error)}") from error
    except InvalidEmailError as error:
        # Address validators reuse the protocol's check, whose error pydantic does not wrap.
        raise ConfigError(f"{source}: {error}") from error


class ConfigNotFoundError(ConfigError):
    """No config file yet: every command that needs one says how to make it."""

    hint = "`syft-bg init` writes one; it asks for your email and signs you in"


def load_config(path: str | os.PathLike[str]) -> MonitorConfig:
    """Read and validate a YAML config file."""
    file = Path(os.path.expanduser(str(path)))
    try:
        with open_regular(file) as handle:
            # Bounded: a huge file, a FIFO or /dev/zero must not be read whole.
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError as error:
        raise ConfigNotFoundError(f"config file not found: {file}") from error
    except OSError as error:
        raise ConfigError(f"cannot read config file {file}: {error.strerror}") from error
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{file}: larger than {MAX_CONFIG_BYTES} bytes")
    return parse_config(read_yaml(raw, source=str(file)) or {}, source=str(file))


def read_yaml(raw: bytes | str, *, source: str) -> Any:
    """The YAML document in `raw`, or a one-line ConfigError naming `source` and the line.

    A key given twice is refused (`duplicate key 'interval' (first on line 2) (line 5, column
    1)`): PyYAML alone would silently keep the last value.
    """
    try:
        return load_unique_yaml(raw)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(f"{source}: {problem}{where}") from error
    except RecursionError as error:
        raise ConfigError(f"{source}: YAML nested too deeply") from error
    except ValueError as error:
        # PyYAML's constructors raise plain ValueError for values such as a 5000-digit
        # integer or the date 2024-13-45.
        raise ConfigError(f"{source}: a YAML value cannot be read ({error})") from error


def check_token_files(config: MonitorConfig) -> None:
    """ConfigError unless each token file the config uses is a readable authorized-user token.

    For service start-up and SIGHUP reloads: a wrong token path or a broken file should stop
    `syft-bg start` / `run` (or the reload) with one line instead of a service that fails every
    poll. Whether Google still accepts the token is not checked here (`syft-bg doctor` does); a
    token that disappears or is revoked later is the poll's CredentialsError instead (a
    re-authorization may be on its way).
    """
    wanted: list[tuple[str, Path]] = []
    if config.drive_token_path is not None:
        wanted.append(("drive_token_path", config.drive_token_path))
    if config.sender == "gmail":
        wanted.append(("gmail_token_path", config.gmail_token_path))
    for key, path in wanted:
        if not path.exists():
            raise _token_error(f"{key}: token file {path} does not exist")
        if path.is_dir():
            raise _token_error(f"{key}: {path} is a directory, not a token file")
        if not path.is_file():  # a FIFO or device would block or never end
            raise _token_error(f"{key}: {path} is not a regular file")
        try:
            with path.open("rb"):
                pass
        except OSError as error:
            raise _token_error(f"{key}: cannot read token file {path}: {error.strerror}") from error
        try:
            # Not JSON, empty, `{}`, a list, no refresh_token...: every poll would fail.
            read_token_info(path)
        except CredentialsError as error:
            raise _token_error(f"{key}: {error}") from error


def _token_error(message: str) -> ConfigError:
    error = ConfigError(message)
    error.hint = "fix the path or create the token file; `syft-bg doctor` checks it"
    return error


def describe_validation_error(error: ValidationError) -> str:
    """First problem only, as `key: message`: one line is what a user can act on."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{location}: {message}{suffix}"
