"""The HTTP surface: the GraphQL view (JSON errors, per-request Context, limits),
the body size limit, and the health and JWKS routes. `server.py` composes them."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

import metrics
from graphiql.page import STATIC as GRAPHIQL_FILES
from graphiql.page import graphiql_page
from schema.context import Context
from schema.error_codes import ErrorCode
from schema.errors import classify
from schema.prepared import PreparedOperations
from schema.root import CACHE_SIZE, Limits, build_schema
from security.client_ip import client_bucket, client_ip
from security.passwords import caller_gone
from settings import Settings

if TYPE_CHECKING:
    from services import Services

logger = logging.getLogger("authql.errors")

# The request body as body_problem parsed it, handed to Strawberry so it is parsed once:
# (the raw bytes, the parsed value); `decode_json` takes it only for those very bytes.
parsed_body: ContextVar[tuple[bytes, object] | None] = ContextVar("parsed_body", default=None)


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view, with JSON error bodies, a per-request Context, and the
    schema limits, GraphiQL and introspection switches of `settings`."""

    def __init__(self, settings: Settings) -> None:
        limits = Limits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            introspection=settings.introspection,
        )
        schema = build_schema(limits)
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,  # queries only: Strawberry refuses mutations over GET
        )
        self.hide_schema = not settings.introspection
        self.prepared = PreparedOperations(schema, CACHE_SIZE)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        token = parsed_body.set(None)
        try:
            response = (
                await body_problem(request) or await self.run_prepared(request) or await self.run(request)
            )
        except ClientDisconnect:
            return  # the client hung up mid-body: nobody to answer, nothing worth a log line
        except BodyReadError as error:
            response = error.response()
        except HTTPException as error:
            response = refused(error.status_code, error.reason, ErrorCode.BAD_REQUEST)
        except RecursionError:
            # JSON (or a value in it) nested deeper than Python's stack: a bad request, not a crash.
            response = refused(400, "The request is nested too deeply.", ErrorCode.BAD_REQUEST)
        except Exception:
            # Outside GraphQL execution (request parsing, say): still a JSON error.
            logger.exception("unexpected error while handling %s %s", request.method, request.url.path)
            response = refused(500, "Internal server error", ErrorCode.INTERNAL_SERVER_ERROR)
        finally:
            parsed_body.reset(token)
        await response(scope, receive, send)

    async def run_prepared(self, request: Request) -> Response | None:
        """The answer by the short way (schema/prepared.py) for a plain JSON POST of a
        valid document, or None: Strawberry's `run` answers everything else."""
        parsed = parsed_body.get()
        if parsed is None or not isinstance(parsed[1], dict) or not plain_json_post(request):
            return None
        body = parsed[1]
        query, variables = body.get("query"), body.get("variables")
        operation_name, extensions = body.get("operationName"), body.get("extensions")
        if not (
            isinstance(query, str)
            and isinstance(variables, dict | None)
            and isinstance(operation_name, str | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        document = self.prepared.document(query, operation_name)
        if document is None:
            return None
        context = await self.get_context(request, None)
        result = await self.prepared.execute(document, context, variables, operation_name, extensions)
        data = await self.process_result(request, result)  # type: ignore[arg-type]
        status_code = 400 if is_request_error(data) else 200
        return Response(self.encode_json(data), status_code, media_type="application/json")

    def decode_json(self, data: str | bytes) -> object:
        """The body body_problem already parsed, when these are its bytes; else a parse."""
        parsed = parsed_body.get()
        if parsed is not None and parsed[0] is data:
            return parsed[1]
        return json.loads(data)

    def encode_json(self, data: object) -> bytes:
        """orjson: several times faster than json.dumps on every answer. (A string that
        UTF-8 cannot encode never gets here: body_problem refused it.)"""
        return orjson.dumps(data)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """Our own GraphiQL page (files served from /graphiql/, no CDN) instead of Strawberry's."""
        return graphiql_page()

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        settings = services.settings
        address = client_ip(
            request.client.host if request.client else None,
            request.headers.getlist("x-forwarded-for"),
            settings.trusted_proxy_networks,
        )
        return Context(
            request=request,
            client_ip=address,
            client_bucket=client_bucket(address, settings.ipv6_prefix_length),
            services=services,
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [classify(error, self.hide_schema) for error in result.errors]
            for error in result.errors:
                if error.path is None and error.extensions:  # nothing ran (root fields count their own)
                    metrics.REQUESTS_REFUSED.labels(str(error.extensions["code"])).inc()
        return await super().process_result(request, result)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and is_request_error(response_data):
            response.status_code = 400
        return response


async def body_problem(request: Request) -> JSONResponse | None:
    """The 400 answer for a JSON POST body that cannot be a GraphQL request, or None.

    Strawberry expects UTF-8 JSON holding an object (or a list, refused as a batch);
    anything else would reach it as an exception and a 500. A string that cannot be
    UTF-8 encoded (JSON's `\\ud800`, a lone surrogate) is accepted by no hash, HMAC,
    store or log: refused here, before any resolver runs, so nothing is counted for it
    (no lockout attempt, no code attempt).
    """
    if request.method != "POST" or "json" not in request.headers.get("content-type", ""):
        return None
    raw = await request.body()
    try:
        body = parse_body(raw)
    except (UnicodeDecodeError, ValueError):
        return refused(400, "The request body is not valid UTF-8 JSON.", ErrorCode.BAD_REQUEST)
    if not isinstance(body, (dict, list)):
        return refused(400, "The request body must be a JSON object with a `query`.", ErrorCode.BAD_REQUEST)
    # A lone surrogate can only arrive as an escape, `\\uD800` to `\\uDFFF`: look only then.
    if (b"\\ud" in raw or b"\\uD" in raw) and holds_unencodable_text(body):
        return refused(400, UNENCODABLE, ErrorCode.BAD_USER_INPUT)
    parsed_body.set((raw, body))
    return None


# Bodies with more brackets than this go to the standard library, whose verdict on deep
# nesting (RecursionError: 400 "nested too deeply") orjson, which nests to 1024, would skip.
ORJSON_MAX_BRACKETS = 256


def parse_body(raw: bytes) -> object:
    """orjson for the common case; what orjson refuses (a lone surrogate, NaN, an integer
    over 64 bits) and bodies that could nest deeply get the standard library's verdict,
    as before."""
    if raw.count(b"[") + raw.count(b"{") <= ORJSON_MAX_BRACKETS:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode("utf-8"))


UNENCODABLE = "A string in the request is not valid Unicode (a lone surrogate such as \\ud800)."


def holds_unencodable_text(body: object) -> bool:
    """True when the parsed JSON body holds a string (or key) that cannot be UTF-8 encoded."""
    pending = [body]
    while pending:  # no recursion: the body's nesting is the client's choice
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def graphql_app(settings: Settings) -> ASGIApp:
    """The GraphQL view, behind CORS when CORS_ORIGINS names any origin."""
    view = GraphQLEndpoint(settings)
    if not settings.cors_origin_list:
        return view
    return CORSMiddleware(
        view,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


class GraphQLRoute:
    """/graphql: the view built at start-up, once the settings are known."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["app"].state.graphql(scope, receive, send)


class GraphiQLFiles:
    """/graphiql/<file>: the GraphiQL page's scripts, styles and licences, shipped in the
    repository; a 404 when GRAPHIQL is off."""

    def __init__(self) -> None:
        self.files = StaticFiles(directory=GRAPHIQL_FILES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings: Settings = scope["app"].state.services.settings
        if not settings.graphiql:
            await error_response(404, "GraphiQL is off on this server.", ErrorCode.NOT_FOUND)(
                scope, receive, send
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"no-cache"),  # revalidated by ETag: a refreshed file shows at once
                ]
            await send(message)

        await self.files(scope, receive, send_with_headers)


class WatchDisconnect:
    """Tells the password pool when a client hangs up before its answer, so a hash still
    waiting for a worker is dropped instead of computed for nobody.

    The watch starts only when a hash asks for it (`caller_gone`): the reads that never
    hash, nearly all requests, pay for no task. Nothing else is interrupted: a request
    cut off between two writes would be worse than one that finishes for a client who left.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = HangUpWatch(receive)
        token = caller_gone.set(watch.start)
        try:
            await self.app(scope, watch.receive, send)
        finally:
            watch.stop()
            caller_gone.reset(token)


class HangUpWatch:
    """One request's hang-up watch: `receive` passes messages through and notes when the
    body is complete; `start` (the first time) begins waiting for the disconnect that is
    the only message left after it."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._body_read = asyncio.Event()
        self._gone: asyncio.Event | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
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


class BodyLimits:
    """413 for a request body over MAX_BODY_BYTES, declared or streamed, before it is parsed;
    408 for one that has not fully arrived BODY_READ_TIMEOUT_SECONDS after the headers
    (a slow or stalled body would otherwise hold its connection open for ever)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not hasattr(scope["app"].state, "services"):
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.services.settings
        limit = settings.max_body_bytes
        declared = Headers(scope=scope).get("content-length", "0")
        if not declared.isdigit() or int(declared) > limit:
            await BodyTooLarge(limit).response()(scope, receive, send)
            return
        timeout = settings.body_read_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        received = 0
        complete = False

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
            await self.app(scope, limited_receive, send)
        except BodyReadError as error:
            await error.response()(scope, receive, send)


def plain_json_post(request: Request) -> bool:
    """A POST of `application/json` that asks for one JSON answer (no event stream or
    multipart subscription): the only kind the short way answers."""
    headers = request.headers
    accept = headers.get("accept", "")
    return (
        request.method == "POST"
        and "application/json" in headers.get("content-type", "")
        and "event-stream" not in accept
        and "multipart" not in accept
    )


def is_request_error(response_data: GraphQLHTTPResponse) -> bool:
    """A syntax or validation error: nothing ran, so the request itself was bad."""
    errors = response_data.get("errors") or []
    return response_data.get("data") is None and bool(errors) and all("path" not in e for e in errors)


def refused(status_code: int, message: str, code: ErrorCode) -> JSONResponse:
    """A GraphQL request answered with an error before it could run, counted by code."""
    metrics.REQUESTS_REFUSED.labels(code).inc()
    return error_response(status_code, message, code)


def error_response(status_code: int, message: str, code: ErrorCode) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code)


async def jwks(request: Request) -> JSONResponse:
    """The public signing keys; 404 with HS256, whose secret is never published."""
    key_set = request.app.state.services.tokens.jwks()
    if key_set is None:
        return error_response(
            404, "No public keys: tokens are signed with a shared secret.", ErrorCode.NOT_FOUND
        )
    return JSONResponse(key_set, headers={"Cache-Control": "public, max-age=300"})


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text format; 404 when METRICS is off, 401 without METRICS_TOKEN when set."""
    settings: Settings = request.app.state.services.settings
    if not settings.metrics:
        return error_response(404, "Metrics are off on this server.", ErrorCode.NOT_FOUND)
    if settings.metrics_token is not None and not bearer_matches(request, settings.metrics_token):
        response = error_response(401, "Metrics need the metrics bearer token.", ErrorCode.UNAUTHENTICATED)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    body, content_type = metrics.exposition()
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def bearer_matches(request: Request, token: str) -> bool:
    """True when the request carries `Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """200 when Mongo answers and Redis takes a write in time, else 503 naming who did not."""
    from security.redis_health import redis_writable  # noqa: PLC0415 - kept inside `ready` for the endpoints/ move

    services: Services = request.app.state.services
    checks = {
        "mongo": services.mongo.admin.command("ping"),
        "redis": redis_writable(services.redis),  # a read-only or full Redis is not ready
    }
    results = await asyncio.gather(
        *(asyncio.wait_for(check, services.settings.backend_timeout_seconds) for check in checks.values()),
        return_exceptions=True,
    )
    failed = [name for name, result in zip(checks, results, strict=True) if isinstance(result, BaseException)]
    if failed:
        return JSONResponse({"status": "unavailable", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ok"})
