"""A real HTTP receiver for webhooks and hooks: uvicorn on a loopback socket, in the
test's event loop. It records what arrived and answers as the test scripts it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from embedded import free_port


@dataclass
class Arrival:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)  # when it arrived (epoch seconds)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`statuses` are answered in order, then `status`; `answer` (a JSON value, or a
    function of the arrival) is the body of each answer; `delay` holds each answer back."""

    status: int = 204
    statuses: list[int] = field(default_factory=list)
    answer: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    arrived: list[Arrival] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        arrival = Arrival(scope["path"], headers, body)
        self.arrived.append(arrival)
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else self.status
        answer = self.answer(arrival) if callable(self.answer) else self.answer
        content = b"" if answer is None else json.dumps(answer).encode()
        extra = [(key.encode(), value.encode()) for key, value in self.headers.items()]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def wait_for(
        self, count: int = 1, timeout: float = 15.0, where: Callable[[Arrival], bool] = lambda _: True
    ) -> list[Arrival]:
        """The arrivals `where` holds, once there are `count` of them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(chosen := [arrival for arrival in self.arrived if where(arrival)]) < count:
            assert asyncio.get_running_loop().time() < deadline, f"{len(chosen)} of {count} arrived"
            await asyncio.sleep(0.02)
        return chosen


@asynccontextmanager
async def receiving(
    receiver: Receiver, port: int | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[int]:
    """`receiver` served on `host`:`port` (a free one by default); the port."""
    port = port or free_port()
    config = uvicorn.Config(receiver, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # Ctrl-C stays pytest's
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the receiver did not start"
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
