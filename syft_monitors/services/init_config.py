"""`syft-bg init`: write a commented config file (every key explained, optional ones commented out).

The values are rendered as JSON strings, which YAML reads as double-quoted scalars, so an
address or path can never break the YAML. The written file is parsed back before `init` returns.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from syft_monitors.config import MonitorConfig, default_syftbox_root, load_config
from syft_monitors.errors import ConfigError, InvalidEmailError
from syft_monitors.private_files import write_private_text
from syft_monitors.protocol.emails import validate_email

_TEMPLATE = """\
# syft-monitor configuration, written by `syft-bg init`. Unknown keys are errors.
# After editing, run `syft-bg doctor`; a running service re-reads this file on
# `syft-bg restart SERVICE` or `kill -HUP <PID>` (an invalid file is refused, the old one kept).

# The data owner (DO) whose Drive is watched; emails are sent from this account.
do_email: {do_email}

# Your local SyftBox folder: job status (approved, done, ...) is read from it, and the approve
# service writes approvals there. It may be missing; then only Drive is watched.
# Default: ~/SyftBox_<do_email> (upstream's clients), else an existing ~/SyftBox.
syftbox_root: {syftbox_root}

# Authorized-user token files (the JSON written by Google's OAuth flow, with a refresh token).
# The Drive token needs the scope https://www.googleapis.com/auth/drive; the Gmail token needs
# https://www.googleapis.com/auth/gmail.modify (sends, and finds an email in Sent mail after a
# failed send, so it is never sent twice). gmail.send alone also works, but then an email whose
# send failed ambiguously may arrive twice. One token with both scopes may serve both.
drive_token_path: {drive_token_path}
gmail_token_path: {gmail_token_path}

# Where the monitors remember what they already saw and sent (so nothing is emailed twice).
state_file: {state_file}

# Google API root. Leave unset for real Google; a sandbox or proxy URL such as
# http://127.0.0.1:8765/ sends every request there (so does $SYFT_GOOGLE_API_ROOT).
{api_root_line}

# Seconds between two polls of the notify service (an idle poll costs one Drive request).
interval: 30

# "changes": read Drive's changes feed (cheap); "list": list the channel folders every poll.
strategy: changes

# How emails are sent: "gmail" (Gmail API, as do_email), "smtp" (see smtp: below) or "file"
# (write .eml files into mail_folder, for testing).
sender: gmail
# smtp:
#   host: smtp.example.org
#   port: 587
#   starttls: true
#   ssl: false
#   username: owner@example.org
#   password_file: ~/.syft-creds/smtp-password   # a file holding the password, never the password
#   from_address: owner@example.org
#   timeout: 30
# mail_folder: ~/.syft-creds/outbox   # for sender: file (default: next to state_file)

# "html" (HTML with a text alternative), "text" (plain text only) or "both" (same as html).
email_format: html

# Which events send email (to the data owner, the data scientist, or both).
notify_on_new_job: true
notify_on_approved: true
notify_on_executed: true
notify_on_failed: true
notify_on_rejected: true
notify_on_new_peer: true
notify_on_peer_granted: true
# The data scientist is told their job failed (status and exit code); the tail of its stderr
# only with share_stderr_with_ds (it may show your data or paths).
notify_ds_on_failed: true
share_stderr_with_ds: false
# You are told when the approve service accepted a peer by a rule.
notify_on_peer_accepted_by_rule: true

# At most this many emails per minute (Gmail's own limits are far higher; this stops floods).
rate_limit_per_minute: 150

# Flood control: no stranger or noisy peer can use up Gmail's daily sending limit (consumer
# Gmail about 500/day). Emails about jobs come first; peer requests are low priority and may use
# at most low_priority_share of daily_budget. Beyond per_sender_per_hour emails about one
# person, or burst_threshold peer requests per hour, the rest is folded into one digest email
# per hour. Gmail's userRateLimitExceeded pauses low-priority mail for quota_pause_seconds,
# dailyLimitExceeded until the next UTC day.
flood:
  enabled: true
  daily_budget: 400
  low_priority_share: 0.2
  per_sender_per_hour: 20
  burst_threshold: 10
  quota_pause_seconds: 3600

# A periodic "still running" email to the data owner, every heartbeat_interval seconds.
heartbeat_enabled: false
heartbeat_interval: 86400

# Prometheus /metrics and /healthz for each service (unset: no HTTP port).
# metrics_port: 9464
# metrics_host: 127.0.0.1

# Folder of the PID and log files (syft-notify.pid, syft-notify.log, ...).
# Default: $SYFT_MONITOR_HOME, else ~/.syft-creds.
# daemon_dir: ~/.syft-creds

# Where state lives: "file" (state_file above) or "configmap" (Kubernetes, with state_configmap).
state_backend: file
# state_configmap:
#   name: syft-monitor-state
#   namespace: default

# The approve service (`syft-bg start approve`): accepts peer requests and approves jobs that
# match a rule exactly. It never runs jobs. Manage rules with `syft-bg auto-approve`.
approve:
  # Seconds between two polls of the approve service.
  interval: 5
  # Accept peer requests from these domains (exact match of the part after the last "@").
  approved_domains: []
  # Accept peer requests from these addresses (the peers named in rules are accepted too).
  approved_peers: []
  # Rules: a pending job is approved when its files under code/ are exactly the rule's files,
  # file_contents match by SHA-256, the submitter is one of peers (empty: any peer), config.yaml
  # declares exactly `job`, and run.sh is the script syft-job generates for it (or one pinned in
  # run_sh_sha256). Make them from a job you reviewed: syft-bg auto-approve --from-job FOLDER.
  auto_approvals: []
  # - name: train
  #   peers: [alice@uni.example]
  #   file_contents:
  #     - relative_path: main.py
  #       sha256: <64 hex digits>
  #   file_paths: [params.json]      # matched by name only (data, never code)
  #   job:
  #     type: python
  #     entrypoint: main.py
  #     dependencies: [syft-client==0.1.117]
  #   canonical_run_sh: true
  # Approve or deny a job by replying to its new-job email ("approve", "deny [reason]",
  # "auto-approve" on the first line). Read from Gmail's history feed: needs the SyftBox folder
  # and a Gmail token that may read mail (gmail.modify or gmail.readonly).
  email_replies: false
"""


def render_config(
    *,
    do_email: str,
    home: Path,
    syftbox_root: Path | None = None,
    token_path: Path | None = None,
    api_root: str | None = None,
) -> str:
    """The commented config text for these values (defaults placed under `home`)."""
    try:
        email = validate_email(do_email, what="email")
    except InvalidEmailError as error:
        raise ConfigError(str(error)) from error
    drive_token = token_path or home / "token_do.json"
    gmail_token = token_path or home / "gmail_token.json"
    root = syftbox_root or default_syftbox_root(email)
    api_line = (
        f"google_api_root: {_quote(api_root)}"
        if api_root
        else "# google_api_root: http://127.0.0.1:8765/"
    )
    return _TEMPLATE.format(
        do_email=_quote(email),
        syftbox_root=_quote(str(root)),
        drive_token_path=_quote(str(drive_token)),
        gmail_token_path=_quote(str(gmail_token)),
        state_file=_quote(str(home / "state.json")),
        api_root_line=api_line,
    )


def write_config(
    path: Path,
    *,
    do_email: str,
    home: Path,
    syftbox_root: Path | None = None,
    token_path: Path | None = None,
    api_root: str | None = None,
    force: bool = False,
) -> MonitorConfig:
    """Write the file (0600, folder 0700) and return it parsed; ConfigError if it exists."""
    if token_path is not None:
        token_path = Path(os.path.expanduser(str(token_path))).absolute()
        if not token_path.is_file():
            raise ConfigError(f"token file {token_path} does not exist")
    if syftbox_root is not None:
        syftbox_root = Path(os.path.expanduser(str(syftbox_root))).absolute()
    text = render_config(
        do_email=do_email,
        home=home,
        syftbox_root=syftbox_root,
        token_path=token_path,
        api_root=api_root,
    )
    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a config file")
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (use --force to overwrite it)")
    write_private_text(path, text)
    return load_config(path)


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)
