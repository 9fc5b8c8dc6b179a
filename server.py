"""authql's composition root: settings, services, routes, and the `python server.py` entry.

`server:app` only connects to MONGO_URL and REDIS_URL, so `uvicorn server:app
--workers 4` works against real services. `python server.py` first starts the
embedded services that are not configured (nx-27017, redis-server) as children,
then serves the same app on HOST:PORT.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import logging.config
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

import metrics
from endpoints.admin import AdminGraphiQLFiles, AdminGraphQLRoute, admin_graphql_app
from endpoints.graphql import graphql_app
from endpoints.middleware import Front
from endpoints.routes import (
    GraphiQLFiles,
    GraphQLRoute,
    jwks,
    live,
    metrics_endpoint,
    ready,
    social_callback,
)
from logs import fast_access_lines, lean_records, log_config
from security.keyring import LEGACY_DATA_KEY_ID, generate, write_key
from security.keys import refuse_loose_permissions
from security.password_policy import common_passwords
from security.rate_limits import open_storage
from security.redis_durability import warn_if_forgetful
from services import open_services
from settings import ConfigurationError, MailerKind, Settings, load_settings

logger = logging.getLogger("authql")


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app; without `settings` it reads the environment at start-up."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings or load_settings())
        app.state.graphql = graphql_app(services)
        app.state.admin_graphql = admin_graphql_app(services)  # None without ADMIN_API_KEY
        await services.bind_documents()
        try:
            await services.create_admin_indexes()
            await services.ensure_indexes()  # built here, or only checked (documents/migrate.py)
        except BaseException:
            await services.close()  # a refused start leaves no connection open
            raise
        await asyncio.to_thread(common_passwords)  # the blocklist, loaded off the event loop
        await services.outbox.start()  # this process's mail sender (mail/outbox.py)
        await services.webhooks.start()  # this process's webhook sender (webhooks/deliveries.py)
        services.redis_watch.start(services.redis)  # notices a restored Redis (security/redis_watch.py)
        await warn_if_forgetful(services.redis)  # no persistence, or evicting keys
        await open_storage(services.redis)  # the per-IP limits' own cluster client, if any
        app.state.services = services
        settle_heap()
        try:
            yield
        finally:
            await services.outbox.stop()  # after uvicorn drained the requests: no new mail comes
            await services.webhooks.stop()
            await services.close()
            metrics.process_stopped()

    routes = [
        Route("/graphql", GraphQLRoute(), methods=["GET", "POST", "OPTIONS"]),
        Route("/health/live", live),
        Route("/health/ready", ready),
        Route("/.well-known/jwks.json", jwks),
        Route("/metrics", metrics_endpoint),
        Route("/oauth/callback/{provider}", social_callback, methods=["GET", "POST"]),
        Mount("/graphiql", GraphiQLFiles()),
        Route("/admin/graphql", AdminGraphQLRoute(), methods=["GET", "POST"]),
        Mount("/admin/graphiql", AdminGraphiQLFiles()),
    ]
    middleware = [Middleware(Front)]  # endpoints/middleware.py: one layer does all the middleware's work
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


app = create_app()


def settle_heap() -> None:
    """What start-up built (modules, the schema, settings, clients) moves out of the
    collector's sight: a full collection then scans only what requests allocate, instead
    of stalling every request in flight for the whole heap (the bench's `me` p99 halved).
    Once per process: a second app in the same process (tests) adds nothing to freeze.
    (A flag, not `gc.get_freeze_count()`: that walks every frozen object, 20 ms a call.)"""
    global heap_settled
    if not heap_settled:
        heap_settled = True
        gc.collect()
        gc.freeze()
        # The youngest generation is collected every YOUNG_COLLECTION_EVERY new container
        # objects instead of Python's 700: each collection scans every young object still
        # alive, and with dozens of requests in flight that was a scan of thousands of
        # objects every request or two (3.6 % of a signed-in read's CPU, py-spy --native).
        gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


heap_settled = False
YOUNG_COLLECTION_EVERY = 10_000


def embedded_jwt_secret(data_dir: Path) -> str:
    """A secret generated once and kept under DATA_DIR, so restarts keep tokens valid."""
    path = data_dir / "jwt_secret"
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    refuse_loose_permissions(path, "DATA_DIR")  # like a key file: a secret others can read is spent
    return path.read_text().strip()


def embedded_data_keys(data_dir: Path, jwt_secret: str, *, upgrading: bool) -> Path:
    """DATA_DIR/data-keys, with a key generated at the first start (security/keyring.py).

    `upgrading`: DATA_DIR holds data from before data keys, sealed and keyed with the
    JWT secret; it becomes the `legacy` key, kept for reading (README, "Rotating keys")."""
    directory = data_dir / "data-keys"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not any(path for path in directory.iterdir() if not path.name.startswith(".")):
        if upgrading:
            write_key(directory, LEGACY_DATA_KEY_ID, jwt_secret.encode())
        generate(directory)
    return directory


def stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM ends `main` like Ctrl-C: uvicorn drains its requests first (it re-raises the
    signal it caught once it has stopped), then the embedded children are stopped."""
    raise SystemExit(0)


def connection_limits(settings: Settings) -> dict[str, Any]:
    """What uvicorn itself can bound: idle keep-alive connections, the size of an unfinished
    request head, and how many connections or requests it serves before answering 503.
    (It has no timeout for a request head that arrives slowly; see README, Security.)"""
    return {
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": 16 * 1024,
        "limit_concurrency": settings.max_connections,
    }


def main() -> None:
    """Start the embedded services that are not configured, then serve until Ctrl-C or SIGTERM."""
    from embedded import start_services, stop_services  # noqa: PLC0415 - only this entry spawns

    try:
        settings = load_settings()
    except ConfigurationError as error:
        sys.exit(f"authql: {error}")
    logs = log_config(settings.log_format)
    logging.config.dictConfig(logs)  # now, for the start-up lines; uvicorn applies it again
    lean_records()  # fields neither log format shows are not filled in per record
    fast_access_lines()  # the access line written without a record when it is text
    logging.captureWarnings(True)  # a library's warning is a log record too, not a stray stderr line
    data_dir = settings.data_dir.resolve()
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    data_before_keys = (data_dir / "mongo").exists()  # data keyed by the JWT secret, if no data key yet
    services = start_services(
        data_dir,
        mongo=settings.mongo_url is None,
        redis=settings.redis_url is None,
        avoid=frozenset({settings.port}),  # uvicorn binds it only once they are up
    )
    try:
        overrides: dict[str, Any] = {service.name + "_url": service.url for service in services}
        if settings.mongo_url is None and settings.mongo_indexes is None:
            overrides["mongo_indexes"] = "build"  # the embedded store: this process is its migrate step
        for service in services:
            logger.info(
                "embedded %s at %s (log %s); set %s_URL to use a real server",
                service.name,
                service.url,
                service.log_path,
                service.name.upper(),
            )
        if settings.jwt_secret is None:
            try:
                overrides["jwt_secret"] = embedded_jwt_secret(data_dir)
            except ConfigurationError as error:
                sys.exit(f"authql: {error}")
            logger.warning("JWT_SECRET is not set: using a generated one kept in %s", data_dir / "jwt_secret")
        if settings.mongo_url is None and not settings.has_data_keys:
            jwt_secret: str = overrides.get("jwt_secret") or settings.jwt_secret or ""
            try:
                overrides["data_keys_dir"] = embedded_data_keys(
                    data_dir, jwt_secret, upgrading=data_before_keys
                )
            except (ConfigurationError, OSError) as error:
                sys.exit(f"authql: {error}")
            logger.info("DATA_KEYS is not set: using the data keys kept in %s", overrides["data_keys_dir"])
        if settings.mailer_kind == MailerKind.CONSOLE:
            logger.info("console mailer: mail is printed to this console (codes included)")
        application = create_app(settings.model_copy(update=overrides))
        # uvicorn's own X-Forwarded-For handling is off: TRUSTED_PROXIES alone decides.
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            proxy_headers=False,
            log_config=logs,
            **connection_limits(settings),
        )
    finally:
        stop_services(services)


if __name__ == "__main__":
    main()
