"""A Redis that answers but refuses writes (L4): a replica left read-only after a failover
(READONLY) and a Redis full under `noeviction` (OOM) give SERVICE_UNAVAILABLE, not a
masked internal error with a traceback, and `/health/ready` names Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import START, new_email
from redis import Redis
from test_http_and_outages import assert_not_ready, assert_service_unavailable, post

from embedded import start_redis, stop_services


@pytest.fixture(params=["read-only replica", "out of memory"])
def refusing_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a Redis that answers reads and refuses every write: a replica of a live
    Redis (READONLY), or a Redis at its memory limit that evicts nothing (OOM)."""
    primary = start_redis(tmp_path / "primary")
    started = [primary]
    try:
        if request.param == "read-only replica":
            started.append(start_redis(tmp_path / "replica"))
            host, port = primary.url.removeprefix("redis://").split("/")[0].split(":")
            with Redis.from_url(started[-1].url) as redis:
                redis.replicaof(host, port)
                wait_until_synced(redis)
        else:
            with Redis.from_url(primary.url) as redis:
                redis.config_set("maxmemory-policy", "noeviction")
                redis.config_set("maxmemory", 1)
        yield started[-1].url
    finally:
        stop_services(started)


def wait_until_synced(redis: Redis, timeout: float = 10.0) -> None:
    """Until the replica's first sync with its primary is done, and the rewrite of its
    append-only file that follows it. In full runs the test took 0.1 s and its teardown
    10 s: the replica, stopped in the middle of them, outlived stop()'s SIGTERM grace."""
    deadline = time.monotonic() + timeout
    while not synced(redis):
        assert time.monotonic() < deadline, redis.info()
        time.sleep(0.02)


def synced(redis: Redis) -> bool:
    info = redis.info()
    return info.get("master_link_status") == "up" and not (
        info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"] or info["loading"]
    )


async def test_a_redis_refusing_writes_is_service_unavailable_and_not_ready(
    refusing_redis, backend_urls, mailbox, caplog
):
    async with serve(settings_with(backend_urls, mailbox, redis_url=refusing_redis)) as client:
        with caplog.at_level(logging.WARNING, logger="authql.errors"):
            response, _ = await post(client, START, {"email": new_email()})
        assert_service_unavailable(response)
        assert "ReadOnlyError" not in response.text and "OutOfMemory" not in response.text
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR], caplog.text
        await assert_not_ready(client, "redis")
