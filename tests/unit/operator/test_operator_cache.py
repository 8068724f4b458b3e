"""The watch cache's Secrets: those a SyftMonitor names are kept; the others only for
`RECENT_SECRET_TTL` seconds after their last watch event (a Secret applied together with the
SyftMonitor naming it arrives first: its first reconcile then needs no GET)."""

from __future__ import annotations

from typing import Any

from syft_operator.cache import RECENT_SECRET_TTL, ObjectCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def secret(name: str, value: str = "dG9rZW4=") -> dict[str, Any]:
    return {
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ns", "managedFields": [{"manager": "x"}]},
        "data": {"token.json": value},
    }


def test_an_unnamed_secret_is_known_for_a_while_then_forgotten() -> None:
    clock = Clock()
    cache = ObjectCache(keep_secret=lambda _ns, _name: False, clock=clock)
    cache.observe(secret("a"))
    clock.now += RECENT_SECRET_TTL - 1
    known, found = cache.lookup(("Secret", "ns", "a"))
    assert known
    assert found is not None
    assert found["data"] == {"token.json": "dG9rZW4="}
    assert "managedFields" not in found["metadata"]
    cache.observe(secret("b"))
    clock.now += 2
    # `a` was asked for (named): kept now; `b` was not, and its time is up too, later.
    clock.now += RECENT_SECRET_TTL
    cache.observe(secret("c"))  # any event expires what is due
    assert cache.lookup(("Secret", "ns", "a"))[0]
    assert cache.lookup(("Secret", "ns", "b")) == (False, None)


def test_a_newer_event_or_a_deletion_replaces_the_recent_copy() -> None:
    clock = Clock()
    cache = ObjectCache(keep_secret=lambda _ns, _name: False, clock=clock)
    cache.observe(secret("a", "b2xk"))
    cache.observe(secret("a", "bmV3"))
    found = cache.lookup(("Secret", "ns", "a"))[1]
    assert found is not None
    assert found["data"] == {"token.json": "bmV3"}
    cache.observe(secret("z"))
    cache.observe(secret("z"), deleted=True)
    assert cache.lookup(("Secret", "ns", "z")) == (True, None)  # known absent


def test_a_named_secret_is_kept() -> None:
    clock = Clock()
    cache = ObjectCache(keep_secret=lambda _ns, name: name == "named", clock=clock)
    cache.observe(secret("named"))
    clock.now += 10 * RECENT_SECRET_TTL
    assert cache.lookup(("Secret", "ns", "named"))[0]
    assert len(cache) == 1
