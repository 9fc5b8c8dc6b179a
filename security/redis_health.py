"""Whether Redis takes writes: what `/health/ready` asks of it.

A PING is answered by a replica left read-only after a failover and by a Redis out of
memory under `noeviction`, yet both refuse every write this server makes (sessions,
codes, limits, the lockout). A short-lived SET is the probe that tells. On a Redis
Cluster that SET reaches one shard only: the cluster's own state (`cluster_state:ok`
only while every slot has a primary) tells about the others."""

from __future__ import annotations

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ClusterDownError

HEALTH_KEY = "authql:health"


async def redis_writable(redis: Redis | RedisCluster) -> None:
    """Raises (ReadOnlyError, OutOfMemoryError, ClusterDownError, a connection error)
    unless a write succeeds and, on a cluster, every slot is served."""
    if isinstance(redis, RedisCluster):
        state = (await redis.cluster_info()).get("cluster_state")
        if state != "ok":
            raise ClusterDownError(f"cluster_state:{state}")
    await redis.set(HEALTH_KEY, 1, px=5000)
