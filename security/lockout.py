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

from security.passwords import hash_started

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

# Every script: KEYS the client's failures hash, in-flight sorted set and waiting line, then
# the address's failures hash and in-flight sorted set (one hash tag: one Cluster slot).
# `now` is Redis's clock.
NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

# ARGV: threshold, slot id, slot ttl ms, how long a waiter keeps its place without giving
# up (ms), address threshold.
# Returns {GRANTED, 0} | {LOCKED, ms still locked} | {BUSY, 0}.
# Waiters are served in the order they first asked: a slot that comes free goes to the
# client's longest waiting attempt, never to one that just arrived (a client logging in
# again and again on its connection would otherwise take every freed slot, and the
# attempts waiting beside it would be refused after WAIT_FOR_SLOT_SECONDS with the right
# password). The line is the client's: another client's waiters never hold it up.
ACQUIRE_SCRIPT = (
    NOW
    + """
local locked = math.max(
  tonumber(redis.call('HGET', KEYS[1], 'locked_until_ms') or '0'),
  tonumber(redis.call('HGET', KEYS[4], 'locked_until_ms') or '0'))
if locked > now then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return {1, locked - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]))
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local free = math.max(tonumber(ARGV[1]) - failures, 1) - redis.call('ZCARD', KEYS[2])
local address_failures = 0
if tonumber(redis.call('HGET', KEYS[4], 'window_until_ms') or '0') > now then
  address_failures = tonumber(redis.call('HGET', KEYS[4], 'failures') or '0')
end
local address_free = math.max(tonumber(ARGV[5]) - address_failures, 1) - redis.call('ZCARD', KEYS[5])
local place = redis.call('ZRANK', KEYS[3], ARGV[2])
if not place then place = redis.call('ZCARD', KEYS[3]) end
if place >= free or address_free <= 0 then
  redis.call('ZADD', KEYS[3], 'NX', now, ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  return {2, 0}
end
redis.call('ZREM', KEYS[3], ARGV[2])
local deadline = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], deadline, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[5], deadline, ARGV[2])
redis.call('PEXPIRE', KEYS[5], ARGV[3])
return {0, 0}
"""
)

# ARGV: threshold, slot id, base lock ms, max lock ms, failures ttl ms, address threshold,
# address window ms. Returns 0, or 1 if this failure locks the client, 2 the address.
FAILED_SCRIPT = (
    NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
local function lock(key, failures, threshold)
  local ms = math.min(tonumber(ARGV[3]) * 2 ^ (failures - threshold), tonumber(ARGV[4]))
  redis.call('HSET', key, 'locked_until_ms', string.format('%d', now + ms))
end
local locks = 0
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[1]) then
  lock(KEYS[1], failures, tonumber(ARGV[1]))
  locks = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if tonumber(redis.call('HGET', KEYS[4], 'window_until_ms') or '0') <= now then
  redis.call('HSET', KEYS[4], 'failures', 0, 'window_until_ms', string.format('%d', now + tonumber(ARGV[7])))
end
local address_failures = redis.call('HINCRBY', KEYS[4], 'failures', 1)
if address_failures >= tonumber(ARGV[6]) then
  lock(KEYS[4], address_failures, tonumber(ARGV[6]))
  locks = 2
end
redis.call('PEXPIRE', KEYS[4], math.max(tonumber(ARGV[7]), tonumber(ARGV[4])))
return locks
"""
)

# ARGV: slot id. The client's failures and lock go; the address's count stays (it is
# everyone's); other slots stay in flight.
# KEYS the client's and the address's in-flight sorted sets; ARGV slot id, slot ttl ms.
RENEW_SCRIPT = (
    NOW
    + """
for _, slots in ipairs(KEYS) do
  if redis.call('ZADD', slots, 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) > 0 then
    redis.call('PEXPIRE', slots, ARGV[2])
  end
end
"""
)

SUCCEEDED_SCRIPT = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('DEL', KEYS[1])
return 0
"""


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
    def __init__(self, redis: Redis, *, secret: bytes, threshold: int, address_threshold: int) -> None:
        self._redis = redis
        self._key = hmac.new(secret, b"authql login lockout", hashlib.sha256).digest()
        self._threshold = threshold
        self._address_threshold = max(address_threshold, threshold + 7)
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._failed = redis.register_script(FAILED_SCRIPT)
        self._succeeded = redis.register_script(SUCCEEDED_SCRIPT)
        self._renew = redis.register_script(RENEW_SCRIPT)
        self._renewals: set[asyncio.Future[object]] = set()  # held until done (asyncio keeps weak refs)

    async def check(
        self, email: str, check: Callable[[], Awaitable[T | None]], *, client: str | None = None
    ) -> Checked[T]:
        """Run `check` (a password verify) for `email` from `client` (its bucket) inside the lockout.

        A truthy answer is a success and clears the client's failures; a falsy one is a
        failure. If `check` raises, its slot is freed without counting (it proved nothing).
        Without a client, every such check of the address shares one client's count."""
        keys = self._redis_keys(email, client)
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
                await self._succeeded(keys=keys, args=[slot])
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
