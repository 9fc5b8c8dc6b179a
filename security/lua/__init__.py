"""The Redis scripts of security/, kept as `.lua` files (each opens with its KEYS, ARGV
and what it returns) and read when the object that runs them is built, never at import.

Scripts live in this directory, one folder per module (`lockout/acquire.lua`); a package
with its own (security/codes/lua/) passes its directory. A file is read once per process.

Every script names keys of one hash tag only (tests/test_redis_keys.py), so each runs on
one Redis Cluster node."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

SCRIPTS = Path(__file__).parent


@cache
def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class Script:
    """One script, run by its SHA1 (EVALSHA). A server that does not know it (restarted,
    a replica promoted by a failover, a cluster node the slot moved to) gets the script
    itself once, by EVAL on the same key, which also caches it there: unlike redis-py's
    SCRIPT LOAD and then EVALSHA, both commands go to the node that owns the keys."""

    def __init__(self, redis: Redis, text: str) -> None:
        self._redis = redis
        self._text = text
        self._sha = hashlib.sha1(text.encode()).hexdigest()

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return await self._redis.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self._redis.eval(self._text, len(keys), *keys, *args)


def register(redis: Redis, name: str, directory: Path = SCRIPTS) -> Script:
    """The script `directory`/`name`.lua, ready to run on `redis`."""
    return Script(redis, source(directory / f"{name}.lua"))
