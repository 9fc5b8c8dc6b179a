"""Progressive password lockout per (normalised email, client), under a ceiling per email,
whether or not the address has an account.

Per (address, client bucket): after `threshold` consecutive failures that client is locked
out of the address for a minute, and each further failure doubles the lock, up to 15
minutes; a success clears it, and the count fades 12 hours after the last failure. One
client's wrong passwords therefore never lock the owner's other clients out.

Per address, from every client together: past `address_threshold` failures within an
hour (the window opens with its first failure) the address itself locks the same way (a
minute, doubling with each further failure, at most 15 minutes), for every client. That is
the bound on guessing from many IPs: about `address_threshold` + 4 guesses an hour,
whatever the number of IPs. One client alone cannot reach it: its own lock lets it guess
at most `threshold` + 6 times in any hour (5 at once, then at 1, 3, 7, 15, 30 and 45
minutes) and 4 times an hour after that; an `address_threshold` below `threshold` + 7
is raised to it.

Login, the password change and the account deletion all count into it.

Each attempt takes an in-flight slot *before* the password is checked, in one Redis
script: a slot is free only while failures + attempts in flight < threshold at both levels
(one at a time once a lock has run out). Parallel or aliased guesses therefore verify at
most `threshold` passwords before the client's lock (no oracle while locked), yet a burst
of correct logins is never refused: an attempt that finds no free slot waits briefly for
one of the attempts in flight to finish, in its client's line (first come, first served).
A failure turns its slot into a failure; a success clears the client's failures. Slots
expire by themselves (sorted sets scored by deadline, pruned by the script), so a process
that dies mid-verify frees its slot; so do places in line, a few seconds after a waiter
would have given up. Every deadline is in Redis's own clock (`TIME`), so app hosts whose
clocks disagree never prune each other's slots.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from redis.asyncio import Redis

from security import lua
from security.durable_counts import DurableCounts
from security.passwords import hash_started
from security.redis_epoch import RedisEpoch

T = TypeVar("T")

BASE_LOCK_MS = 60_000
MAX_LOCK_MS = 15 * 60_000
FAILURES_TTL_MS = 12 * 3600_000
# An attempt in flight holds its slot at most this long (a verify waits in the hash queue).
SLOT_TTL_MS = 30_000
# How long an attempt waits for a free slot before it is refused, and how often it asks:
# first after 5 ms, then twice as long each time up to 100 ms (about 55 asks in 5 s).
WAIT_FOR_SLOT_SECONDS = 5.0
FIRST_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.1

GRANTED, LOCKED, BUSY = 0, 1, 2
ADDRESS_WINDOW_MS = 3600_000

# The scripts (security/lua/lockout/*.lua) take KEYS the client's failures hash, in-flight
# sorted set and waiting line, then the address's failures hash and in-flight sorted set.


@dataclass(frozen=True)
class Checked(Generic[T]):
    """What a guarded check came to.

    `refused_for`: seconds to wait; the check did not run (locked, or no slot came free).
    `value`: what the check answered (falsy: a failure, counted).
    `locked`: this failure locked the client out of the address; `address_locked`: it
    locked the address for every client."""

    refused_for: int | None = None
    value: T | None = None
    locked: bool = False
    address_locked: bool = False


class LoginLockout:
    def __init__(
        self,
        redis: Redis,
        *,
        key: bytes,
        threshold: int,
        address_threshold: int,
        durable: DurableCounts | None = None,
        epoch: RedisEpoch | None = None,
    ) -> None:
        """`key`: the data-key ring's "authql login lockout" key (services.py), which the
        addresses in Redis key names are digested under. With `durable` and `epoch`,
        every failure is counted in MongoDB too, and read back while Redis's data is young
        (see security/durable_counts.py): a Redis restarted empty gives no fresh guesses."""
        self._redis = redis
        self._durable = durable
        self._epoch = epoch
        self._key = key
        self._threshold = threshold
        self._address_threshold = max(address_threshold, threshold + 7)
        self._acquire = lua.register(redis, "lockout/acquire")
        self._failed = lua.register(redis, "lockout/failed")
        self._succeeded = lua.register(redis, "lockout/succeeded")
        self._renew = lua.register(redis, "lockout/renew")
        self._restore = lua.register(redis, "lockout/restore")
        self._renewals: set[asyncio.Future[object]] = set()  # held until done (asyncio keeps weak refs)

    async def check(
        self, email: str, check: Callable[[], Awaitable[T | None]], *, client: str | None = None
    ) -> Checked[T]:
        """Run `check` (a password verify) for `email` from `client` (its bucket) inside the lockout.

        A truthy answer is a success and clears the client's failures; a falsy one is a
        failure. If `check` raises, its slot is freed without counting (it proved nothing).
        Without a client, every such check of the address shares one client's count."""
        keys = self._redis_keys(email, client)
        await self._restore_lost(keys)
        slot = secrets.token_hex(8)
        refused_for = await self._take_slot(keys, slot)
        if refused_for is not None:
            return Checked(refused_for=refused_for)
        settled = False
        renewing = hash_started.set(lambda: self._renew_slot(keys, slot))
        try:
            value = await check()
            settled = True
            if value:
                if int(await self._succeeded(keys=keys, args=[slot])) and self._durable is not None:
                    await self._durable.clear([keys[0]])
                return Checked(value=value)
            locks = int(
                await self._failed(
                    keys=keys,
                    args=[
                        self._threshold,
                        slot,
                        BASE_LOCK_MS,
                        MAX_LOCK_MS,
                        FAILURES_TTL_MS,
                        self._address_threshold,
                        ADDRESS_WINDOW_MS,
                    ],
                )
            )
            if self._durable is not None:
                await self._durable.add(keys[0], FAILURES_TTL_MS / 1000)
                await self._durable.add(keys[3], ADDRESS_WINDOW_MS / 1000)
            return Checked(value=value, locked=locks > 0, address_locked=locks == 2)
        finally:
            hash_started.reset(renewing)
            if not settled:
                await asyncio.shield(self._free_slot(keys, slot))

    def _renew_slot(self, keys: list[str], slot: str) -> None:
        """The slot's hash just left the queue: its deadline runs from now, so a long wait
        for a hashing thread does not free the slot while its verify runs (more than the
        threshold's guesses in parallel). A renewal that fails leaves the deadline as it was."""
        renewal = asyncio.ensure_future(self._renew(keys=[keys[1], keys[4]], args=[slot, SLOT_TTL_MS]))
        self._renewals.add(renewal)
        renewal.add_done_callback(
            lambda done: self._renewals.discard(done) or done.cancelled() or done.exception()
        )

    async def clear(self, email: str, client: str | None = None) -> None:
        """Forget the address's failures and lock and `client`'s (the password was just reset
        by emailed code from it); other clients' locks stay."""
        keys = self._redis_keys(email, client)
        await self._redis.delete(keys[0], keys[3])
        if self._durable is not None:
            await self._durable.clear([keys[0], keys[3]])

    async def _restore_lost(self, keys: list[str]) -> None:
        """While Redis's data is young, raise its counts to MongoDB's (and their locks)."""
        if self._durable is None or self._epoch is None or not await self._epoch.young():
            return
        found = await self._durable.read([keys[0], keys[3]])
        if not found:
            return
        args: list[int] = []
        for key, threshold in ((keys[0], self._threshold), (keys[3], self._address_threshold)):
            count = found.get(key)
            if count is None:
                args += [0, 0, 0, threshold]
            else:
                args += [count.count, count.last_at_ms, count.window_end_ms, threshold]
        await self._restore(keys=[keys[0], keys[3]], args=[*args, BASE_LOCK_MS, MAX_LOCK_MS])

    async def _free_slot(self, keys: list[str], slot: str) -> None:
        await self._redis.zrem(keys[1], slot)
        await self._redis.zrem(keys[4], slot)

    async def _take_slot(self, keys: list[str], slot: str) -> int | None:
        """None once a slot is ours; else the seconds the caller should wait."""
        deadline = time.monotonic() + WAIT_FOR_SLOT_SECONDS
        place_ms = int((WAIT_FOR_SLOT_SECONDS + MAX_POLL_SECONDS) * 1000) + 1000
        pause = FIRST_POLL_SECONDS
        in_line = False  # in the waiting line: leave it when giving up (the script does otherwise)
        try:
            while True:
                status, locked_ms = await self._acquire(
                    keys=keys, args=[self._threshold, slot, SLOT_TTL_MS, place_ms, self._address_threshold]
                )
                in_line = int(status) == BUSY
                if int(status) == GRANTED:
                    return None
                if int(status) == LOCKED:
                    return max(math.ceil(int(locked_ms) / 1000), 1)
                if time.monotonic() >= deadline:
                    return 1
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_POLL_SECONDS)
        finally:
            if in_line:
                await asyncio.shield(self._redis.zrem(keys[2], slot))

    def _redis_keys(self, email: str, client: str | None) -> list[str]:
        """The client's failures, in-flight slots and line, then the address's failures and
        in-flight slots: one hash tag, the address's digest."""
        digest = hmac.new(self._key, email.encode(), hashlib.sha256).hexdigest()[:32]
        base = f"lockout:{{{digest}}}"
        own = f"{base}:client:{client or 'unknown'}"
        return [own, f"{own}:inflight", f"{own}:waiting", base, f"{base}:inflight"]
