"""The routes beside the GraphQL view: /graphql itself (the view built at start-up),
health, JWKS, metrics, and the GraphiQL page's files."""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

import metrics
from endpoints.errors import error_response
from graphiql.page import STATIC as GRAPHIQL_FILES
from schema.error_codes import ErrorCode
from security.redis_health import redis_writable
from settings import Settings

if TYPE_CHECKING:
    from services import Services


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
        if not self.enabled(settings):
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

    def enabled(self, settings: Settings) -> bool:
        return bool(settings.graphiql)


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
