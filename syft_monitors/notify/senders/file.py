"""Writing emails as `.eml` files into a folder: the demo, tests, and air-gapped setups.

Each email becomes `<UTC timestamp>-<notification key>.eml`, written to a temporary file and
renamed, so a reader never sees half a message. Files are 0600 and a folder we create is 0700:
notification bodies contain code and email addresses. Delivery is at-least-once: `find_sent`
does not search the folder (a resend after a crash writes a second file with the same
Message-ID).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from syft_monitors.errors import SendError
from syft_monitors.files import write_atomically
from syft_monitors.notify.email import EmailFormat, OutgoingEmail, to_bytes
from syft_monitors.notify.ratelimit import RateLimiter
from syft_monitors.notify.senders.base import NotificationSender, SendResult
from syft_monitors.protocol.emails import safe_repr

logger = logging.getLogger(__name__)

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
# Writing files is not a quota-limited service: the limiter only guards against runaway loops.
FILE_RATE_LIMIT_PER_MINUTE = 100_000


def _now() -> datetime:
    return datetime.now(UTC)


class FileSender(NotificationSender):
    exactly_once = False

    def __init__(
        self,
        folder: Path | str,
        *,
        email_format: EmailFormat = "html",
        sender_address: str | None = None,
        rate_limit_per_minute: int = FILE_RATE_LIMIT_PER_MINUTE,
        rate_limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        super().__init__(
            email_format=email_format,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_limiter=rate_limiter,
        )
        self.folder = Path(os.path.expanduser(str(folder)))
        self.sender_address = sender_address
        self._clock = clock

    def _ensure_folder(self) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise SendError(
                f"cannot create mail folder {self.folder}: {error.strerror or error}"
            ) from error

    def file_name(self, email: OutgoingEmail, when: datetime) -> str:
        stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        key = _UNSAFE_NAME_CHARS.sub("_", email.notification_key)[:150]
        return f"{stamp}-{key}.eml"

    def _send(self, email: OutgoingEmail, *, thread_id: str | None) -> SendResult:
        data = to_bytes(email, self.sender_address, self.email_format)
        self._ensure_folder()
        name = self.file_name(email, self._clock())
        final = self.folder / name
        try:
            write_atomically(final, data, mode=0o600)
        except OSError as error:
            raise SendError(
                f"cannot write {safe_repr(name)} into {self.folder}: {error.strerror or error}"
            ) from error
        logger.debug("wrote %s", final)
        return SendResult(message_id=email.message_id, provider_id=name, thread_id=None)
