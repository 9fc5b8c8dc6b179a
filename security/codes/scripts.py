"""The Lua scripts of the code flows, kept as `.lua` files beside this module (lua/) and
read by security/lua's loader when a CodeFlows or its Quotas is built (never at import)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from security import lua

LUA_DIR = Path(__file__).parent / "lua"


def register(redis: Redis, name: str) -> lua.Script:
    return lua.register(redis, name, LUA_DIR)
