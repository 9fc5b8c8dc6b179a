"""The durable copy of the counts (security/durable_counts.py) with MongoDB out of reach:
one call waits out the timeout, the next ones within the pause are not tried, so a
request that counts several times is not held for a timeout per count."""

from __future__ import annotations

import time
from typing import Any

from pymongo import AsyncMongoClient

from embedded import free_port
from security import clock
from security.durable_counts import OUTAGE_PAUSE_SECONDS, DurableCounts

SELECTION_MS = 300


async def test_after_a_failed_call_the_counts_leave_an_unreachable_mongodb_alone(monkeypatch):
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=SELECTION_MS
    )
    counts = DurableCounts(mongo["authql"]["security_counts"])
    try:
        started = time.monotonic()
        await counts.add("lockout:a", 3600)  # nothing listens: waits out the selection, then gives up
        assert time.monotonic() - started >= SELECTION_MS / 1000

        started = time.monotonic()
        for _ in range(5):
            await counts.add("lockout:a", 3600)
            assert await counts.read(["lockout:a"]) == {}
        assert time.monotonic() - started < SELECTION_MS / 1000

        later = clock.now() + OUTAGE_PAUSE_SECONDS
        monkeypatch.setattr(clock, "now", lambda: later)  # the pause is over
        started = time.monotonic()
        assert await counts.read(["lockout:a"]) == {}  # asked again: waits out the selection
        assert time.monotonic() - started >= SELECTION_MS / 1000
    finally:
        await mongo.close()
