"""The SyftMonitor custom resource: its spec and status models, and the CRD built from them.

The pydantic models below are the single source of truth. The operator parses every object's
spec with them, and `build_crd()` turns the same models into the CRD's `openAPIV3Schema`, so the
API server and the operator cannot disagree about what a valid SyftMonitor is. Run
`python -m syft_operator.crd > deploy/crds/syftmonitors.syft.openmined.org.yaml` after changing a
model; a test fails while the committed file differs from the generated one.

The schema is structural (every node typed, no `$ref`, no `anyOf` except for int-or-string), has
no `x-kubernetes-preserve-unknown-fields` anywhere, and carries descriptions, patterns, enums,
bounds and defaults. Rules a JSON schema cannot say (SMTP settings only with the SMTP sender, a
Gmail token for the Gmail sender) are CEL rules for real API servers and are checked again by
`SyftMonitorSpec` itself for servers that skip CEL.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from syft_monitors.approve_rules import AutoApprovalRule
from syft_monitors.config import describe_validation_error
from syft_monitors.errors import InvalidEmailError
from syft_monitors.protocol.emails import validate_email
from syft_operator import names
from syft_operator.quantity import QUANTITY, parse_quantity

# RE2 syntax (what the API server runs): no look-arounds.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"  # noqa: S105 - a pattern, not a password
# The subset of addresses `syft_monitors.protocol.emails.is_valid_email` accepts that a regular
# expression can say; the operator still runs the full check.
_EMAIL_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = rf"^[A-Za-z0-9+_-]+(\.[A-Za-z0-9+_-]+)*@{_EMAIL_LABEL}(\.{_EMAIL_LABEL})+$"
HOSTNAME = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$"
DOMAIN = rf"^{_EMAIL_LABEL}(\.{_EMAIL_LABEL})+$"
SHA256 = r"^(sha256:)?[0-9a-fA-F]{64}$"
RELATIVE_PATH = r"^[^/\\]+(/[^/\\]+)*$"
RULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


def _cron_field(value: str, *, question: bool = False) -> str:
    """One cron field: `*`, a value or a range, each with an optional step, comma-separated."""
    item = rf"(\*|{value}(-{value})?)(/[1-9][0-9]?)?"
    if question:
        item = rf"(\?|{item})"
    return rf"{item}(,{item})*"


_MONTH_NAMES = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DAY_NAMES = "sun|mon|tue|wed|thu|fri|sat"
_MONTHS = f"{_MONTH_NAMES}|{_MONTH_NAMES.upper()}"
_DAYS = f"{_DAY_NAMES}|{_DAY_NAMES.upper()}"
# Five cron fields with each value in its range (minute 0-59, hour 0-23, day 1-31, month 1-12
# or a name, weekday 0-7 or a name), as the CronJob controller's parser (robfig/cron's
# standard parser) takes them, or one of its macros. No `TZ=` prefix: the API server refuses it.
CRON = (
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|"
    + " +".join(
        (
            _cron_field(r"([0-5]?[0-9])"),
            _cron_field(r"([01]?[0-9]|2[0-3])"),
            _cron_field(r"(0?[1-9]|[12][0-9]|3[01])", question=True),
            _cron_field(rf"(0?[1-9]|1[0-2]|{_MONTHS})"),
            _cron_field(rf"([0-7]|{_DAYS})", question=True),
        )
    )
    + r")$"
)
IMAGE = r"^[a-z0-9]+([._/:@-][A-Za-z0-9_]+)*$"
URL = r"^https?://[^\s]+$"

_EMAIL_MAX = 254
_DEFAULT_SCHEDULE = "*/5 * * * *"


def _email(value: str) -> str:
    try:
        return validate_email(value, what="email")
    except InvalidEmailError as error:
        # pydantic reports ValueErrors as validation errors; ours is not one.
        raise ValueError(str(error)) from error


Email = Annotated[str, Field(pattern=EMAIL, max_length=_EMAIL_MAX), AfterValidator(_email)]
Domain = Annotated[str, Field(pattern=DOMAIN, max_length=253)]
RelativePath = Annotated[str, Field(pattern=RELATIVE_PATH, max_length=1024)]
Sha256 = Annotated[str, Field(pattern=SHA256, max_length=71)]


def _quantity(value: int | str) -> int | str:
    parse_quantity(value)  # ValueError: reported by pydantic like a pattern mismatch
    return value


Quantity = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True, "pattern": QUANTITY}),
    AfterValidator(_quantity),
]
#: Bytes of a spec as JSON: kopf copies the spec into one annotation (256 KiB for all of them)
#: and the rendered config (once per service) must fit a 1 MiB ConfigMap.
MAX_SPEC_BYTES = 128 * 1024


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class SecretKeyRef(_Model):
    """One key of a Secret in the SyftMonitor's namespace."""

    name: str = Field(
        description="Name of the Secret (same namespace as the SyftMonitor).",
        pattern=DNS_SUBDOMAIN,
        max_length=253,
    )
    key: str = Field(
        description="Key in the Secret's data whose value is used.",
        pattern=SECRET_KEY,
        max_length=253,
    )


class Intervals(_Model):
    """Seconds between two polls of each service (Deployment mode)."""

    notify: int = Field(
        default=30, ge=5, le=86400, description="Seconds between two polls of the notify service."
    )
    approve: int = Field(
        default=5, ge=5, le=86400, description="Seconds between two polls of the approve service."
    )


class Notifications(_Model):
    """Which events send an email; every one is on unless turned off here."""

    new_job: bool = Field(default=True, description="Email the data owner about a new job.")
    job_approved: bool = Field(default=True, description="Email the submitter on approval.")
    job_executed: bool = Field(default=True, description="Email the submitter when results exist.")
    job_failed: bool = Field(default=True, description="Email the data owner when a job failed.")
    failed_to_submitter: bool = Field(
        default=True, description="Also tell the submitter their job failed (status, exit code)."
    )
    share_stderr_with_submitter: bool = Field(
        default=False,
        description="Include the job's stderr tail in the submitter's email (may show your data).",
    )
    job_rejected: bool = Field(default=True, description="Email the submitter on rejection.")
    new_peer: bool = Field(default=True, description="Email the data owner about a peer request.")
    peer_granted: bool = Field(default=True, description="Email the peer when access is granted.")
    peer_accepted_by_rule: bool = Field(
        default=True, description="Email the data owner when a rule accepted a peer."
    )


class FloodSpec(_Model):
    """Flood control: no stranger or noisy peer can use up the owner's Gmail sending limit."""

    enabled: bool = Field(default=True, description="Apply the budgets below.")
    daily_budget: int = Field(
        default=400,
        ge=1,
        le=100000,
        description="Sends per UTC day (consumer Gmail allows about 500, Workspace 2,000).",
    )
    low_priority_percent: int = Field(
        default=20,
        ge=0,
        le=100,
        description="Share of the daily budget peer requests may use; the rest is kept for jobs.",
    )
    per_sender_per_hour: int = Field(
        default=20,
        ge=1,
        le=10000,
        description="Emails to the owner about one requester or peer per hour; more are folded "
        "into one digest.",
    )
    burst_threshold: int = Field(
        default=10,
        ge=0,
        le=10000,
        description="Peer-request emails to the owner per hour; more are folded into one digest.",
    )
    quota_pause_seconds: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="How long a Gmail rate-limit error pauses peer-request mail (a daily-limit "
        "error pauses it until the next UTC day).",
    )


class SmtpSpec(_Model):
    """An SMTP relay to send through instead of the Gmail API."""

    host: str = Field(description="SMTP server host name.", pattern=HOSTNAME, max_length=253)
    port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    tls: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls: upgrade a plain connection (port 587); ssl: TLS from the first "
        "byte (port 465); none: no encryption (local relays only).",
    )
    username: str | None = Field(
        default=None, max_length=256, description="User name to log in with, if the relay asks."
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding the SMTP password; mounted as a file, never in the config.",
    )
    from_address: Email | None = Field(
        default=None,
        description="From address of the emails; defaults to the data owner's address.",
    )


class SenderSpec(_Model):
    """How the monitor sends its emails."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.type == 'smtp' ? has(self.smtp) : !has(self.smtp)",
                    "message": "smtp settings are required with type smtp and only then",
                }
            ]
        }
    )

    type: Literal["gmail", "smtp"] = Field(
        default="gmail",
        description="gmail: the Gmail API with the data owner's token; smtp: an SMTP relay.",
    )
    smtp: SmtpSpec | None = Field(default=None, description="Settings of the SMTP relay.")

    @model_validator(mode="after")
    def _smtp_with_smtp(self) -> SenderSpec:
        if (self.type == "smtp") != (self.smtp is not None):
            raise ValueError("smtp settings are required with type smtp and only then")
        return self


class FileHashSpec(_Model):
    """A file whose content must match exactly."""

    relative_path: str = Field(
        description="Path under the job's code/ folder.", pattern=RELATIVE_PATH, max_length=1024
    )
    sha256: str = Field(description="SHA-256 of the file's bytes, 64 hex digits.", pattern=SHA256)


class JobDeclarationSpec(_Model):
    """What the job's config.yaml must declare, exactly."""

    type: Literal["python", "bash"] = Field(description="python or bash.")
    entrypoint: RelativePath | None = Field(
        default=None, description="File run by python, relative to code/ (bash: none)."
    )
    dependencies: tuple[Annotated[str, Field(max_length=1024)], ...] = Field(
        default=(),
        max_length=1000,
        description="Declared dependencies in order, the syft-client install source first.",
    )


# A rule must pin what runs (run.sh and the job declaration) unless it opts out by name.
_PINNED_RULE = (
    "(has(self.allowUnreviewedRunSh) && self.allowUnreviewedRunSh) || "
    "(((has(self.runShSha256) && size(self.runShSha256) > 0) || "
    "(has(self.canonicalRunSh) && self.canonicalRunSh)) && has(self.job))"
)
_PINNED_MESSAGE = (
    "the rule must pin run.sh (runShSha256 or canonicalRunSh) and the job declaration (job), "
    "or set allowUnreviewedRunSh: true to let data scientists choose what runs"
)


class AutoApprovalSpec(_Model):
    """A job is approved when its files, its declaration and its run.sh are this rule's."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [{"rule": _PINNED_RULE, "message": _PINNED_MESSAGE}]
        }
    )

    name: str = Field(description="Unique name of the rule.", pattern=RULE_NAME, max_length=100)
    peers: tuple[Email, ...] = Field(
        default=(),
        max_length=1000,
        description="Submitters this rule applies to; empty means any accepted peer.",
    )
    file_contents: tuple[FileHashSpec, ...] = Field(
        default=(), max_length=1000, description="Files matched by path and content."
    )
    run_sh_sha256: tuple[Sha256, ...] = Field(
        default=(),
        max_length=100,
        description="Accepted SHA-256 hashes of the job's run.sh.",
    )
    canonical_run_sh: bool = Field(
        default=False,
        description="Also accept the run.sh upstream's syft-job generates for the declared job.",
    )
    job: JobDeclarationSpec | None = Field(
        default=None, description="Type, entrypoint and dependencies config.yaml must declare."
    )
    allow_unreviewed_run_sh: bool = Field(
        default=False,
        description="Approve although run.sh or the declaration is not pinned: the data "
        "scientist then decides what runs on the data owner's machine.",
    )
    file_paths: tuple[RelativePath, ...] = Field(
        default=(),
        max_length=1000,
        description="Files matched by path only (their content may vary).",
    )

    @model_validator(mode="after")
    def _pinned(self) -> AutoApprovalSpec:
        try:
            rule = AutoApprovalRule.model_validate(self.model_dump(mode="json"))
        except ValidationError as error:
            raise ValueError(describe_validation_error(error)) from error
        refusal = rule.refusal()
        if refusal is not None:
            raise ValueError(refusal)
        return self


class ApproveSpec(_Model):
    """Rules of the approve service, the same as the config file's `approve:` section."""

    approved_domains: tuple[Domain, ...] = Field(
        default=(),
        max_length=200,
        description="Peer requests from these email domains are accepted.",
    )
    approved_peers: tuple[Email, ...] = Field(
        default=(),
        max_length=200,
        description="Peer requests from these addresses are accepted.",
    )
    auto_approvals: tuple[AutoApprovalSpec, ...] = Field(
        default=(),
        max_length=1000,
        description="Jobs matching one of these rules are approved.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    email_replies: bool = Field(
        default=False,
        description="Approve or deny a job by replying to its new-job email (approve, deny"
        " [reason], auto-approve), read from the data owner's Gmail history feed. Needs"
        " syftboxVolume and the gmail sender (its token must be allowed to read mail).",
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> ApproveSpec:
        # The list-map key says it to real API servers; the monitor refuses such a config too.
        rules = [rule.name for rule in self.auto_approvals]
        if len(set(rules)) != len(rules):
            raise ValueError("two autoApprovals rules share a name")
        return self


class Quantities(_Model):
    """Amounts per resource name, as Kubernetes quantities."""

    cpu: Quantity | None = Field(default=None, description="CPU, e.g. 100m.")
    memory: Quantity | None = Field(default=None, description="Memory, e.g. 256Mi.")
    ephemeral_storage: Quantity | None = Field(
        default=None, alias="ephemeral-storage", description="Local scratch space, e.g. 64Mi."
    )


_REQUESTS_LE_LIMITS = " && ".join(
    f"(!has(self.requests) || !has(self.limits) || !has(self.requests.{r})"
    f" || !has(self.limits.{r}) || quantity(string(self.requests.{r}))"
    f".compareTo(quantity(string(self.limits.{r}))) <= 0)"
    for r in ("cpu", "memory")
)


class ResourcesSpec(_Model):
    """Compute resources of each monitor container."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": _REQUESTS_LE_LIMITS,
                    "message": "requests must not exceed limits",
                    "fieldPath": ".requests",
                }
            ]
        }
    )

    requests: Quantities | None = Field(default=None, description="Guaranteed resources.")
    limits: Quantities | None = Field(default=None, description="Resource ceilings.")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> ResourcesSpec:
        if self.requests is None or self.limits is None:
            return self
        for field in ("cpu", "memory", "ephemeral_storage"):
            request, limit = getattr(self.requests, field), getattr(self.limits, field)
            if (
                request is not None
                and limit is not None
                and parse_quantity(request) > parse_quantity(limit)
            ):
                raise ValueError(f"requests.{to_camel(field)} exceeds limits")
        return self


class SyftMonitorSpec(_Model):
    """What to monitor for one data owner and how to run it."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.sender.type != 'gmail' || has(self.gmailTokenSecretRef)",
                    "message": "gmailTokenSecretRef is required with the gmail sender",
                },
                {
                    "rule": "self.mode == 'Pooled' ? has(self.pool) : !has(self.pool)",
                    "message": "pool is required with mode Pooled, and only then",
                    "fieldPath": ".pool",
                },
                {
                    "rule": "self.mode != 'Pooled' || self.schedule == '" + _DEFAULT_SCHEDULE + "'",
                    "message": "schedule is for mode CronJob: a pooled monitor polls every"
                    " intervals.notify seconds",
                    "fieldPath": ".schedule",
                    "reason": "FieldValueForbidden",
                },
                {
                    "rule": "self.mode != 'Pooled' || (!has(self.image) && !has(self.resources))",
                    "message": "a pooled monitor runs in its pool's pods: set image and resources"
                    " on the SyftMonitorPool",
                    "reason": "FieldValueForbidden",
                },
                {
                    "rule": "self.mode != 'Pooled' || (self.services == ['notify']"
                    " && !has(self.syftboxVolume))",
                    "message": "a pool runs the notify service only, without a SyftBox volume:"
                    " keep a monitor that approves jobs in its own pod (mode Deployment)",
                    "fieldPath": ".services",
                    "reason": "FieldValueForbidden",
                },
                {
                    "rule": "!has(self.approve) || !has(self.approve.autoApprovals)"
                    " || size(self.approve.autoApprovals) == 0 || has(self.syftboxVolume)",
                    "message": "approve.autoApprovals need syftboxVolume: the approve service"
                    " reads and approves jobs in the SyftBox folder, which the pod has only"
                    " from that volume (peer acceptance works without it)",
                    "fieldPath": ".syftboxVolume",
                    "reason": "FieldValueRequired",
                },
                {
                    "rule": "!has(self.approve) || !has(self.approve.emailReplies)"
                    " || !self.approve.emailReplies"
                    " || (has(self.syftboxVolume) && self.sender.type == 'gmail')",
                    "message": "approve.emailReplies needs syftboxVolume (replies decide jobs in"
                    " the SyftBox folder) and the gmail sender (its token reads the replies)",
                    "fieldPath": ".approve.emailReplies",
                },
            ]
        }
    )

    do_email: Email = Field(description="The data owner's email address (their SyftBox identity).")
    services: tuple[Literal["notify", "approve"], ...] = Field(
        default=("notify",),
        min_length=1,
        max_length=2,
        description="Services to run, one container each.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    mode: Literal["Deployment", "CronJob", "Pooled"] = Field(
        default="Deployment",
        description="Deployment: long-running pods polling every interval; CronJob: one poll per "
        "scheduled run; Pooled: served, with other monitors of the namespace, by the pods of the "
        "SyftMonitorPool named in spec.pool.",
    )
    pool: str | None = Field(
        default=None,
        pattern=DNS_LABEL,
        max_length=names.MAX_POOL_NAME,
        description="The SyftMonitorPool (same namespace) serving this monitor; required with "
        "mode Pooled, and only then.",
    )
    schedule: str = Field(
        default=_DEFAULT_SCHEDULE,
        pattern=CRON,
        max_length=128,
        description="Cron schedule of the CronJob mode.",
    )
    intervals: Intervals = Field(
        default=Intervals(), description="Seconds between polls (Deployment mode)."
    )
    notifications: Notifications = Field(
        default=Notifications(), description="Which events send an email."
    )
    email_format: Literal["html", "text", "both"] = Field(
        default="html", description="Body format of the emails."
    )
    flood: FloodSpec = Field(default=FloodSpec(), description="Sending budgets and digests.")
    sender: SenderSpec = Field(default=SenderSpec(), description="How emails are sent.")
    drive_token_secret_ref: SecretKeyRef = Field(
        description="Secret key holding the data owner's Google Drive OAuth token (JSON)."
    )
    gmail_token_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding the Gmail OAuth token (JSON); required by the gmail "
        "sender. May name the same key as the Drive token.",
    )
    approve: ApproveSpec = Field(default=ApproveSpec(), description="Rules of the approve service.")
    suspend: bool = Field(
        default=False,
        description="Scale the Deployment to zero, or suspend the CronJob; state is kept.",
    )
    image: str | None = Field(
        default=None,
        pattern=IMAGE,
        max_length=512,
        description="Container image of the monitor; defaults to the operator's monitor image.",
    )
    resources: ResourcesSpec | None = Field(
        default=None, description="Compute resources of each monitor container."
    )
    google_api_root: str | None = Field(
        default=None,
        pattern=URL,
        max_length=2048,
        description="Base URL of the Google APIs (the OAuth token refresh goes to <root>token);"
        " only for a sandbox or an API proxy, and only one the operator's allow-list names.",
    )
    syftbox_volume: str | None = Field(
        default=None,
        pattern=DNS_SUBDOMAIN,
        max_length=253,
        description="PersistentVolumeClaim holding the data owner's SyftBox folder (what their"
        " SyftBox client syncs): mounted read-write for the approve service, which reads and"
        " approves jobs there, and read-only for notify. Required by approve.autoApprovals.",
    )

    @model_validator(mode="after")
    def _gmail_token_for_gmail(self) -> SyftMonitorSpec:
        if self.sender.type == "gmail" and self.gmail_token_secret_ref is None:
            raise ValueError("gmailTokenSecretRef is required with the gmail sender")
        if self.approve.auto_approvals and self.syftbox_volume is None:
            raise ValueError("approve.autoApprovals need syftboxVolume")
        if self.approve.email_replies and (
            self.syftbox_volume is None or self.sender.type != "gmail"
        ):
            raise ValueError("approve.emailReplies needs syftboxVolume and the gmail sender")
        self._pooled_fields()
        size = len(self.model_dump_json(by_alias=True, exclude_defaults=True))
        if size > MAX_SPEC_BYTES:
            raise ValueError(f"spec is {size} bytes as JSON, more than {MAX_SPEC_BYTES}")
        return self

    def _pooled_fields(self) -> None:
        """The CEL rules on mode Pooled, for API servers that skip CEL."""
        pooled = self.mode == "Pooled"
        if pooled != (self.pool is not None):
            raise ValueError("pool is required with mode Pooled, and only then")
        if not pooled:
            return
        if self.schedule != _DEFAULT_SCHEDULE:
            raise ValueError("schedule is for mode CronJob, not for a pooled monitor")
        if self.image is not None or self.resources is not None:
            raise ValueError("a pooled monitor takes image and resources from its pool")
        if self.services != ("notify",) or self.syftbox_volume is not None:
            raise ValueError("a pool runs the notify service only, without a SyftBox volume")

    def secret_refs(self) -> dict[str, SecretKeyRef]:
        """The Secret keys the monitor pod needs, by purpose (drive, gmail, smtp)."""
        refs = {"drive": self.drive_token_secret_ref}
        if self.sender.type == "gmail" and self.gmail_token_secret_ref is not None:
            refs["gmail"] = self.gmail_token_secret_ref
        if self.sender.smtp is not None and self.sender.smtp.credentials_secret_ref is not None:
            refs["smtp"] = self.sender.smtp.credentials_secret_ref
        return refs


class Condition(_Model):
    """The standard Kubernetes condition shape (metav1.Condition)."""

    type: str = Field(description="Condition type, CamelCase.", max_length=316)
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="Machine-readable CamelCase reason of the last transition.",
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        max_length=1024,
    )
    message: str = Field(default="", description="Human-readable details.", max_length=32768)
    last_transition_time: str = Field(
        description="When the status last changed.", json_schema_extra={"format": "date-time"}
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation this condition was set for."
    )


class SyftMonitorStatus(_Model):
    """What the operator and the monitor last observed."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation last reconciled."
    )
    conditions: tuple[Condition, ...] = Field(
        default=(),
        description="Ready, SecretsResolved and WorkloadAvailable.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    workload: str | None = Field(
        default=None, max_length=253, description="Kind/name of the monitor workload."
    )
    last_poll_time: str | None = Field(
        default=None,
        description=(
            "When the monitor last finished a poll: the newest of its services' polls, from its"
            " heartbeat ConfigMap."
        ),
        json_schema_extra={"format": "date-time"},
    )
    notifications_sent: int | None = Field(
        default=None,
        ge=0,
        description="Emails sent so far (counted in its state, as its services last reported).",
    )
    last_error: str | None = Field(
        default=None,
        max_length=500,
        description="The current error of each failing service of the monitor, if any.",
    )


# --- schema conversion ---------------------------------------------------------------------------

# Keywords a structural schema may carry, in the order the YAML shows them.
_KEEP = (
    "description",
    "type",
    "format",
    "enum",
    "default",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "required",
    "properties",
    "items",
)


def structural_schema(model: type[BaseModel], *, defaults: bool = True) -> dict[str, Any]:
    """The model as a structural openAPIV3Schema: `$ref`s inlined, nullables unwrapped.

    Object defaults become `{}` (the API server then fills in each property's own default), empty
    list defaults are left out (the models supply them), and `defaults=False` drops every default
    (for status, which only the operator writes).
    """
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.pop("$defs", {})
    return _convert(raw, definitions, defaults=defaults)


def _convert(
    node: dict[str, Any], definitions: dict[str, Any], *, defaults: bool
) -> dict[str, Any]:
    node = dict(node)
    ref = node.pop("$ref", None)
    if ref is not None:
        # Field-level keywords (description, default) win over the referenced model's.
        node = {**definitions[ref.rsplit("/", 1)[-1]], **node}
    if "anyOf" in node:
        node = _unwrap_any_of(node)
        if "anyOf" in node:
            return node
        return _convert(node, definitions, defaults=defaults)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("default"), dict):
        node["default"] = {}
    if not defaults or node.get("default", ...) in (None, []):
        node.pop("default", None)
    out: dict[str, Any] = {}
    for key in _KEEP:
        if key not in node:
            continue
        value = node[key]
        if key == "properties":
            value = {
                name: _convert(sub, definitions, defaults=defaults) for name, sub in value.items()
            }
        elif key == "items":
            value = _convert(value, definitions, defaults=defaults)
        elif isinstance(value, list):
            value = list(value)
        out[key] = value
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            out[key] = value
    if out.get("type") == "object" and "properties" not in out:
        out["properties"] = {}
    return out


def _unwrap_any_of(node: dict[str, Any]) -> dict[str, Any]:
    options = [option for option in node.pop("anyOf") if option.get("type") != "null"]
    if node.get("x-kubernetes-int-or-string") or (
        len(options) == 1 and options[0].get("x-kubernetes-int-or-string")
    ):
        inner = options[0] if len(options) == 1 else {}
        merged = {**inner, **node}
        # The one anyOf a structural schema allows: integer or string, untyped at the top.
        return {
            **{k: merged[k] for k in ("description", "pattern") if k in merged},
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
        }
    if len(options) != 1:
        raise TypeError(f"cannot express anyOf with {len(options)} non-null options structurally")
    return {**options[0], **node}


def spec_schema() -> dict[str, Any]:
    return structural_schema(SyftMonitorSpec)


def status_schema() -> dict[str, Any]:
    return structural_schema(SyftMonitorStatus, defaults=False)


def object_schema(
    *,
    description: str,
    max_name: int,
    spec: dict[str, Any],
    status: dict[str, Any],
    spec_required: bool,
) -> dict[str, Any]:
    """The top of a CRD's openAPIV3Schema: our name rule, then the spec and status schemas."""
    schema: dict[str, Any] = {"description": description, "type": "object"}
    if spec_required:
        schema["required"] = ["spec"]
    schema["properties"] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {
            "type": "object",
            "properties": {"name": {"type": "string", "pattern": DNS_LABEL, "maxLength": max_name}},
        },
        "spec": spec,
        "status": status,
    }
    return schema


def open_api_schema() -> dict[str, Any]:
    return object_schema(
        description="A SyftMonitor runs the notify (and optionally approve) service for one "
        "SyftBox data owner.",
        max_name=names.MAX_MONITOR_NAME,
        spec=spec_schema(),
        status=status_schema(),
        spec_required=True,
    )


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Email", "type": "string", "jsonPath": ".spec.doEmail"},
    {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {"name": "Last Poll", "type": "date", "jsonPath": ".status.lastPollTime"},
    {"name": "Notified", "type": "integer", "jsonPath": ".status.notificationsSent"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "Reason",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
    },
    {"name": "Suspended", "type": "boolean", "priority": 1, "jsonPath": ".spec.suspend"},
    {"name": "Pool", "type": "string", "priority": 1, "jsonPath": ".spec.pool"},
]


def custom_resource_definition(
    *,
    crd_name: str,
    kind: str,
    plural: str,
    singular: str,
    short_names: tuple[str, ...],
    printer_columns: list[dict[str, Any]],
    schema: dict[str, Any],
) -> dict[str, Any]:
    """A namespaced CRD of our group with one served, stored version and a status subresource:
    the shape both of our CRDs share."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": crd_name,
            "labels": {
                names.LABEL_NAME: names.APP_NAME,
                names.LABEL_PART_OF: names.APP_NAME,
            },
        },
        "spec": {
            "group": names.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": list(short_names),
                "categories": list(names.CATEGORIES),
            },
            "versions": [
                {
                    "name": names.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition object, ready to apply."""
    return custom_resource_definition(
        crd_name=names.CRD_NAME,
        kind=names.KIND,
        plural=names.PLURAL,
        singular=names.SINGULAR,
        short_names=tuple(names.SHORT_NAMES),
        printer_columns=PRINTER_COLUMNS,
        schema=open_api_schema(),
    )


HEADER = (
    "# Generated by `python -m syft_operator.crd` from the models in syft_operator/crd.py.\n"
    "# Do not edit: change the models and regenerate (a test compares the two).\n"
)


class _NoAliasDumper(yaml.SafeDumper):
    """Repeated sub-schemas are written out in full: anchors confuse readers and some tools."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_NoAliasDumper, sort_keys=False, width=100)


def render_crd_yaml() -> str:
    return HEADER + "---\n" + to_yaml(build_crd())


def main() -> None:
    sys.stdout.write(render_crd_yaml())


if __name__ == "__main__":
    main()
