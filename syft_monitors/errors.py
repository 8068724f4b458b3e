"""The exceptions this project raises.

Every error a user can meet is one of ours, so callers can catch `SyftMonitorError` and print a
one-line message. Vendor exceptions (googleapiclient, google-auth, kubernetes, tarfile, json) are
chained as `__cause__`, never leaked as the visible type. Messages never contain tokens or file
contents, only names, sizes and counts.
"""

from __future__ import annotations


class SyftMonitorError(Exception):
    """Base class of every error raised on purpose by syft_monitors."""

    #: A short hint the CLI prints after the message ("run `syft-bg doctor`", ...).
    hint: str | None = None


# --- SyftBox data ------------------------------------------------------------------------------


class ProtocolError(SyftMonitorError):
    """SyftBox data that is malformed, hostile or of a shape we do not support."""


class InvalidEmailError(ProtocolError):
    """A string that must be an email address is not one."""


class InvalidNameError(ProtocolError):
    """A Drive file or folder name does not follow any SyftBox naming pattern."""


class AmbiguousNameError(InvalidNameError):
    """A legacy name splits into two valid addresses in more than one way."""


class UnsafePathError(ProtocolError):
    """A path escapes its root: `..`, absolute, backslash, NUL, empty segments or a symlink out."""


class MessageError(ProtocolError):
    """A `msgv2_*` or `syfteventsmessagev3_*` archive cannot be read."""


class EncryptedMessageError(MessageError):
    """The message is an encrypted envelope (no gzip magic): it cannot be read without keys."""


class MessageTooLargeError(MessageError):
    """A configured limit (compressed size, uncompressed size, members, JSON depth) was exceeded."""


class CorruptMessageError(MessageError):
    """Bad gzip, truncated data, not a tar archive, or the JSON member is missing or invalid."""


class UnsafeArchiveError(MessageError):
    """The archive holds links, devices, absolute or `..` names, or unexpected members."""


class HashMismatchError(MessageError):
    """A file change's content does not match its declared SHA-256."""


class JobFolderError(ProtocolError):
    """A job folder on the data owner's disk is unreadable or malformed."""


class InvalidJobError(ProtocolError):
    """A job's name, submitter, `config.yaml` or `state.yaml` is malformed or inconsistent."""


class SyftFileError(ProtocolError):
    """`SYFT_peers.json` or `SYFT_version.json` is too large, not JSON, or of an unknown shape."""


# --- configuration and credentials -----------------------------------------------------------


class ConfigError(SyftMonitorError):
    """The configuration file or arguments are invalid."""


class CredentialsError(SyftMonitorError):
    """A token file is missing, unreadable, expired or revoked."""

    hint = "re-authorize: create a new token file, then run `syft-bg doctor`"


# --- remote services --------------------------------------------------------------------------


class ServiceError(SyftMonitorError):
    """A Google (Drive/Gmail) or Kubernetes API call failed."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class MissingScopeError(ServiceError):
    """The token works but was not granted the OAuth scope this call needs (403
    insufficientPermissions): re-authorizing with that scope fixes it, retrying does not."""


class QuotaError(ServiceError):
    """The remote service refused the call for quota or rate-limit reasons (429, 403 rate)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ):
        super().__init__(message, status=status, retryable=True)
        self.retry_after = retry_after
        #: Google's reason (e.g. ``dailyLimitExceeded``), when the body named one.
        self.reason = reason


class SendError(SyftMonitorError):
    """An email could not be handed to the mail service."""


class UnsafeHeaderError(SendError):
    """An email whose headers would not be read back exactly as written (header injection)."""


class SendDeferredError(SendError):
    """Not a failure: the send waits on purpose and is retried after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SendUnsettledError(SendDeferredError):
    """An earlier attempt failed ambiguously (timeout, 5xx): the email may still appear in Sent
    mail. Looking too early could miss it and send a duplicate, so the send waits."""


class RateLimitedError(SendDeferredError):
    """Our own per-minute sending limit is reached: the rest waits for the next polls instead of
    blocking this one (a blocked poll detects nothing and looks dead to health checks)."""


class FloodDeferredError(SendDeferredError):
    """Flood control holds the email: low-priority mail paused after a Gmail quota error, or the
    day's sending budget spent. Not a failure: it is sent when the pause or the day ends."""


class StateError(SyftMonitorError):
    """The state store is unreadable, corrupt, or a write lost a conflict too many times."""


class StateConflictError(StateError):
    """A conditional write lost to a concurrent writer (the stored version moved on)."""
