"""The operator's exceptions, in the project's hierarchy (`syft_monitors.errors`).

Each one maps to a condition reason on the SyftMonitor, so the handler can tell users what to fix
without parsing messages. Messages name objects and keys, never Secret contents.
"""

from __future__ import annotations

from syft_monitors.errors import ConfigError, ServiceError, SyftMonitorError


class OperatorError(SyftMonitorError):
    """Base class of the operator's own errors; `reason` becomes the condition reason."""

    reason = "ReconcileFailed"


class InvalidSpecError(OperatorError, ConfigError):
    """The spec passed the CRD schema but not the operator's own checks (CEL-only rules)."""

    reason = "InvalidSpec"


class SecretsError(OperatorError):
    """A referenced Secret or key is missing or unusable; retried with backoff."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class OwnershipConflictError(OperatorError):
    """An object with a child's name exists and is controlled by something else."""

    reason = "NameConflict"


class KubeApiError(ServiceError):
    """A Kubernetes API call failed; `status` is the HTTP status (None: no response)."""

    def __init__(
        self, message: str, *, status: int | None = None, reason: str | None = None
    ) -> None:
        retryable = status is None or status in {409, 429} or status >= 500
        super().__init__(message, status=status, retryable=retryable)
        #: The Status object's `reason` (NotFound, AlreadyExists, Conflict, Invalid, ...).
        self.api_reason = reason


class PolicyError(OperatorError):
    """The spec asks for something the operator's tenant policy does not allow (an image, an API
    root, an SMTP host); permanent until the spec or the operator's allow-lists change."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ChildRejectedError(OperatorError):
    """The API server refused a child as invalid (HTTP 422): retrying the same manifest cannot
    help, so it is reported as InvalidSpec until the spec changes."""

    reason = "InvalidSpec"
