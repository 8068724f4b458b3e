"""The ConfigMap keys the monitor writes and the operator reads: the contract between the two.

The monitor (`state.configmap`) stores its state document under `DATA_KEY` of `<name>-state`,
and its liveness for the operator in the small `<name>-heartbeat` ConfigMap: one key per service
(`service_heartbeat_key`, e.g. `heartbeat.notify.json`), which only that service writes, holding
JSON with the three status fields (`LAST_POLL_KEY`: RFC 3339, UTC; `NOTIFICATIONS_SENT_KEY`: the
sends of the shared state as a decimal string; `LAST_ERROR_KEY`: empty once a later poll of that
service succeeded) and the service's own counters under `SERVICE_COUNTERS`; and holder-lease
renewals under `HOLDER_PREFIX`. The notify and approve services of one pod merge-patch the same
ConfigMap: with a key each, one's patch never replaces the other's values. The operator
(`syft_operator.status`, `.cache`) mirrors the newest poll, the highest send count and any
service's current error into the SyftMonitor status. Monitors before this layout wrote the three
status keys themselves and `HEARTBEAT_KEY` for all services together (last writer wins); both
sides still read them while no service key exists (an upgrade). Both sides import the names from
here, so renaming one renames it for both; this module imports nothing, so the operator gets the
names without the monitor's Kubernetes backend.
"""

from __future__ import annotations

#: The state document (JSON) in the state ConfigMap.
DATA_KEY = "state.json"
#: When the monitor's last poll ended, RFC 3339 in UTC (`2026-01-01T00:00:00Z`).
LAST_POLL_KEY = "lastPollTime"
#: How many notifications the monitor has sent, a decimal integer.
NOTIFICATIONS_SENT_KEY = "notificationsSent"
#: The error of the last poll while it is current, else empty; at most `MAX_ERROR_LENGTH` chars.
LAST_ERROR_KEY = "lastError"
#: The keys the operator mirrors into the SyftMonitor status, in status order.
STATUS_KEYS = (LAST_POLL_KEY, NOTIFICATIONS_SENT_KEY, LAST_ERROR_KEY)
MAX_ERROR_LENGTH = 500
#: Before per-service keys: every service's counters in one JSON value (read during an upgrade).
HEARTBEAT_KEY = "heartbeat.json"
#: In a service's heartbeat JSON: its own counters (the monitor's `Heartbeat` model), read back
#: when it restarts; the operator ignores them.
SERVICE_COUNTERS = "counters"
#: The service name of a monitor that names none.
DEFAULT_SERVICE = "monitor"
_SERVICE_PREFIX = "heartbeat."
_SERVICE_SUFFIX = ".json"
#: Service names are short (notify, approve, jobs, peers); the bound keeps keys valid.
_MAX_SERVICE_LENGTH = 63
#: `holder.<id>`: when a process holding send intents last renewed its lease.
HOLDER_PREFIX = "holder."
#: An idle monitor writes its heartbeat (and so `LAST_POLL_KEY`) at least this often, in
#: seconds; a send, a new or cleared error and counted events are written at the poll that saw
#: them. So `lastPollTime` of a monitor that polls is at most this plus one poll interval old:
#: the operator's status and anything judging staleness from it must allow that much.
HEARTBEAT_PERIOD = 600.0


def service_heartbeat_key(service: str) -> str:
    """`heartbeat.<service>.json`: the key only `service` writes (ConfigMap keys allow
    `[-._a-zA-Z0-9]`; a dot in the name would make the key ambiguous, so it becomes `_`)."""
    cleaned = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in service
    )
    return _SERVICE_PREFIX + (cleaned[:_MAX_SERVICE_LENGTH] or "_") + _SERVICE_SUFFIX


def heartbeat_service(key: str) -> str | None:
    """The service whose heartbeat `key` holds, or None for any other key (`HEARTBEAT_KEY`
    included)."""
    if not (key.startswith(_SERVICE_PREFIX) and key.endswith(_SERVICE_SUFFIX)):
        return None
    name = key[len(_SERVICE_PREFIX) : -len(_SERVICE_SUFFIX)]
    if not name or "." in name or len(name) > _MAX_SERVICE_LENGTH:
        return None
    return name
