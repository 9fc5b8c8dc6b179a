"""Counts kept in MongoDB beside their Redis copy, for what must not reset because
Redis lost its data: the lockout's failures and the per-address code quotas.

Redis stays the one that decides (its scripts count, lock and refuse atomically); each
count is also added here, one write per counted failure or mail (never on the signed-in
path, never for a success). Only while Redis's data is young (security/redis_epoch.py)
do the lockout and the quotas read these back and raise Redis's counts to them before
they decide, so a Redis restarted empty mid-lockout gives no fresh guesses.

MongoDB out of reach does not stop Redis's decision: the copy is best effort (a warning
in the log), as it matters only when both stores fail, one losing its data. Once a call
has failed, the next counts and reads within OUTAGE_PAUSE_SECONDS are not tried: each would
wait out the same timeout inside the request that counts (a refused code start counts
three times).

A document per Redis key: `_id` the key, `count`, `window_end_ms` (when the window the
count belongs to closes) and `last_at_ms` (the last count, from which a lock runs), in
milliseconds of Unix time, as Redis's scripts take them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from security import clock
from security.redis_epoch import RedisEpoch

logger = logging.getLogger("authql")


@dataclass(frozen=True)
class DurableCount:
    count: int
    window_end_ms: int
    last_at_ms: int


# How long the counts leave MongoDB alone after a call to it failed.
OUTAGE_PAUSE_SECONDS = 5.0


class DurableCounts:
    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self._collection = collection
        self._paused_until = 0.0  # clock.now() before which MongoDB is not asked

    def _paused(self) -> bool:
        return clock.now() < self._paused_until

    def _failed(self) -> None:
        self._paused_until = clock.now() + OUTAGE_PAUSE_SECONDS

    async def add(self, key: str, window_seconds: float, amount: int = 1) -> None:
        if self._paused():
            return
        try:
            await self._add(key, window_seconds, amount)
        except PyMongoError as error:
            self._failed()
            logger.warning("durable count not kept (%s): Redis's alone stands", type(error).__name__)

    async def _add(self, key: str, window_seconds: float, amount: int) -> None:
        """Count `amount` in `key`'s window, opened now if it has closed. Two writers that
        both reopen a closed window at once may lose one count: Redis's own stays exact.

        One round trip for a key counted before in an open window or never counted (the
        upsert makes it), two or three for one whose window has closed (the upsert meets
        the key's old document: a duplicate key)."""
        now = clock.now_ms()
        open_window = {"_id": key, "window_end_ms": {"$gt": now}}
        count = {"$inc": {"count": amount}, "$set": {"last_at_ms": now}}
        if amount > 0:
            try:
                await self._collection.update_one(
                    open_window,
                    {**count, "$setOnInsert": {"window_end_ms": now + int(window_seconds * 1000)}},
                    upsert=True,
                )
                return
            except DuplicateKeyError:
                pass  # the key's window has closed (or another writer just opened it)
        counted = await self._collection.update_one(open_window, count)
        if counted.matched_count == 0 and amount > 0:
            window_end = now + int(window_seconds * 1000)
            await self._collection.update_one(
                {"_id": key},
                {"$set": {"count": amount, "window_end_ms": window_end, "last_at_ms": now}},
                upsert=True,
            )

    async def clear(self, keys: list[str]) -> None:
        """Always tried: a count left behind would come back when Redis is next young."""
        try:
            await self._collection.delete_many({"_id": {"$in": keys}})
        except PyMongoError as error:
            self._failed()
            logger.warning("durable count not cleared (%s)", type(error).__name__)

    async def read(self, keys: list[str]) -> dict[str, DurableCount]:
        """The counts of `keys` whose windows are still open (none when MongoDB is out of reach)."""
        if self._paused():
            return {}
        try:
            return await self._read(keys)
        except PyMongoError as error:
            self._failed()
            logger.warning("durable counts not read (%s): Redis's alone decide", type(error).__name__)
            return {}

    async def _read(self, keys: list[str]) -> dict[str, DurableCount]:
        now = clock.now_ms()
        found: dict[str, DurableCount] = {}
        async for document in self._collection.find({"_id": {"$in": keys}}):
            if int(document["window_end_ms"]) > now and int(document.get("count", 0)) > 0:
                found[document["_id"]] = DurableCount(
                    int(document["count"]), int(document["window_end_ms"]), int(document["last_at_ms"])
                )
        return found


@dataclass(frozen=True)
class Lasting:
    """The durable copy and the epoch that says when to read it, handed to whatever
    keeps counts that must survive Redis losing its data."""

    counts: DurableCounts
    epoch: RedisEpoch

    async def lost(self, keys: list[str]) -> dict[str, DurableCount]:
        """MongoDB's counts of `keys`, when Redis may have lost them; else nothing."""
        if not await self.epoch.young():
            return {}
        return await self.counts.read(keys)
