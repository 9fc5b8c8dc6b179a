"""Whether Redis holds all it should, or lost its data recently (a restart without
persistence, FLUSHALL, eviction, a failover to an empty replica).

Redis keeps a marker, `authql:epoch`: the time its data began, written by the first
process to find it missing (SET NX) and never expiring. A Redis whose marker is younger
than the longest security window (`horizon_seconds`, a day: the wrong codes per address)
may have forgotten failures and quotas counted before it: while that is so, the lockout
and the per-address code quotas also ask MongoDB (security/durable_counts.py), where
every failure and mail is counted too. A deployment's very first day reads as young:
a few reads more, nothing refused.

The marker is read at most every `recheck_seconds` per process (and again at once when
security/redis_watch.py sees a new server): data lost in between shows within that bound.

A Redis Cluster can lose one shard's data alone (its primary restarted empty with no
replica to take over, a FLUSHALL on it): a single marker, on some other shard, would not
tell. So each primary holds a marker of its own, `authql:epoch:{<tag>}`, the tag the first
that hashes to a slot it serves, and Redis is young while any of them is. (A resharding
that gives a primary other slots gives it another marker too: young for a day, so a few
reads more, nothing refused.)
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right

from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from security import clock

EPOCH_KEY = "authql:epoch"
# How far to look for a tag per primary: a primary serving a single slot needs about 16384.
MOST_TAGS = 1_000_000


class RedisEpoch:
    def __init__(self, redis: Redis, *, horizon_seconds: float, recheck_seconds: float) -> None:
        self._redis = redis
        self._horizon = horizon_seconds
        self._recheck = recheck_seconds
        self._since: float | None = None  # when this Redis's data began (clock.now())
        self._read_at = 0.0  # time.monotonic() of the last read

    def forget(self) -> None:
        """A new Redis answers: read its marker on the next ask."""
        self._since = None

    async def young(self) -> bool:
        """True while Redis's data may be missing counts from within the horizon."""
        if self._since is None or time.monotonic() - self._read_at >= self._recheck:
            now = clock.now()
            began = await asyncio.gather(*(self._began(key, now) for key in await self.markers()))
            self._since = max(began)  # the shard whose data began last
            self._read_at = time.monotonic()
        return clock.now() - self._since < self._horizon

    async def _began(self, key: str, now: float) -> float:
        await self._redis.set(key, repr(now), nx=True)
        stored = await self._redis.get(key)
        return float(stored) if stored is not None else now

    async def markers(self) -> list[str]:
        """The marker keys: one on a single server, one per primary on a cluster."""
        if not isinstance(self._redis, RedisCluster):
            return [EPOCH_KEY]
        ranges = await self._redis.cluster_slots()
        return [f"{EPOCH_KEY}:{{{tag}}}" for tag in tags_per_primary(ranges)]


def tags_per_primary(ranges: dict[tuple[int, int], dict[str, object]]) -> list[str]:
    """For `CLUSTER SLOTS` as redis-py reads it ({(first, last): {"primary": address}}),
    the first of "0", "1", "2"... hashing to a slot of each primary: stable while the
    slots stay where they are, whichever process asks."""
    spans = sorted((first, last, str(at["primary"])) for (first, last), at in ranges.items())
    starts = [first for first, _, _ in spans]
    owners = {owner for _, _, owner in spans}
    found: dict[str, str] = {}
    for number in range(MOST_TAGS):
        if len(found) == len(owners):
            break
        slot = key_slot(str(number).encode())
        first, last, owner = spans[max(0, bisect_right(starts, slot) - 1)]
        if first <= slot <= last:
            found.setdefault(owner, str(number))
    return sorted(found.values(), key=int)
