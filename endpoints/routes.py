"""The routes beside the GraphQL view: /graphql itself (the view built at start-up),
health, JWKS, metrics, the GraphiQL page's files, and the social sign-in callback."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

import metrics
from endpoints.errors import error_response
from graphiql.page import STATIC as GRAPHIQL_FILES
from schema.error_codes import ErrorCode
from security import clock
from security.redis_health import redis_writable
from security.social.providers import ProviderFailed
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


# What the browser is told on the way back to the app: the URL carries a one-time ticket,
# so it must not be kept, nor leak to the next page's requests as a Referer.
CALLBACK_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Pragma": "no-cache"}
PROVIDER_ERRORS = {"access_denied": "access_denied"}
social_logger = logging.getLogger("authql.social")


async def social_callback(request: Request) -> Response:
    """GET (or, for Apple's form_post, POST) /oauth/callback/<provider>: the provider's
    answer. The state is consumed once, the code exchanged and the person identified
    (security/social/providers.py); the browser goes back to the app's redirect URI with a
    single-use `ticket`, or an `error` (access_denied, invalid_state, provider_error,
    expired), and nothing else. An unknown state names no app to go back to: a 400."""
    services: Services = request.app.state.services
    provider = services.social.find(request.path_params["provider"])
    if request.method == "POST":  # form_post: urlencoded, its size bounded by Front
        body = (await request.body()).decode("utf-8", "replace")
        try:
            params = dict(parse_qsl(body, max_num_fields=20))
        except ValueError:  # more fields than any provider sends
            params = {}
    else:
        params = dict(request.query_params)
    state = params.get("state", "")
    flow = await services.social_flows.take(state) if provider is not None else None
    if flow is None or provider is None:
        services.events.emit("social_callback_unknown_state")
        response = error_response(
            400, "This sign-in is unknown, finished or expired; start again.", ErrorCode.BAD_REQUEST
        )
        response.headers.update(CALLBACK_HEADERS)
        return response
    if flow.provider != provider.id:
        return _back(flow.redirect_uri, error="invalid_state")
    if flow.expires_at <= clock.now():
        return _back(flow.redirect_uri, error="expired")
    if "error" in params or not params.get("code"):
        return _back(flow.redirect_uri, error=PROVIDER_ERRORS.get(params.get("error", ""), "provider_error"))
    try:
        identity = await services.provider_clients.identify(
            provider, code=params["code"], verifier=flow.verifier, nonce=flow.nonce
        )
    except ProviderFailed as failure:
        social_logger.warning("social sign-in with %s failed: %s", provider.id, failure)
        services.events.emit("social_provider_failed", provider=provider.id)
        return _back(flow.redirect_uri, error="provider_error")
    ticket = await services.social_flows.issue_ticket(flow, identity)
    return _back(flow.redirect_uri, ticket=ticket)


def _back(redirect_uri: str, **parameter: str) -> RedirectResponse:
    """302 to the app's redirect URI with one parameter added to its query."""
    parts = urlsplit(redirect_uri)
    query = "&".join(item for item in (parts.query, urlencode(parameter)) if item)
    return RedirectResponse(
        urlunsplit(parts._replace(query=query)), status_code=302, headers=CALLBACK_HEADERS
    )
