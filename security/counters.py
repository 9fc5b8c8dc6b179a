"""One windowed counter on Redis, for every budget that counts events in a fixed window
(mails per hour, wrong codes per day, codes tried at a TOTP enrolment): count first, then
compare, and give the count back when what it paid for did not happen.

Counting before comparing makes parallel requests all count: N requests racing past a
limit of L are never more than L granted. Each counter is one key and every command names
one key, so the counters work on Redis Cluster; the window starts with the first count
(`INCR`, then `EXPIRE` on a new key), in Redis's own clock.

Two counts are not on it, as their scripts do more than count: the login lockout's
failures (security/lockout.py: counted, locked and the slot freed in one script, which
its slot script reads with the attempts in flight) and the second-factor budget
(security/two_factor.py: windows that double once used up, under a daily cap, checked
and counted together in one script)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from security import lua


@dataclass(frozen=True)
class Count:
    """A counter's value after a take, and the seconds its window has left."""

    value: int
    ttl_seconds: int

    def over(self, limit: int) -> bool:
        return self.value > limit


class WindowedCounters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._take = lua.register(redis, "counters/take")
        self._refund = lua.register(redis, "counters/refund")

    async def take(self, key: str, window_seconds: int, amount: int = 1) -> Count:
        """Count `amount` in `key`'s window (opened now if there is none)."""
        value, ttl = await self._take(keys=[key], args=[window_seconds, amount])
        return Count(int(value), max(int(ttl), 1))

    async def refund(self, key: str) -> None:
        await self._refund(keys=[key])

    async def clear(self, key: str) -> None:
        """End `key`'s window: the next take opens a new one."""
        await self._redis.delete(key)

    async def peek(self, key: str) -> Count:
        """The count so far (0 when its window is over), without counting."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        value, ttl = await pipe.execute()
        return Count(int(value or 0), max(int(ttl), 1))
