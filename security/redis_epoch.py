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
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from security import clock

EPOCH_KEY = "authql:epoch"


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
            await self._redis.set(EPOCH_KEY, repr(now), nx=True)
            stored = await self._redis.get(EPOCH_KEY)
            self._since = float(stored) if stored is not None else now
            self._read_at = time.monotonic()
        return clock.now() - self._since < self._horizon
