"""The ConfigMap keys the monitor writes and the operator reads: the contract between the two.

The monitor (`state.configmap`) stores its state document under `DATA_KEY` of `<name>-state`,
and its liveness for the operator in the small `<name>-heartbeat` ConfigMap: `LAST_POLL_KEY`
(RFC 3339, UTC), `NOTIFICATIONS_SENT_KEY` (an integer as a string), `LAST_ERROR_KEY` (empty once
a later poll succeeded), its own counters under `HEARTBEAT_KEY` and holder-lease renewals under
`HOLDER_PREFIX`. The operator (`syft_operator.status`, `.cache`) mirrors the three status keys
into the SyftMonitor status. Both sides import the names from here, so renaming one renames it
for both; this module imports nothing, so the operator gets the names without the monitor's
Kubernetes backend.
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
#: The monitor's own liveness counters (JSON), read back when it restarts.
HEARTBEAT_KEY = "heartbeat.json"
#: `holder.<id>`: when a process holding send intents last renewed its lease.
HOLDER_PREFIX = "holder."
#: An idle monitor writes its heartbeat (and so `LAST_POLL_KEY`) at least this often, in
#: seconds; a send, a new or cleared error and counted events are written at the poll that saw
#: them. So `lastPollTime` of a monitor that polls is at most this plus one poll interval old:
#: the operator's status and anything judging staleness from it must allow that much.
HEARTBEAT_PERIOD = 600.0
