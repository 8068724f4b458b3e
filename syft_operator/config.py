"""Operator-wide settings, from the environment (the Deployment sets them) or the CLI.

Environment variables (all optional):

- `SYFT_OPERATOR_MONITOR_IMAGE` (`syft-monitor:<version>`): image of monitor pods whose spec
  names none;
- `SYFT_OPERATOR_IMAGE_PULL_POLICY` (`IfNotPresent`): pull policy of monitor containers;
- `SYFT_OPERATOR_STATUS_INTERVAL` (`60`): seconds between status refreshes, `0` turns them off;
- `SYFT_OPERATOR_RETRY_DELAY` (`10`): first retry delay in seconds after a missing Secret or an
  API error, doubled on every retry ...
- `SYFT_OPERATOR_RETRY_MAX_DELAY` (`300`): ... up to this many seconds;
- `SYFT_OPERATOR_METRICS_PORT` (none): serve `/metrics` on this port (the CLI's `--metrics-port`);
- `SYFT_OPERATOR_METRICS_HOST` (`0.0.0.0`): address of the metrics server;
- `SYFT_OPERATOR_WATCH_SERVER_TIMEOUT` (`300`): seconds the API server keeps a watch open;
- `SYFT_OPERATOR_ALLOWED_IMAGES` (none): comma-separated images a SyftMonitor's `spec.image` may
  name: a repository (`registry.example.org/syft-monitor`, any tag or digest of it), a repository
  prefix ending in `/` (`registry.example.org/team/`), or a digest (`sha256:<64 hex>`);
- `SYFT_OPERATOR_ALLOWED_API_ROOTS` (none): comma-separated URLs a `spec.googleApiRoot` may be
  (exact match, trailing `/` ignored). The monitor also refreshes its OAuth token at
  `<root>token`, so allowing a root trusts it with the data owner's refresh token;
- `SYFT_OPERATOR_ALLOWED_SMTP_HOSTS` (none): comma-separated host names an SMTP sender with a
  password Secret may log in to (the password is sent to that host).

The three allow-lists are the tenant boundary (see `syft_operator.policy`): empty by default, so a
SyftMonitor can only run the operator's own monitor image against Google's real endpoints.

The status refresh is an operator-wide loop (see `handlers.py`), so SyftMonitors carry no
finalizer either way; with `SYFT_OPERATOR_STATUS_INTERVAL=0` status is refreshed only on spec
changes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from syft_operator import __version__
from syft_operator.errors import OperatorError
from syft_operator.rollout import parse_limit


@dataclasses.dataclass(frozen=True)
class OperatorConfig:
    monitor_image: str = f"syft-monitor:{__version__}"
    image_pull_policy: str = "IfNotPresent"
    status_interval: float = 60.0
    retry_delay: float = 10.0
    retry_max_delay: float = 300.0
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped from outside the pod
    watch_server_timeout: int = 300
    #: Seconds between sweeps that read everything live instead of from the watch cache.
    verify_interval: float = 3600.0
    #: Reconciles per second the queue starts at most (0: no limit).
    queue_rate: float = 50.0
    #: Monitors restarted at once by a change their spec did not ask for: a count or "N%".
    rollout_max_unavailable: str = "10%"
    allowed_images: tuple[str, ...] = ()
    allowed_api_roots: tuple[str, ...] = ()
    allowed_smtp_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if env is None else env
        defaults = cls()
        port = env.get("SYFT_OPERATOR_METRICS_PORT", "").strip()
        return cls(
            monitor_image=env.get("SYFT_OPERATOR_MONITOR_IMAGE") or defaults.monitor_image,
            image_pull_policy=_choice(
                env, "SYFT_OPERATOR_IMAGE_PULL_POLICY", ("IfNotPresent", "Always", "Never")
            )
            or defaults.image_pull_policy,
            status_interval=_number(env, "SYFT_OPERATOR_STATUS_INTERVAL", defaults.status_interval),
            retry_delay=_number(env, "SYFT_OPERATOR_RETRY_DELAY", defaults.retry_delay),
            retry_max_delay=_number(env, "SYFT_OPERATOR_RETRY_MAX_DELAY", defaults.retry_max_delay),
            metrics_port=int(_number(env, "SYFT_OPERATOR_METRICS_PORT", 0)) if port else None,
            metrics_host=env.get("SYFT_OPERATOR_METRICS_HOST") or defaults.metrics_host,
            watch_server_timeout=int(
                _number(env, "SYFT_OPERATOR_WATCH_SERVER_TIMEOUT", defaults.watch_server_timeout)
            ),
            verify_interval=_number(env, "SYFT_OPERATOR_VERIFY_INTERVAL", defaults.verify_interval),
            queue_rate=_number(env, "SYFT_OPERATOR_QUEUE_RATE", defaults.queue_rate),
            rollout_max_unavailable=_rollout_limit(env, defaults.rollout_max_unavailable),
            allowed_images=_list(env, "SYFT_OPERATOR_ALLOWED_IMAGES"),
            allowed_api_roots=_list(env, "SYFT_OPERATOR_ALLOWED_API_ROOTS"),
            allowed_smtp_hosts=_list(env, "SYFT_OPERATOR_ALLOWED_SMTP_HOSTS"),
        )

    def retry_backoff(self, retry: int) -> float:
        """Delay before retry number `retry` (0 for the first): doubling, capped."""
        return float(min(self.retry_max_delay, self.retry_delay * 2 ** min(retry, 30)))


def _number(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError as error:
        raise OperatorError(f"{key} must be a number, got {raw[:40]!r}") from error
    if value < 0:
        raise OperatorError(f"{key} must not be negative")
    return value


def _rollout_limit(env: Mapping[str, str], default: str) -> str:
    raw = env.get("SYFT_OPERATOR_ROLLOUT_MAX_UNAVAILABLE", "").strip() or default
    parse_limit(raw)  # refused at startup, not at the first rollout
    return raw


def _list(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    items = (item.strip() for item in env.get(key, "").split(","))
    return tuple(dict.fromkeys(item for item in items if item))


def _choice(env: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str | None:
    raw = env.get(key, "").strip()
    if raw and raw not in allowed:
        raise OperatorError(f"{key} must be one of {', '.join(allowed)}")
    return raw or None
