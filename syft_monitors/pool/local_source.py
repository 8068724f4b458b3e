"""Local mode: owners from a folder, one subfolder each (`syft-bg pool --owners DIR`).

    DIR/<name>/config.yaml      the owner's syft-bg config (MonitorConfig)
    DIR/<name>/drive_token.json its Drive token (or the config's drive_token_path)
    DIR/<name>/gmail_token.json its Gmail token, with the Gmail sender (or gmail_token_path)
    DIR/<name>/smtp_password    its SMTP password, with SMTP credentials (or smtp.password_file)
    DIR/<name>/state.json       its state (or the config's state_file / state backend)
    DIR/<name>/outbox/          its emails, with the file sender (or mail_folder)

Relative paths in a config are relative to the owner's folder. A subfolder without a
config.yaml is not an owner (yet); folders whose names start with "." are skipped. Tokens are read
into memory at set-up and again after an auth error; the pool never writes them.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from syft_monitors.config import MonitorConfig, load_config
from syft_monitors.errors import ConfigError, CredentialsError
from syft_monitors.google.credentials import MAX_TOKEN_FILE_BYTES
from syft_monitors.pool.assignment import PartVersions, TokenPurpose
from syft_monitors.pool.owner import OwnerParts
from syft_monitors.protocol.emails import safe_repr
from syft_monitors.runtime.wiring import state_from_config
from syft_monitors.state.base import StateManager
from syft_monitors.state.json_file import JsonStateManager

CONFIG_FILE = "config.yaml"
DEFAULT_TOKEN_FILES: dict[TokenPurpose, str] = {
    "drive": "drive_token.json",
    "gmail": "gmail_token.json",
    "smtp_password": "smtp_password",
}


class FolderSource:
    """Owners from the subfolders of `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.expanduser(str(root)))

    def owners(self) -> dict[str, str]:
        try:
            entries = sorted(self.root.iterdir())
        except OSError as error:
            raise ConfigError(
                f"cannot list the owners folder {safe_repr(str(self.root))}: {error.strerror}"
            ) from error
        found: dict[str, str] = {}
        for folder in entries:
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                info = (folder / CONFIG_FILE).stat()
            except OSError:
                continue
            # A changed config (new mtime or size) makes the pool rebuild the owner.
            found[folder.name] = f"{info.st_mtime_ns}:{info.st_size}"
        return found

    def _folder(self, name: str) -> Path:
        return self.root / name

    def config(self, name: str) -> MonitorConfig:
        return load_config(self._folder(name) / CONFIG_FILE)

    def versions(self, name: str) -> PartVersions | None:
        """Files have no versions the pool is told of: their owners re-read on a timer."""
        return None

    def _token_paths(self, name: str, config: MonitorConfig) -> dict[TokenPurpose, Path]:
        folder = self._folder(name)
        explicit = config.model_fields_set
        chosen: dict[TokenPurpose, Path | None] = {
            "drive": config.drive_token_path if "drive_token_path" in explicit else None,
            "gmail": config.gmail_token_path if "gmail_token_path" in explicit else None,
            "smtp_password": config.smtp.password_file if config.smtp is not None else None,
        }
        paths: dict[TokenPurpose, Path] = {}
        for purpose, path in chosen.items():
            paths[purpose] = folder / (path or DEFAULT_TOKEN_FILES[purpose])
        return paths

    def _read_tokens(
        self,
        name: str,
        config: MonitorConfig,
        purposes: Collection[TokenPurpose] | None = None,
    ) -> dict[TokenPurpose, bytes]:
        tokens: dict[TokenPurpose, bytes] = {}
        for purpose, path in self._token_paths(name, config).items():
            if purposes is not None and purpose not in purposes:
                continue
            try:
                with path.open("rb") as handle:
                    tokens[purpose] = handle.read(MAX_TOKEN_FILE_BYTES + 1)
            except FileNotFoundError:
                if purpose == "drive" or (purpose == "gmail" and config.sender == "gmail"):
                    raise CredentialsError(
                        f"the {purpose} token of {safe_repr(name)} is missing"
                    ) from None
            except OSError as error:
                raise CredentialsError(
                    f"the {purpose} token of {safe_repr(name)} cannot be read"
                    f" ({type(error).__name__})"
                ) from error
        return tokens

    def parts(self, name: str) -> OwnerParts:
        config = self.config(name)
        folder = self._folder(name)
        outbox = folder / (config.mail_folder or "outbox")
        return OwnerParts(config=config, tokens=self._read_tokens(name, config), outbox=outbox)

    def tokens(
        self, name: str, purposes: Collection[TokenPurpose] | None = None
    ) -> dict[TokenPurpose, bytes]:
        return self._read_tokens(name, self.config(name), purposes)

    def state(self, name: str, config: MonitorConfig) -> StateManager:
        if config.state_backend == "file":
            explicit = "state_file" in config.model_fields_set
            return JsonStateManager(
                self._folder(name) / (config.state_file if explicit else "state.json")
            )
        return state_from_config(config)
