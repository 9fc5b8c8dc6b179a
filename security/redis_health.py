"""Whether Redis takes writes: what `/health/ready` asks of it.

A PING is answered by a replica left read-only after a failover and by a Redis out of
memory under `noeviction`, yet both refuse every write this server makes (sessions,
codes, limits, the lockout). A short-lived SET is the probe that tells."""

from __future__ import annotations

from redis.asyncio import Redis

HEALTH_KEY = "authql:health"


async def redis_writable(redis: Redis) -> None:
    """Raises (ReadOnlyError, OutOfMemoryError, a connection error) unless a write succeeds."""
    await redis.set(HEALTH_KEY, 1, px=5000)
