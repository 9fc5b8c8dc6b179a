"""A connection of its own for the script every signed-in request runs, with none of the
client's per-command machinery.

redis-py spends more on each command than the command costs: a connection taken from
the pool and given back, a retry wrapper, a health check, a timeout context per read and
per write, an observability hook, a streaming parser reading line by line. For the one
script call of the signed-in path that was a fifth of the request's CPU. Here every call
is one write on one shared connection, pipelined: replies come back in order, and the
transport's own callback parses them and wakes their callers.

The protocol itself is hiredis's, the redis org's C parser that redis-py uses too when it
is installed: `hiredis.pack_command` encodes each call and a `hiredis.Reader` fed the
bytes received gives the replies, RESP2 or RESP3 as the handshake chose, as bytes.

Kept what the client gave:
- the handshake is redis-py's own (a connection of the client's pool, opened as the pool
  opens them: AUTH, SELECT, HELLO, TLS, and RedisWatch's run_id check before any command),
  after which the socket's bytes come here;
- a reply missing `socket_timeout` after its call raises redis-py's TimeoutError (the
  caller's SERVICE_UNAVAILABLE) and drops the connection, as the client does;
- a connection that broke is opened again by the next call, and a call whose connection
  broke before its reply is sent once more on a new one (the client's one retry);
- Redis's error replies raise redis-py's exception classes (NOSCRIPT is NoScriptError,
  by redis-py's own `parse_error`), and a malformed reply its InvalidResponse;
- RESP3 push messages are nobody's reply: they are passed over.

Only for a client of one server (`redis://`, `rediss://`, `unix://`): a cluster or the
sentinels' primary keep redis-py's own routing (`supports`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any

from hiredis import PushNotification, Reader, pack_command
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse
from redis.exceptions import TimeoutError as RedisTimeoutError

# The connection classes whose handshake ends with the socket ready for commands.
PLAIN_CONNECTIONS = (Connection, SSLConnection, UnixDomainSocketConnection)
# What the reader answers while the bytes received end inside a reply.
PENDING: Any = object()


def supports(redis: object) -> bool:
    """Whether `redis` is a client of one server (not a cluster, not the sentinels' primary)."""
    pool = getattr(redis, "connection_pool", None)
    return (
        type(redis) is Redis
        and type(pool) is ConnectionPool
        and pool.connection_class in PLAIN_CONNECTIONS
        and not getattr(redis, "single_connection_client", False)
    )


def pack(*args: bytes | str | int) -> bytes:
    """One command in RESP (an array of bulk strings), by hiredis's encoder: the bytes
    redis-py writes for bytes, str and int arguments."""
    return pack_command(args)


def reader() -> Reader:
    """A parser of Redis's replies, RESP2 and RESP3 alike: the values redis-py's parsers
    give (bytes, int, None, lists, dicts; an error reply as its exception, not raised);
    `gets()` answers PENDING while the bytes end inside a reply (not False: RESP3's #f
    is False). A malformed reply raises redis-py's InvalidResponse."""
    return Reader(protocolError=InvalidResponse, replyError=BaseParser.parse_error, notEnoughData=PENDING)


class Line(asyncio.Protocol):
    """One open connection: calls written in order, their replies matched in order."""

    def __init__(self, streams: tuple[Any, Any], timeout: float | None, address: str) -> None:
        self.loop = asyncio.get_running_loop()
        # The handshake's writer and reader, kept: a writer collected closes its transport.
        self._streams = streams
        self.transport: asyncio.Transport = streams[0].transport
        self.timeout = timeout
        self.address = address
        self.closed = False
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._reader = reader()
        self._timer: asyncio.TimerHandle | None = None
        self._unsent: list[bytes] | None = None

    def call(self, command: bytes) -> asyncio.Future[Any]:
        """Send `command`; the future of its reply."""
        if self.closed:
            raise RedisConnectionError(f"Connection closed by server ({self.address}).")
        reply = self.loop.create_future()
        deadline = self.loop.time() + self.timeout if self.timeout is not None else 0.0
        self._waiting.append((reply, deadline))
        if self._unsent is None:  # the calls of this turn of the event loop go in one write
            self._unsent = [command]
            self.loop.call_soon(self._send)
        else:
            self._unsent.append(command)
        if self._timer is None and self.timeout is not None:
            self._timer = self.loop.call_at(deadline, self._check_deadline)
        return reply

    def _send(self) -> None:
        unsent, self._unsent = self._unsent, None
        if unsent and not self.closed:
            self.transport.write(b"".join(unsent))

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            reply = self._reader.gets()
            while reply is not PENDING:
                self._answer(reply)
                reply = self._reader.gets()
        except InvalidResponse as error:
            self._break(InvalidResponse(f"Unreadable reply from Redis ({self.address}): {error}"))

    def _answer(self, reply: Any) -> None:
        if not self._waiting or type(reply) is PushNotification:
            return  # a push message (RESP3): no call's reply
        reply_future, _ = self._waiting.popleft()
        if not reply_future.done():  # a caller that was cancelled meanwhile gets nothing
            reply_future.set_result(reply)
        if not self._waiting and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        deadline = self._waiting[0][1]
        if self.loop.time() >= deadline:
            self._break(RedisTimeoutError(f"Timeout reading from {self.address}"))
        else:
            self._timer = self.loop.call_at(deadline, self._check_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._break(RedisConnectionError(f"Connection closed by server ({self.address})."))

    def _break(self, error: Exception) -> None:
        """Fail every call still waiting and drop the connection: replies to come could
        no longer be matched to their calls."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting:
            reply, _ = self._waiting.popleft()
            if not reply.done():
                reply.set_exception(error)
                reply.exception()  # retrieved: a caller cancelled meanwhile warns of nothing
        self.transport.abort()

    def close(self) -> None:
        if not self.closed:
            self._break(RedisConnectionError("Connection closed by the client."))


class ScriptLine:
    """The line to one Redis client's server, opened on first use and after every break."""

    def __init__(self, redis: Redis) -> None:
        self._pool: ConnectionPool = redis.connection_pool
        self._line: Line | None = None
        self._opening: asyncio.Task[Line] | None = None

    async def call(self, *args: bytes | str | int) -> Any:
        """The reply to one command (an error reply returned as its exception, not raised);
        a call whose connection broke before its reply goes once more on a new one."""
        command = pack(*args)
        line = self._line
        if line is None or line.closed or line.loop is not asyncio.get_running_loop():
            line = await self._open()
        try:
            return await line.call(command)
        except RedisConnectionError:
            line = await self._open()
            return await line.call(command)

    async def _open(self) -> Line:
        """A new line; callers arriving meanwhile share the one being opened. The opening
        is a task of its own: a caller cancelled meanwhile (its client hung up) cancels
        only its own wait."""
        line = self._line
        loop = asyncio.get_running_loop()
        if line is not None and not line.closed and line.loop is loop:
            return line
        opening = self._opening
        if opening is None or opening.done() or opening.get_loop() is not loop:
            opening = self._opening = loop.create_task(self._connect())
        return await asyncio.shield(opening)

    async def _connect(self) -> Line:
        connection: AbstractConnection = self._pool.make_connection()
        await connection.connect()  # redis-py's handshake, RedisWatch's run_id check included
        writer, reader = connection._writer, connection._reader
        if writer is None or reader is None or reader._buffer:  # type: ignore[attr-defined]
            await connection.disconnect()
            raise RedisConnectionError("Redis sent more than its handshake's replies.")
        connection._writer = connection._reader = None  # the socket is the line's now
        timeout = self._pool.connection_kwargs.get("socket_timeout")
        line = Line((writer, reader), timeout, _address(connection))
        line.transport.set_protocol(line)
        self._line = line
        return line

    def close(self) -> None:
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
        if self._line is not None:
            self._line.close()
            self._line = None


def _address(connection: AbstractConnection) -> str:
    pieces = dict(connection.repr_pieces())
    return str(pieces.get("path") or f"{pieces.get('host')}:{pieces.get('port')}")


LINES: weakref.WeakKeyDictionary[Redis, ScriptLine] = weakref.WeakKeyDictionary()


def line_for(redis: Redis) -> ScriptLine:
    """The line of `redis`'s server, one per client."""
    line = LINES.get(redis)
    if line is None:
        line = LINES[redis] = ScriptLine(redis)
    return line


def close_line(redis: object) -> None:
    """Close the line of `redis`, if it opened one (at shutdown, with the client)."""
    line = LINES.pop(redis, None)  # type: ignore[call-overload]
    if line is not None:
        line.close()
