"""Per client IP and operation rate limits, kept in Redis by the `limits` library.

Each GraphQL operation is counted, not each HTTP request: twenty aliased logins in
one request are twenty logins. The moving window gives an exact retry-after.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis


class RateLimits:
    def __init__(self, redis: Redis, limits: dict[str, str]) -> None:
        # The app's own connection pool: same timeouts, no second set of sockets.
        storage = RedisStorage(
            "async+redis://", implementation="redispy", connection_pool=redis.connection_pool
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {
            operation: parse(limit) for operation, limit in limits.items()
        }

    async def hit(self, operation: str, client_bucket: str) -> int | None:
        """Count one `operation` by `client_bucket` (`security.client_ip.client_bucket`: an
        IPv4 address or an IPv6 prefix): None if allowed, else seconds to wait."""
        item = self._items[operation]
        if await self._limiter.hit(item, "authql", operation, client_bucket):
            return None
        stats = await self._limiter.get_window_stats(item, "authql", operation, client_bucket)
        return max(1, math.ceil(stats.reset_time - time.time()))
