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
from security.durable_counts import Lasting


@dataclass(frozen=True)
class Count:
    """A counter's value after a take, and the seconds its window has left."""

    value: int
    ttl_seconds: int

    def over(self, limit: int) -> bool:
        return self.value > limit


class WindowedCounters:
    """`lasting`: where counts taken with `lasting=True` are also kept, in MongoDB, and read
    back while Redis's data is young (security/durable_counts.py)."""

    def __init__(self, redis: Redis, lasting: Lasting | None = None) -> None:
        self._redis = redis
        self._lasting = lasting
        self._take = lua.register(redis, "counters/take")
        self._refund = lua.register(redis, "counters/refund")
        self._restore = lua.register(redis, "counters/restore")

    async def take(
        self, key: str, window_seconds: int, amount: int = 1, *, lasting: bool = False, copy: bool = True
    ) -> Count:
        """Count `amount` in `key`'s window (opened now if there is none). `copy=False`: a
        lasting count is restored as ever, but its MongoDB copy is left to `keep` (a count
        that may be refunded at once is written there only if it stands)."""
        lasting = lasting and self._lasting is not None
        if lasting:
            await self._restore_lost(key)
        value, ttl = await self._take(keys=[key], args=[window_seconds, amount])
        if lasting and copy:
            await self.keep(key, window_seconds, amount)
        return Count(int(value), max(int(ttl), 1))

    async def keep(self, key: str, window_seconds: int, amount: int = 1) -> None:
        """Add a count taken with `copy=False` to its MongoDB copy."""
        if self._lasting is not None:
            await self._lasting.counts.add(key, window_seconds, amount)

    async def refund(self, key: str, *, lasting: bool = False) -> None:
        await self._refund(keys=[key])
        if lasting and self._lasting is not None:
            await self._lasting.counts.add(key, 0, -1)

    async def _restore_lost(self, key: str) -> None:
        assert self._lasting is not None
        kept = (await self._lasting.lost([key])).get(key)
        if kept is not None:
            await self._restore(keys=[key], args=[kept.count, kept.window_end_ms])

    async def clear(self, key: str) -> None:
        """End `key`'s window: the next take opens a new one."""
        await self._redis.delete(key)

    async def peek(self, key: str, *, lasting: bool = False) -> Count:
        """The count so far (0 when its window is over), without counting."""
        if lasting and self._lasting is not None:
            await self._restore_lost(key)
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        value, ttl = await pipe.execute()
        return Count(int(value or 0), max(int(ttl), 1))
