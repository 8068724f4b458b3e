"""Sending through any SMTP server (a relay, Postfix, a mail provider).

One connection per email: notifications are rare, and a fresh connection never fails on a
server-side idle timeout. Delivery is at-least-once: SMTP offers no way to ask whether an email
already left, so `find_sent` always answers None.

The password is only ever handed to `smtplib`; it never appears in an exception or a log line.
Plain-text authentication is refused unless the connection is encrypted (SSL or STARTTLS), goes
to a loopback address, or `allow_plaintext_auth=True` says the network is trusted.
"""

from __future__ import annotations

import logging
import smtplib
import ssl as ssl_module

from syft_monitors.errors import ConfigError, CredentialsError, SendError
from syft_monitors.notify.email import EmailFormat, OutgoingEmail, to_bytes
from syft_monitors.notify.ratelimit import DEFAULT_PER_MINUTE, RateLimiter
from syft_monitors.notify.senders.base import NotificationSender, SendResult
from syft_monitors.protocol.emails import safe_repr, validate_email

logger = logging.getLogger(__name__)

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class SmtpSender(NotificationSender):
    """SMTP submission with STARTTLS (port 587, default) or implicit TLS (`ssl=True`, port 465).

    `ssl=True` takes precedence over `starttls` (the connection is already encrypted).
    """

    exactly_once = False

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        ssl: bool = False,
        from_address: str,
        timeout: float = 30,
        email_format: EmailFormat = "html",
        rate_limit_per_minute: int = DEFAULT_PER_MINUTE,
        rate_limiter: RateLimiter | None = None,
        allow_plaintext_auth: bool = False,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        super().__init__(
            email_format=email_format,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_limiter=rate_limiter,
        )
        if not host:
            raise ConfigError("smtp host is empty")
        if (username is None) != (password is None):
            raise ConfigError("smtp username and password must be given together")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.ssl = ssl
        self.starttls = starttls and not ssl
        self.from_address = validate_email(from_address, what="smtp from_address")
        self.timeout = timeout
        encrypted = self.ssl or self.starttls
        trusted = allow_plaintext_auth or host in _LOOPBACK_HOSTS
        if username is not None and not encrypted and not trusted:
            raise ConfigError(
                f"smtp: refusing to send the password for {safe_repr(username)} unencrypted "
                f"to {safe_repr(host)}; enable starttls or ssl"
            )
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpSender(host={self.host!r}, port={self.port}, username={self.username!r})"

    def _context(self) -> ssl_module.SSLContext:
        return self._ssl_context or ssl_module.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _send(self, email: OutgoingEmail, *, thread_id: str | None) -> SendResult:
        # The checked bytes themselves: `send_message` would serialise the message again.
        data = to_bytes(email, self.from_address, self.email_format)
        where = f"{safe_repr(self.host)}:{self.port}"
        try:
            with self._connect() as smtp:
                if self.starttls:
                    smtp.starttls(context=self._context())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                refused = smtp.sendmail(self.from_address, [email.to], data)
        except smtplib.SMTPAuthenticationError as error:
            raise CredentialsError(
                f"SMTP server {where} rejected the login of {safe_repr(self.username)} "
                f"(code {error.smtp_code})"
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise SendError(
                f"SMTP server {where} does not support {'STARTTLS' if self.starttls else 'AUTH'}"
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            raise SendError(f"SMTP server {where} refused the recipient (code {codes})") from error
        except smtplib.SMTPResponseException as error:
            answer = _server_text(error.smtp_error)
            raise SendError(
                f"SMTP server {where} answered {error.smtp_code} {answer} while sending"
            ) from error
        except smtplib.SMTPException as error:
            raise SendError(f"SMTP error with {where}: {type(error).__name__}") from error
        except ssl_module.SSLError as error:
            raise SendError(f"TLS with SMTP server {where} failed: {error.reason}") from error
        except OSError as error:
            raise SendError(
                f"cannot reach SMTP server {where}: {error.strerror or type(error).__name__}"
            ) from error
        if refused:
            raise SendError(f"SMTP server {where} refused the recipient")
        logger.debug("sent %s via SMTP %s", email.notification_key, where)
        return SendResult(message_id=email.message_id, provider_id=None, thread_id=None)


def _server_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return safe_repr(text, limit=120)
