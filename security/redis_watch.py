"""Notices when Redis stops being the server whose answers this process has trusted.

What a process keeps between requests (copies of users, verified tokens, sessions it has
checked against MongoDB) is valid only while Redis holds what it held when they were
kept. A Redis restarted from a snapshot, or a failover to a replica that had not caught
up, hands back state from the past: deleted session keys and replaced user stamps return.
Both show as a new `run_id` (INFO server): each redis-server process draws its own at
start, so a restart and a promoted replica both carry one never seen before.

An epoch key written at start would not do on its own: a snapshot taken after it was
written restores it unchanged. The `run_id` is read on every new connection, before that
connection carries a command (a restart or a failover always means new connections: the
old ones broke), and every `interval_seconds` in the background, for whatever a proxy
in between might hide. A rollback that keeps the same server (`DEBUG RELOAD`, a
proxy that hides the change) is bounded by the maximum age of what is kept instead.

A Redis Cluster client has no per-connection hook: the watch reads every primary's
run_id in the background instead, once at start and then every `interval_seconds`, and
any run_id it has not seen before (a restarted node, a promoted replica) drops what was
kept. A failover is noticed within the interval; the maximum age bounds it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisClusterException, RedisError

logger = logging.getLogger("authql")


class RedisWatch:
    """Calls every listener, in this process, when the Redis answering is a new one."""

    def __init__(self, *, interval_seconds: float) -> None:
        self._interval = interval_seconds
        self._run_id: str | None = None
        self._listeners: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._seen: set[str] = set()  # a cluster's run_ids so far, every node's

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    async def on_connect(self, connection: AbstractConnection) -> None:
        """redis-py's `redis_connect_func`: the usual handshake, then the server's run_id,
        before the connection carries the command it was opened for."""
        await connection.on_connect()
        await connection.send_command("INFO", "server", check_health=False)
        self.saw(_run_id(await connection.read_response()))

    def saw(self, run_id: str | None) -> None:
        """Record the run_id Redis answered; a different one than before drops what was kept."""
        if run_id is None or run_id == self._run_id:
            return
        if self._run_id is not None:
            logger.warning(
                "Redis is a new server (run_id %s, was %s): dropping what was kept", run_id, self._run_id
            )
            for listener in self._listeners:
                listener()
        self._run_id = run_id

    def saw_nodes(self, run_ids: set[str]) -> None:
        """Record a cluster's run_ids; one never seen before drops what was kept."""
        new = run_ids - self._seen
        if new and self._seen:
            logger.warning("Redis Cluster has new servers (run_id %s): dropping what was kept", sorted(new))
            for listener in self._listeners:
                listener()
        self._seen |= new

    def start(self, redis: Redis | RedisCluster) -> None:
        if self._task is None:
            poll = self._poll_cluster(redis) if isinstance(redis, RedisCluster) else self._poll(redis)
            self._task = asyncio.create_task(poll, name="redis-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self, redis: Redis) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                info = await redis.info("server")
            except (RedisError, OSError):
                continue  # the next connection's handshake reads the run_id anyway
            self.saw(str(info.get("run_id")) if info.get("run_id") else None)

    async def _poll_cluster(self, redis: RedisCluster) -> None:
        while True:
            try:
                infos = await redis.info("server", target_nodes=RedisCluster.PRIMARIES)
            except (RedisError, RedisClusterException, OSError):
                pass  # the shard is failing over: the next poll finds its new primary
            else:
                self.saw_nodes({str(info["run_id"]) for info in infos.values() if info.get("run_id")})
            await asyncio.sleep(self._interval)


def _run_id(info: object) -> str | None:
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("run_id:"):
            return line.partition(":")[2].strip()
    return None
