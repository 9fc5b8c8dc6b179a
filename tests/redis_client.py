"""The Redis client a test reads and writes the server's keys with: the one the server itself
builds for the same settings (services.open_redis), so a test speaks to a Redis Cluster
when the suite runs on one (AUTHQL_TEST_REDIS_CLUSTER=1 with AUTHQL_TEST_REDIS_URL naming a
seed node: tests/conftest.py's `backend_urls`).

On a cluster there is only database 0 and every test worker shares it: tests keep apart by
their random addresses, ids and client IPs, never by a database of their own or a flush."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis import RedisCluster as SyncRedisCluster
from redis.asyncio import Redis

from security.redis_watch import RedisWatch
from services import open_redis
from settings import Settings

# The suite runs on the Redis Cluster AUTHQL_TEST_REDIS_URL names (README, "Run the tests").
ON_CLUSTER = os.environ.get("AUTHQL_TEST_REDIS_CLUSTER", "").strip() not in ("", "0")


def not_on_cluster(reason: str) -> pytest.MarkDecorator:
    """Skip the test only when the suite runs on a cluster, saying why it cannot there."""
    return pytest.mark.skipif(ON_CLUSTER, reason=f"on a Redis Cluster: {reason}")


def redis_settings(source: Settings | Mapping[str, Any]) -> Settings:
    if isinstance(source, Settings):
        return source
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=source["redis_url"],
        redis_cluster=source.get("redis_cluster", False),
    )


def redis_client(source: Settings | Mapping[str, Any]) -> Redis:
    """An asyncio client on the Redis of `source` (app settings or `backend_urls`), built as
    the server builds its own: a RedisCluster on a cluster, a sentinel's primary..."""
    return open_redis(redis_settings(source), RedisWatch(interval_seconds=60))


def sync_redis_client(source: Settings | Mapping[str, Any], **options: Any) -> SyncRedis:
    """The blocking counterpart, for tests that run outside an event loop (a state
    machine driving a server process)."""
    settings = redis_settings(source)
    assert settings.redis_url is not None
    if settings.redis_cluster:
        return SyncRedisCluster.from_url(settings.redis_url, **options)  # type: ignore[return-value]
    return SyncRedis.from_url(settings.redis_url, **options)
