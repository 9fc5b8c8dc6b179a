"""Progressive password lockout per normalised email, whether or not it has an account.

After `threshold` consecutive failures the address is locked for a minute, and each
further failure doubles the lock, up to 15 minutes; a success clears it, and the
count fades 12 hours after the last failure. Login, the password change and the
account deletion all count into it.

Each attempt takes an in-flight slot *before* the password is checked, in one Redis
script: a slot is free only while failures + attempts in flight < threshold (one at a
time once a lock has run out). Parallel or aliased guesses therefore verify at most
`threshold` passwords before the lock (no oracle while locked), yet a burst of
correct logins is never refused: an attempt that finds no free slot waits briefly
for one of the attempts in flight to finish, in line (first come, first served). A
failure turns its slot into a failure; a success clears the failures. Slots expire by
themselves (a sorted set scored by deadline, pruned by the script), so a process that
dies mid-verify frees its slot; so do places in line, a few seconds after a waiter
would have given up.
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

# KEYS: the failures hash, the in-flight sorted set, the waiting line (one hash tag: one
# Cluster slot). ARGV: now ms, threshold, slot id, slot deadline ms, slot ttl ms, how long
# a waiter keeps its place without giving up (ms).
# Returns {GRANTED, 0} | {LOCKED, ms still locked} | {BUSY, 0}.
# Waiters are served in the order they first asked: a slot that comes free goes to the
# longest waiting attempt, never to one that just arrived (a client logging in again and
# again on its connection would otherwise take every freed slot, and the attempts waiting
# beside it would be refused after WAIT_FOR_SLOT_SECONDS with the right password).
ACQUIRE_SCRIPT = """
local now = tonumber(ARGV[1])
local locked = tonumber(redis.call('HGET', KEYS[1], 'locked_until_ms') or '0')
if locked > now then
  redis.call('ZREM', KEYS[3], ARGV[3])
  return {1, locked - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[6]))
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local free = math.max(tonumber(ARGV[2]) - failures, 1) - redis.call('ZCARD', KEYS[2])
local place = redis.call('ZRANK', KEYS[3], ARGV[3])
if not place then place = redis.call('ZCARD', KEYS[3]) end
if place >= free then
  redis.call('ZADD', KEYS[3], 'NX', now, ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
  return {2, 0}
end
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {0, 0}
"""

# KEYS as above. ARGV: now ms, threshold, slot id, base lock ms, max lock ms, failures ttl ms.
# Returns 1 if this failure locks the address.
FAILED_SCRIPT = """
local now = tonumber(ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[3])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local threshold = tonumber(ARGV[2])
local locks = 0
if failures >= threshold then
  local lock = math.min(tonumber(ARGV[4]) * 2 ^ (failures - threshold), tonumber(ARGV[5]))
  redis.call('HSET', KEYS[1], 'locked_until_ms', math.floor(now + lock))
  locks = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return locks
"""

# KEYS as above. ARGV: slot id. The failures and any lock go; other slots stay in flight.
SUCCEEDED_SCRIPT = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 0
"""


@dataclass(frozen=True)
class Checked(Generic[T]):
    """What a guarded check came to.

    `refused_for`: seconds to wait; the check did not run (locked, or no slot came free).
    `value`: what the check answered (falsy: a failure, counted).
    `locked`: this failure locked the address."""

    refused_for: int | None = None
    value: T | None = None
    locked: bool = False


class LoginLockout:
    def __init__(self, redis: Redis, *, secret: bytes, threshold: int) -> None:
        self._redis = redis
        self._key = hmac.new(secret, b"authql login lockout", hashlib.sha256).digest()
        self._threshold = threshold
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._failed = redis.register_script(FAILED_SCRIPT)
        self._succeeded = redis.register_script(SUCCEEDED_SCRIPT)
        self._renewals: set[asyncio.Future[object]] = set()  # held until done (asyncio keeps weak refs)

    async def check(self, email: str, check: Callable[[], Awaitable[T | None]]) -> Checked[T]:
        """Run `check` (a password verify) for `email` inside the lockout.

        A truthy answer is a success and clears the failures; a falsy one is a failure.
        If `check` raises, its slot is freed without counting (it proved nothing)."""
        keys = self._redis_keys(email)
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
            locks = await self._failed(
                keys=keys,
                args=[_now_ms(), self._threshold, slot, BASE_LOCK_MS, MAX_LOCK_MS, FAILURES_TTL_MS],
            )
            return Checked(value=value, locked=bool(int(locks)))
        finally:
            hash_started.reset(renewing)
            if not settled:
                await asyncio.shield(self._redis.zrem(keys[1], slot))

    def _renew_slot(self, keys: list[str], slot: str) -> None:
        """The slot's hash just left the queue: its deadline runs from now, so a long wait
        for a hashing thread does not free the slot while its verify runs (more than the
        threshold's guesses in parallel). A renewal that fails leaves the deadline as it was."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(keys[1], {slot: _now_ms() + SLOT_TTL_MS}, xx=True)
        pipe.pexpire(keys[1], SLOT_TTL_MS)
        renewal = asyncio.ensure_future(pipe.execute())
        self._renewals.add(renewal)
        renewal.add_done_callback(
            lambda done: self._renewals.discard(done) or done.cancelled() or done.exception()
        )

    async def clear(self, email: str) -> None:
        """Forget the failures and any lock (the password was just reset by emailed code)."""
        await self._redis.delete(self._redis_keys(email)[0])

    async def _take_slot(self, keys: list[str], slot: str) -> int | None:
        """None once a slot is ours; else the seconds the caller should wait."""
        deadline = time.monotonic() + WAIT_FOR_SLOT_SECONDS
        place_ms = int((WAIT_FOR_SLOT_SECONDS + MAX_POLL_SECONDS) * 1000) + 1000
        pause = FIRST_POLL_SECONDS
        in_line = False  # in the waiting line: leave it when giving up (the script does otherwise)
        try:
            while True:
                now = _now_ms()
                status, locked_ms = await self._acquire(
                    keys=keys, args=[now, self._threshold, slot, now + SLOT_TTL_MS, SLOT_TTL_MS, place_ms]
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

    def _redis_keys(self, email: str) -> list[str]:
        digest = hmac.new(self._key, email.encode(), hashlib.sha256).hexdigest()[:32]
        return [f"lockout:{{{digest}}}", f"lockout:{{{digest}}}:inflight", f"lockout:{{{digest}}}:waiting"]


def _now_ms() -> int:
    return int(time.time() * 1000)
