"""Per client IP and operation rate limits, kept in Redis by the `limits` library.

Each GraphQL operation is counted, not each HTTP request: twenty aliased logins in
one request are twenty logins. The moving window gives an exact retry-after.
"""

from __future__ import annotations

import contextlib
import math
import time
from urllib.parse import quote
from weakref import WeakKeyDictionary

from limits import RateLimitItem, parse
from limits.aio.storage import RedisClusterStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisClusterException, RedisError


class RateLimits:
    def __init__(self, redis: Redis, limits: dict[str, str]) -> None:
        self._limiter = MovingWindowRateLimiter(storage_on(redis))
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


def storage_on(redis: Redis | RedisCluster) -> Storage:
    """The limits' storage on the app's Redis. One server: the app's own connection pool
    (same timeouts, no second set of sockets). A cluster client has no pool to lend:
    `limits` gets its own cluster client, seeded by the same node, with the same
    credentials and timeouts (each limit is one key, so one slot)."""
    if not isinstance(redis, RedisCluster):
        return RedisStorage("async+redis://", implementation="redispy", connection_pool=redis.connection_pool)
    if redis in CLUSTER_STORAGES:
        return CLUSTER_STORAGES[redis]
    seed = redis.startup_nodes[0]
    options = redis.connection_kwargs
    password = options.get("password")
    credentials = f"{quote(options.get('username') or '')}:{quote(password)}@" if password else ""
    storage = CLUSTER_STORAGES[redis] = RedisClusterStorage(
        f"async+redis+cluster://{credentials}{seed.host}:{seed.port}",
        implementation="redispy",
        socket_timeout=options["socket_timeout"],
        socket_connect_timeout=options["socket_connect_timeout"],
        retry=redis.retry,  # type: ignore[arg-type]  # passed on to RedisCluster as it is
    )
    return storage


# One limits storage per app cluster client (the app's limits and its document limit share
# it), closed with that client (close_storage).
CLUSTER_STORAGES: WeakKeyDictionary[RedisCluster, Storage] = WeakKeyDictionary()


async def close_storage(redis: Redis | RedisCluster) -> None:
    """Close the cluster client `limits` opened for `redis`, if it opened one."""
    storage = CLUSTER_STORAGES.pop(redis, None) if isinstance(redis, RedisCluster) else None
    client = _own_cluster_client(storage)
    if client is not None:
        await client.aclose()


async def open_storage(redis: Redis | RedisCluster) -> None:
    """Build the slot map of the cluster client `limits` opened for `redis` now, at start-up.
    redis-py's asyncio cluster client (8.1) left to do it on the first burst of concurrent
    commands fails some of them (AttributeError on a connection another command reset): the
    first requests of a new process would answer INTERNAL_SERVER_ERROR. A cluster not
    reachable yet is left to the first request, as before."""
    storage = CLUSTER_STORAGES.get(redis) if isinstance(redis, RedisCluster) else None
    client = _own_cluster_client(storage)
    if client is not None:
        with contextlib.suppress(RedisError, RedisClusterException, OSError):
            await client.initialize()


def _own_cluster_client(storage: Storage | None) -> RedisCluster | None:
    """The RedisCluster client `limits` made for `storage`, if it made one."""
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    return client if isinstance(client, RedisCluster) else None
