"""The Lua scripts of the code flows, kept as `.lua` files beside this module and read
when a CodeFlows is built (never at import)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

LUA_DIR = Path(__file__).parent / "lua"


@cache
def source(name: str) -> str:
    return (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")


def register(redis: Redis, name: str) -> AsyncScript:
    return redis.register_script(source(name))
