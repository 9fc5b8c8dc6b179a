"""What a configured Redis would lose: said once at start-up, as a warning.

The security state in Redis (sessions' live keys, users' stamps, the lockout, the quotas,
the code flows) should outlive a Redis restart and never be evicted to make room. A Redis
with neither an append-only file nor snapshots forgets all of it on a restart (the
lockout and per-address quotas are kept in MongoDB too for that case:
security/durable_counts.py; the rest fails closed), and one whose `maxmemory-policy`
evicts keys may drop a lock or a quota at any time. Managed services often refuse CONFIG:
then nothing is said."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisClusterException, RedisError

logger = logging.getLogger("authql")


async def durability_warnings(redis: Redis | RedisCluster) -> list[str]:
    """What Redis's configuration risks, as sentences (none if it could not be read)."""
    try:
        config: dict[str, Any] = {}
        for name in ("appendonly", "save", "maxmemory-policy"):
            config.update(await redis.config_get(name))
    except (RedisError, RedisClusterException, OSError):
        return []
    config = {_text(key): _text(value) for key, value in config.items()}
    warnings = []
    if config.get("appendonly") != "yes" and not config.get("save"):
        warnings.append(
            "Redis has no persistence (appendonly no, no save points): a restart forgets every "
            "session's live key, the code flows and the limits (set appendonly yes)"
        )
    policy = config.get("maxmemory-policy")
    if policy and policy != "noeviction":
        warnings.append(
            f"Redis evicts keys (maxmemory-policy {policy}): a lock or quota may vanish when memory "
            "runs short (set maxmemory-policy noeviction)"
        )
    return warnings


async def warn_if_forgetful(redis: Redis | RedisCluster) -> None:
    for warning in await durability_warnings(redis):
        logger.warning("%s", warning)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
