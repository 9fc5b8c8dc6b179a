"""The Redis scripts of security/, kept as `.lua` files (each opens with its KEYS, ARGV
and what it returns) and read when the object that runs them is built, never at import.

Scripts live in this directory, one folder per module (`lockout/acquire.lua`); a package
with its own (security/codes/lua/) passes its directory. A file is read once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

SCRIPTS = Path(__file__).parent


@cache
def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def register(redis: Redis, name: str, directory: Path = SCRIPTS) -> AsyncScript:
    """The script `directory`/`name`.lua, ready to run on `redis`."""
    return redis.register_script(source(directory / f"{name}.lua"))
