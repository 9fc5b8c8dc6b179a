"""The ASGI middleware in front of every route, one layer (Front): the request head's
size (431), the request id, the hang-up watch of the password pool, the body's size and
arrival deadline (413, 408), and /graphql's POST straight to the view. An answer given
before the body was read closes the connection."""

from __future__ import annotations

import asyncio
import time

from starlette._utils import get_route_path
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from endpoints.errors import error_response
from logs import RequestInfo, current_request, request_id_of
from schema.error_codes import ErrorCode
from security.passwords import caller_gone
from settings import Settings

# What uvicorn's h11 bounds for a head that arrives in pieces (server.connection_limits);
# a head that arrives in one write is counted here, for `uvicorn server:app` too.
MAX_HEAD_BYTES = 16 * 1024
CLOSE = (b"connection", b"close")


def head_bytes(scope: Scope) -> int:
    """The request head's size as sent, near enough: the target and each `name: value` line."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4
    return size


class HangUpWatch:
    """One request's hang-up watch: `receive` passes messages through and notes when the
    body is complete; `start` (the first time) begins waiting for the disconnect that is
    the only message left after it."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._body_done = False
        # Made only when a watch waits for the body's end (few requests ever hash).
        self._body_read: asyncio.Event | None = None
        self._gone: asyncio.Event | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        message = await self._receive()
        if not self._body_done and (message["type"] != "http.request" or not message.get("more_body", False)):
            self._body_done = True
            if self._body_read is not None:
                self._body_read.set()
        return message

    def start(self) -> asyncio.Event:
        """The event set when the client hangs up; watched from the first call on."""
        if self._gone is None:
            self._gone = asyncio.Event()
            self._watcher = asyncio.create_task(self._watch(self._gone))
        return self._gone

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    async def _watch(self, gone: asyncio.Event) -> None:
        if not self._body_done:
            self._body_read = asyncio.Event()
            await self._body_read.wait()  # the next message can only be the disconnect
        if (await self._receive())["type"] == "http.disconnect":
            gone.set()


class BodyReadError(Exception):
    """The request body broke a limit while it was being read; `response` says which."""

    def response(self) -> JSONResponse:
        raise NotImplementedError


class BodyTooLarge(BodyReadError):
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def response(self) -> JSONResponse:
        return error_response(
            413, f"The request body is over {self.limit} bytes.", ErrorCode.PAYLOAD_TOO_LARGE
        )


class BodyTimedOut(BodyReadError):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def response(self) -> JSONResponse:
        message = f"The request body did not arrive within {self.seconds:g} seconds."
        return error_response(408, message, ErrorCode.REQUEST_TIMEOUT)


class Front:
    """The one middleware layer of every HTTP request (each layer more was one more frame
    every await of the request passes through, and one more wrapper of its messages):

    - 431 for a request whose head (target and header lines) is over MAX_HEAD_BYTES,
      however it arrived: h11 refuses an unfinished head over its bound, but a whole one
      delivered in one write reaches the app;
    - the request's id (logs.request_id_of), held for the log lines the request causes
      and answered in the `X-Request-ID` header;
    - the hang-up watch of the password pool (HangUpWatch, started only by a hash that
      asks for it through `caller_gone`);
    - 413 for a request body over MAX_BODY_BYTES, declared or streamed, before it is
      parsed; 408 for one that has not fully arrived BODY_READ_TIMEOUT_SECONDS after the
      headers (a slow or stalled body would otherwise hold its connection open for ever).
      Any answer that starts before the body was read (these two, a 404, a health check
      with a body) says `Connection: close`: the server then closes the socket instead of
      waiting on the rest of a body nobody will read;
    - Beanie's documents bound to this app's database again when another app of the same
      process took them (Beanie binds per process; the tests run several apps in one; with
      one app per process this is one identity check);
    - a POST to /graphql goes straight to the view: it answers every error of its own as
      JSON, so Starlette's exception middleware and router (a Request, closures and a walk
      over the routes per request) have nothing to do for the request that is most of the
      traffic. Every other request (any other path or method, /graphql's GET and OPTIONS
      and its 405s) takes the router.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if head_bytes(scope) > MAX_HEAD_BYTES:
            response = error_response(
                431,
                f"The request head is over {MAX_HEAD_BYTES} bytes.",
                ErrorCode.REQUEST_HEADERS_TOO_LARGE,
                {"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        request_id = request_id_of(scope)
        request = current_request.set(RequestInfo(request_id, time.monotonic()))
        watch = HangUpWatch(receive)
        gone = caller_gone.set(watch.start)
        try:
            await self.within_limits(
                scope, watch.receive, send, (b"x-request-id", request_id.encode("ascii"))
            )
        finally:
            watch.stop()
            caller_gone.reset(gone)
            current_request.reset(request)

    async def within_limits(self, scope: Scope, receive: Receive, send: Send, id_header: RawHeader) -> None:
        state = scope["app"].state
        services = getattr(state, "services", None)
        declared, chunked = body_headers(scope)
        # No body to read (the usual GET): keep-alive as usual. No services yet: no limits.
        complete = services is None or (declared == "0" and not chunked)

        async def front_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", [])]
                if not complete:
                    headers.append(CLOSE)
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        if services is None:
            await self.app(scope, receive, front_send)
            return
        if not services.documents_bound():  # another app of this process took them (the tests run several)
            await services.bind_documents()
        settings: Settings = services.settings
        limit = settings.max_body_bytes
        if not declared.isdigit() or int(declared) > limit:
            await BodyTooLarge(limit).response()(scope, receive, front_send)
            return
        timeout = settings.body_read_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        received = 0

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body: waiting for a disconnect is not a body read
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimedOut(timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                complete = not message.get("more_body", False)
            return message

        try:
            graphql = getattr(state, "graphql", None)
            if graphql is not None and scope["method"] == "POST" and get_route_path(scope) == "/graphql":
                await graphql(scope, limited_receive, front_send)
            else:
                await self.app(scope, limited_receive, front_send)
        except BodyReadError as error:
            await error.response()(scope, receive, front_send)


RawHeader = tuple[bytes, bytes]


def body_headers(scope: Scope) -> tuple[str, bool]:
    """The request's first Content-Length ("0" when none) and whether it names a Transfer-Encoding."""
    declared: str | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            if declared is None:
                declared = value.decode("latin-1")
        elif name == b"transfer-encoding":
            chunked = True
    return declared if declared is not None else "0", chunked
