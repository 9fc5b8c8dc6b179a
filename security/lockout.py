"""Progressive login lockout per normalised email, whether or not it has an account.

After `threshold` consecutive failures the address is locked for a minute, and each
further failure doubles the lock, up to 15 minutes; a success clears it, and the
count fades 12 hours after the last failure. Each attempt is counted *before* the
password is checked, in one Redis script, so twenty aliased guesses in one request
cannot all slip through before the first failure is recorded: exactly `threshold`
of them are verified, the rest are refused unverified (no oracle while locked).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

BASE_LOCK_MS = 60_000
MAX_LOCK_MS = 15 * 60_000
FAILURES_TTL_MS = 12 * 3600_000

# KEYS[1]; ARGV: now ms, threshold, base lock ms, max lock ms, ttl ms.
# Returns {ms still locked, 1 if this attempt locks the address unless it succeeds}.
ATTEMPT_SCRIPT = """
local now = tonumber(ARGV[1])
local locked = tonumber(redis.call('HGET', KEYS[1], 'locked_until_ms') or '0')
if locked > now then return {locked - now, 0} end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local threshold = tonumber(ARGV[2])
local locks = 0
if failures >= threshold then
  local lock = math.min(tonumber(ARGV[3]) * 2 ^ (failures - threshold), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'locked_until_ms', math.floor(now + lock))
  locks = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {0, locks}
"""


@dataclass(frozen=True)
class Attempt:
    """`refused_for`: seconds the address stays locked (the attempt may not go ahead).
    `locks_on_failure`: this attempt, if it fails, is the one that locks the address."""

    refused_for: int | None
    locks_on_failure: bool


class LoginLockout:
    def __init__(self, redis: Redis, *, secret: bytes, threshold: int) -> None:
        self._redis = redis
        self._key = hmac.new(secret, b"authql login lockout", hashlib.sha256).digest()
        self._threshold = threshold
        self._attempt = redis.register_script(ATTEMPT_SCRIPT)

    async def attempt(self, email: str) -> Attempt:
        """Count an attempt as a failure until it succeeds."""
        locked_ms, locks = await self._attempt(
            keys=[self._redis_key(email)],
            args=[int(time.time() * 1000), self._threshold, BASE_LOCK_MS, MAX_LOCK_MS, FAILURES_TTL_MS],
        )
        refused_for = math.ceil(int(locked_ms) / 1000) if int(locked_ms) > 0 else None
        return Attempt(refused_for=refused_for, locks_on_failure=bool(int(locks)))

    async def succeeded(self, email: str) -> None:
        await self._redis.delete(self._redis_key(email))

    def _redis_key(self, email: str) -> str:
        digest = hmac.new(self._key, email.encode(), hashlib.sha256).hexdigest()[:32]
        return f"lockout:{{{digest}}}"
