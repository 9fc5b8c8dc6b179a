"""The Redis scripts of security/, kept as `.lua` files (each opens with its KEYS, ARGV
and what it returns) and read when the object that runs them is built, never at import.

Scripts live in this directory, one folder per module (`lockout/acquire.lua`); a package
with its own (security/codes/lua/) passes its directory. A file is read once per process.

Every script names keys of one hash tag only (tests/test_redis_keys.py), so each runs on
one Redis Cluster node.

The scripts every signed-in request runs (PER_REQUEST) go by a connection of their own
with none of the client's per-command machinery (security/lua/line.py), when the client
is one of a single server."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from security.lua.line import ScriptLine, line_for, supports

SCRIPTS = Path(__file__).parent
# Run once by every signed-in request (security/user_cache.py): the client's own
# per-command work was a fifth of that request's CPU.
PER_REQUEST = frozenset({"user_cache/check"})


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


class LinedScript(Script):
    """A script run on its client's line (security/lua/line.py): the same calls, the same
    answers and errors, without the client's per-command work."""

    def __init__(self, redis: Redis, text: str, line: ScriptLine) -> None:
        super().__init__(redis, text)
        self._line = line

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        reply = await self._line.call("EVALSHA", self._sha, len(keys), *keys, *args)
        if isinstance(reply, NoScriptError):
            reply = await self._line.call("EVAL", self._text, len(keys), *keys, *args)
        if isinstance(reply, Exception):
            raise reply
        return reply


def register(redis: Redis, name: str, directory: Path = SCRIPTS) -> Script:
    """The script `directory`/`name`.lua, ready to run on `redis`."""
    text = source(directory / f"{name}.lua")
    if name in PER_REQUEST and directory == SCRIPTS and supports(redis):
        return LinedScript(redis, text, line_for(redis))
    return Script(redis, text)
