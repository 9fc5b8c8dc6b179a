"""The client buckets (an IPv4 address or an IPv6 prefix) an account has signed in from,
so a sign-in by emailed code from a new one can be told to the owner.

One small Redis set per account, of keyed digests (never the addresses themselves), kept
90 days after the last sign-in and at most MOST_CLIENTS long (a random one goes first)."""

from __future__ import annotations

import hashlib
import hmac

from redis.asyncio import Redis

KEEP_SECONDS = 90 * 86_400
MOST_CLIENTS = 32


class KnownClients:
    def __init__(self, redis: Redis, *, key: bytes) -> None:
        """`key`: the data-key ring's "authql known clients" key (services.py)."""
        self._redis = redis
        self._key = key

    async def remember(self, user_id: str, client: str) -> bool:
        """Note a sign-in of `user_id` from `client`; True when the account had not signed in from it."""
        digest = hmac.new(self._key, client.encode(), hashlib.sha256).hexdigest()[:32]
        key = f"known-clients:{{{user_id}}}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.sadd(key, digest)
        pipe.scard(key)
        pipe.expire(key, KEEP_SECONDS)
        added, size, _ = await pipe.execute()
        if size > MOST_CLIENTS:
            await self._redis.spop(key, size - MOST_CLIENTS)
            await self._redis.sadd(key, digest)
        return bool(added)
