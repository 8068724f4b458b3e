"""The monitor writes the keys the operator reads (issue 15, item 4): one round trip through the
test API server, from `ConfigMapStateManager.record_poll` to the status fields the operator
mirrors, with the heartbeat ConfigMap and (an operator older than it) with the state ConfigMap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from syft_monitors.runtime.ledger import Ledger
from syft_monitors.state import NotifiedRecord
from syft_monitors.state.configmap import ConfigMapStateManager
from syft_operator import names
from syft_operator.kube import KubeApi
from syft_operator.reconcile import mirror_monitor_status
from tests.kubeapi import KubeApiServer

MONITOR = "alice"
OWNER = {"metadata": {"name": MONITOR, "namespace": "default"}}


def configmap(kube_api: KubeApiServer, name: str) -> None:
    kube_api.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"},
        }
    )


@pytest.mark.parametrize("with_heartbeat_map", [True, False], ids=["heartbeat", "state-only"])
def test_the_operator_mirrors_what_the_monitor_writes(
    kube_client: Any, kube_api: KubeApiServer, with_heartbeat_map: bool
) -> None:
    configmap(kube_api, names.state_map_name(MONITOR))
    if with_heartbeat_map:
        configmap(kube_api, names.heartbeat_map_name(MONITOR))
    state = ConfigMapStateManager(
        names.state_map_name(MONITOR),
        "default",
        api_client=kube_client,
        heartbeat_name=names.heartbeat_map_name(MONITOR),
        max_staleness=0,
    )
    operator = KubeApi(kube_client)  # the operator's own client layer, sharing the connection
    when = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)

    state.record_poll(False, "Drive answered 503", now=when)
    assert mirror_monitor_status(operator, OWNER) == {
        "lastPollTime": "2026-03-04T05:06:07Z",
        "notificationsSent": 0,
        "lastError": "Drive answered 503",
    }

    Ledger(state).resolve_intents(
        {f"new_job:{n}:do": NotifiedRecord(sent_at=when.isoformat()) for n in "ab"}
    )
    state.record_poll(True, now=when + dt.timedelta(minutes=1))
    assert mirror_monitor_status(operator, OWNER) == {
        "lastPollTime": "2026-03-04T05:07:07Z",
        "notificationsSent": 2,
        # None removes the field from the status (a merge patch): the error is over.
        "lastError": None,
    }
    beat = kube_api.get_object("v1", "configmaps", "default", names.heartbeat_map_name(MONITOR))
    assert ("heartbeat.monitor.json" in ((beat or {}).get("data") or {})) is with_heartbeat_map
