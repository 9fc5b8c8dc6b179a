"""redis-py's asyncio RedisCluster, with transactions that never build the slot map on a
loop about to die.

redis-py (8.1) queues each command of a cluster transaction (`pipeline(transaction=True)`)
by running it with `asyncio.run` in a thread of its own, and that step first initializes
the client when it has to: on a fresh client, or after a connection error (a failover,
a restarted node) flagged the slot map for a rebuild. The connections made then are bound
to that thread's event loop, closed as soon as the command is queued: every later command
on them fails with "Event loop is closed" or "attached to a different loop", an internal
error rather than an outage, until the process restarts.

Here a transaction only notes its commands; `execute` initializes the client on the
caller's loop when it must, then queues them and runs the transaction as redis-py does.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterPipeline


class ClusterClient(RedisCluster):
    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> ClusterPipeline:
        if transaction and not shard_hint:
            return Transaction(self)
        return super().pipeline(transaction, shard_hint)


class Transaction(ClusterPipeline):
    """MULTI/EXEC on the node of the commands' one slot; queued on `execute`."""

    def __init__(self, client: RedisCluster) -> None:
        super().__init__(client, transaction=True)
        self._noted: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if args and args[0] in self._execution_strategy.IMMEDIATE_EXECUTE_COMMANDS:  # type: ignore[attr-defined]
            return super().execute_command(*args, **kwargs)  # WATCH and the like: at once, as before
        self._noted.append((args, kwargs))
        return self

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        noted, self._noted = self._noted, []
        if noted:
            # No await between this and the queueing below: the client stays initialized.
            await self.cluster_client.initialize()
            for args, kwargs in noted:
                super().execute_command(*args, **kwargs)
        return await super().execute(raise_on_error, allow_redirections)

    async def reset(self) -> None:
        self._noted = []
        await super().reset()
