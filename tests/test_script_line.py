"""The signed-in path's own Redis connection (security/lua/line.py): the answers redis-py
gives, and what redis-py's machinery did for it kept: a script Redis forgot is sent
again, a hung Redis answers SERVICE_UNAVAILABLE within the backend timeout, a dropped
connection is opened again, and a session ended elsewhere is refused at once."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest
from conftest import serve, serve_app
from conftest import (
    test_settings as settings_with,  # renamed so pytest does not collect it
)
from flows import ME, gql, register
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import InvalidResponse, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis_client import not_on_cluster

from embedded import start_redis
from security import lua
from security.lua.line import PENDING, close_line, pack, reader, supports

LOGOUT = "mutation { logout { revokedSessions } }"

# The line is for a client of one server: on a cluster run the suite's Redis is a cluster,
# which keeps redis-py's own routing (test_clusters_and_sentinels_keep_the_clients_own_routing).
ONE_SERVER = not_on_cluster("the script line serves a client of one server only")


def new_email() -> str:
    return f"line-{secrets.token_hex(5)}@example.com"


async def me(client: Any, token: str) -> dict[str, Any]:
    return await gql(client, ME, token=token)


@ONE_SERVER
@pytest.mark.parametrize("protocol", [2, 3])
async def test_the_line_answers_what_redis_py_answers(backend_urls, protocol):
    redis = Redis.from_url(backend_urls["redis_url"], protocol=protocol, socket_timeout=2)
    try:
        lined = lua.register(redis, "user_cache/check")
        plain = lua.Script(redis, lined._text)
        assert type(lined) is lua.LinedScript
        user = secrets.token_hex(6)
        await redis.set(f"live-session:{{{user}}}:s", 1)
        await redis.hset(f"user-cache:{{{user}}}", mapping={"token": b"\x00\r\n$1", "pending": 2})
        for keys in (
            [f"live-session:{{{user}}}:s", f"user-cache:{{{user}}}"],
            ["nothing:{x}", "nothing:{x}2"],
        ):
            assert await lined(keys=keys, args=["token", "pending"]) == await plain(
                keys=keys, args=["token", "pending"]
            )
        # Many at once on the one connection: each caller gets its own reply.
        users = [secrets.token_hex(6) for _ in range(100)]
        for index, other in enumerate(users):
            await redis.hset(f"user-cache:{{{other}}}", "pending", index)
        replies = await asyncio.gather(
            *(
                lined(keys=["none:{x}", f"user-cache:{{{other}}}"], args=["token", "pending"])
                for other in users
            )
        )
        assert [reply[1][1] for reply in replies] == [str(index).encode() for index in range(100)]
        # A failing script raises the client's own exception class.
        failing = lua.LinedScript(redis, "return redis.call('INCR', KEYS[1])", lua.line_for(redis))
        await redis.set(f"text:{{{user}}}", "x")
        with pytest.raises(ResponseError, match="not an integer"):
            await failing(keys=[f"text:{{{user}}}"])
    finally:
        close_line(redis)
        await redis.aclose()


def replies_of(*pieces: bytes) -> list[Any]:
    """The replies the line's reader gives for the bytes received in `pieces`."""
    parser, replies = reader(), []
    for piece in pieces:
        parser.feed(piece)
        reply = parser.gets()
        while reply is not PENDING:
            replies.append(reply)
            reply = parser.gets()
    return replies


def test_replies_cut_anywhere_wait_for_the_rest():
    whole = b"".join(
        (
            b"*2\r\n:1\r\n*2\r\n$3\r\na\r\n\r\n$-1\r\n",  # RESP2: the check's reply
            b"*2\r\n:0\r\n*2\r\n_\r\n_\r\n",  # RESP3 nulls
            b"%1\r\n+k\r\n#t\r\n",
            b"#f\r\n",  # a reply of False, not "wait for more"
            b"-NOSCRIPT No matching script.\r\n",
            b"-ERR caf\xc3\xa9\r\n",
        )
    )
    for cut in range(len(whole) + 1):
        replies = replies_of(whole[:cut], whole[cut:])
        assert replies[:4] == [[1, [b"a\r\n", None]], [0, [None, None]], {b"k": True}, False], cut
        assert type(replies[4]) is NoScriptError and type(replies[5]) is ResponseError
        assert str(replies[5]) == "caf\u00e9"
    assert replies_of(*(whole[at : at + 1] for at in range(len(whole))))[:4] == replies[:4]
    with pytest.raises(InvalidResponse):
        replies_of(b"?what\r\n")


def test_commands_are_the_bytes_redis_py_writes():
    args = ("EVALSHA", "a" * 40, 2, "live-session:{x}:s", b"\x00\r\n$1", "caf\u00e9", -5, 10**20)
    assert pack(*args) == b"".join(Connection().pack_command(*args))


@ONE_SERVER
async def test_a_push_message_is_no_calls_reply(backend_urls):
    redis = Redis.from_url(backend_urls["redis_url"], protocol=3, socket_timeout=2)
    try:
        line = lua.line_for(redis)
        key = f"tracked:{{{secrets.token_hex(6)}}}"
        assert await line.call("CLIENT", "TRACKING", "ON") == b"OK"
        assert await line.call("GET", key) is None  # the line now tracks `key`
        # The line's own write pushes an invalidation, after SET's reply and before ECHO's.
        assert await asyncio.gather(line.call("SET", key, "changed"), line.call("ECHO", "after")) == [
            b"OK",
            b"after",
        ]
        assert await line.call("GET", key) == b"changed"
    finally:
        close_line(redis)
        await redis.aclose()


def test_clusters_and_sentinels_keep_the_clients_own_routing():
    assert supports(Redis.from_url("redis://127.0.0.1:1"))
    assert supports(Redis.from_url("unix:///tmp/redis.sock"))
    assert not supports(Redis.from_url("redis://127.0.0.1:1", single_connection_client=True))
    assert not supports(object())


@pytest.mark.subprocess
async def test_a_flushed_script_a_killed_connection_and_a_hung_redis_on_the_signed_in_path(
    backend_urls, mailbox, tmp_path: Path
):
    redis_server = start_redis(tmp_path)
    admin = Redis.from_url(redis_server.url)
    try:
        settings = settings_with(backend_urls, mailbox, redis_url=redis_server.url, backend_timeout_seconds=1)
        async with serve(settings) as client:
            token = (await register(client, mailbox, email=new_email()))["accessToken"]
            assert (await me(client, token))["data"]["me"]["email"]

            await admin.script_flush()  # Redis forgot the script: it is sent again
            assert (await me(client, token))["data"]["me"]["email"]

            await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            assert (await me(client, token))["data"]["me"]["email"]  # opened again, answered

            await admin.execute_command("CLIENT", "PAUSE", "2500", "ALL")
            began = asyncio.get_running_loop().time()
            body = await me(client, token)
            took = asyncio.get_running_loop().time() - began
            assert [error["extensions"]["code"] for error in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
            assert took < 2.2, took
            await asyncio.sleep(2)  # the pause ends: the next read is answered on a new connection
            assert (await me(client, token))["data"]["me"]["email"]
    finally:
        await admin.aclose()
        redis_server.stop()


@ONE_SERVER
async def test_a_session_ended_is_refused_at_once_on_the_line(backend_urls, mailbox):
    async with serve_app(settings_with(backend_urls, mailbox)) as (client, app):
        assert type(app.state.services.users._check) is lua.LinedScript
        token = (await register(client, mailbox, email=new_email()))["accessToken"]
        assert (await me(client, token))["data"]["me"]["email"]
        await gql(client, LOGOUT, token=token)
        body = await me(client, token)
        assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"], body


@pytest.mark.subprocess
async def test_a_timeout_fails_every_call_waiting_and_the_next_call_reconnects(tmp_path: Path):
    redis_server = start_redis(tmp_path)  # its own: DEBUG SLEEP holds every client of it
    redis = Redis.from_url(redis_server.url, socket_timeout=0.3)
    admin = Redis.from_url(redis_server.url)
    try:
        lined = lua.register(redis, "user_cache/check")
        assert await lined(keys=["a:{x}", "b:{x}"], args=["token", "pending"]) == [0, [None, None]]
        sleeping = asyncio.create_task(admin.execute_command("DEBUG", "SLEEP", "0.8"))
        await asyncio.sleep(0.1)
        outcomes = await asyncio.gather(
            *(lined(keys=["a:{x}", "b:{x}"], args=["token", "pending"]) for _ in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes), outcomes
        await sleeping
        assert await lined(keys=["a:{x}", "b:{x}"], args=["token", "pending"]) == [0, [None, None]]
    finally:
        close_line(redis)
        await redis.aclose()
        await admin.aclose()
        redis_server.stop()


@ONE_SERVER
async def test_a_caller_cancelled_while_the_line_opens_cancels_only_its_own_wait(backend_urls):
    redis = Redis.from_url(backend_urls["redis_url"], socket_timeout=2)
    try:
        lined = lua.register(redis, "user_cache/check")
        calls = [
            asyncio.create_task(lined(keys=["a:{x}", "b:{x}"], args=["token", "pending"])) for _ in range(5)
        ]
        await asyncio.sleep(0)  # the first has started opening the line
        calls[0].cancel()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(outcomes[0], asyncio.CancelledError)
        assert outcomes[1:] == [[0, [None, None]]] * 4
    finally:
        close_line(redis)
        await redis.aclose()
