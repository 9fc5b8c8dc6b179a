"""authql's composition root: settings, backends, routes, and the `python server.py` entry.

`server:app` only connects to MONGO_URL and REDIS_URL, so `uvicorn server:app
--workers 4` works against real services. `python server.py` first starts the
embedded services that are not configured (nx-27017, redis-server) as children,
then serves the same app on HOST:PORT.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from beanie import init_beanie
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from documents import DOCUMENT_MODELS
from endpoints import BodyLimits, GraphQLRoute, WatchDisconnect, graphql_app, jwks, live, ready
from mail import ConsoleMailer, Mailer, SmtpMailer
from resolvers.inputs import common_passwords
from security.codes import CodeFlows
from security.events import JsonLineFormatter, SecurityEvents
from security.keys import refuse_loose_permissions
from security.lockout import LoginLockout
from security.passwords import Passwords
from security.rate_limits import RateLimits
from security.sessions import Sessions
from security.tokens import Tokens
from settings import RATE_LIMITED_OPERATIONS, ConfigurationError, MailerKind, Settings, load_settings

logger = logging.getLogger("authql")


@dataclass
class Backends:
    """Everything a request needs, built once per process at start-up."""

    settings: Settings
    mongo: AsyncMongoClient[Any]
    redis: Redis
    passwords: Passwords
    tokens: Tokens
    sessions: Sessions
    registrations: CodeFlows
    password_resets: CodeFlows
    mailer: Mailer
    rate_limits: RateLimits
    lockout: LoginLockout
    events: SecurityEvents

    async def bind_documents(self) -> None:
        await init_beanie(database=self.mongo[self.settings.mongo_db], document_models=DOCUMENT_MODELS)

    async def close(self) -> None:
        self.passwords.close()
        await self.redis.aclose()
        await self.mongo.close()


# Beanie binds document classes per process, to the last initialised database. When
# one of several apps in a process (tests do this) stops, the others rebind.
live_backends: list[Backends] = []


async def open_backends(settings: Settings) -> Backends:
    if settings.mongo_url is None or settings.redis_url is None or settings.jwt_secret is None:
        raise ConfigurationError(
            "server:app needs MONGO_URL, REDIS_URL and JWT_SECRET; "
            "run `python server.py` for the embedded default"
        )
    tokens = Tokens.from_settings(settings)  # first: a bad key file fails before anything opens
    timeout_ms = int(settings.backend_timeout_seconds * 1000)
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
    )
    redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.backend_timeout_seconds,
        socket_connect_timeout=settings.backend_timeout_seconds,
        # One immediate retry on a dropped connection (Redis restarted); a hung
        # Redis times out once instead of several times over.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=30,
    )
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        workers=settings.password_workers,
        queue_limit=settings.password_queue_bound,
    )
    return Backends(
        settings=settings,
        mongo=mongo,
        redis=redis,
        passwords=passwords,
        tokens=tokens,
        sessions=Sessions(
            redis,
            secret=settings.jwt_secret.encode(),
            ttl_seconds=settings.refresh_token_ttl_seconds,
            grace_seconds=settings.refresh_reuse_grace_seconds,
            access_token_ttl_seconds=settings.access_token_ttl_seconds,
            max_age_seconds=settings.session_max_age_seconds,
        ),
        registrations=code_flows(redis, settings, "reg", settings.registration_ttl_seconds),
        password_resets=code_flows(redis, settings, "reset", settings.password_reset_ttl_seconds),
        mailer=build_mailer(settings),
        rate_limits=RateLimits(
            redis, {operation: settings.rate_limit(operation) for operation in RATE_LIMITED_OPERATIONS}
        ),
        lockout=LoginLockout(
            redis, secret=settings.jwt_secret.encode(), threshold=settings.login_lockout_threshold
        ),
        events=SecurityEvents(settings.jwt_secret.encode()),
    )


def code_flows(redis: Redis, settings: Settings, prefix: str, flow_ttl_seconds: int) -> CodeFlows:
    """One machinery for every emailed-code flow: the same limits and attempt rules."""
    assert settings.jwt_secret is not None
    return CodeFlows(
        redis,
        prefix=prefix,
        secret=settings.jwt_secret.encode(),
        code_length=settings.code_length,
        code_ttl_seconds=settings.code_ttl_seconds,
        max_attempts=settings.code_max_attempts,
        resend_cooldown_seconds=settings.code_resend_cooldown_seconds,
        codes_per_address_per_hour=settings.codes_per_address_per_hour,
        code_failures_per_address_per_day=settings.code_failures_per_address_per_day,
        mails_per_hour=settings.mails_per_hour,
        mails_per_client_per_hour=settings.mails_per_ip_per_hour,
        flow_ttl_seconds=flow_ttl_seconds,
    )


def build_mailer(settings: Settings) -> Mailer:
    """The mailer settings chose; the settings already refused console mail by default
    outside the embedded default, and smtp without SMTP_HOST."""
    if settings.mailer_kind == MailerKind.CONSOLE:
        return ConsoleMailer()
    assert settings.smtp_host is not None
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        security=settings.smtp_security.value,
        timeout=settings.smtp_timeout_seconds,
        sender=settings.mail_from,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app; without `settings` it reads the environment at start-up."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        backends = await open_backends(settings or load_settings())
        app.state.graphql = graphql_app(backends.settings)
        await backends.bind_documents()
        await asyncio.to_thread(common_passwords)  # the blocklist, loaded off the event loop
        live_backends.append(backends)
        app.state.backends = backends
        try:
            yield
        finally:
            live_backends.remove(backends)
            await backends.close()
            if live_backends:
                await live_backends[-1].bind_documents()

    routes = [
        Route("/graphql", GraphQLRoute(), methods=["GET", "POST", "OPTIONS"]),
        Route("/health/live", live),
        Route("/health/ready", ready),
        Route("/.well-known/jwks.json", jwks),
    ]
    middleware = [Middleware(WatchDisconnect), Middleware(BodyLimits)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


app = create_app()


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

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    security_log = logging.getLogger("authql.security")
    security_log.propagate = False
    security_handler = logging.StreamHandler()
    security_handler.setFormatter(JsonLineFormatter())
    security_log.addHandler(security_handler)
    try:
        settings = load_settings()
    except ConfigurationError as error:
        sys.exit(f"authql: {error}")
    data_dir = settings.data_dir.resolve()
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    services = start_services(data_dir, mongo=settings.mongo_url is None, redis=settings.redis_url is None)
    try:
        overrides: dict[str, Any] = {service.name + "_url": service.url for service in services}
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
        if settings.mailer_kind == MailerKind.CONSOLE:
            logger.info("console mailer: mail is printed to this console (codes included)")
        application = create_app(settings.model_copy(update=overrides))
        # uvicorn's own X-Forwarded-For handling is off: TRUSTED_PROXIES alone decides.
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            proxy_headers=False,
            **connection_limits(settings),
        )
    finally:
        stop_services(services)


if __name__ == "__main__":
    main()
