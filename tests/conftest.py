"""Real parts for every test: redis-server, a MongoDB-wire server (nx-27017) and an
aiosmtpd SMTP sink, started once per session; or the servers named by
AUTHQL_TEST_MONGO_URL / AUTHQL_TEST_REDIS_URL.

Under pytest-xdist (`-n`, on by default) each worker is a session of its own: its own
services, ports and data directory. A test marked `serial` runs while no other does
(tests/turns.py)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager
from github_provider import GitHubProvider
from oidc_provider import OidcProvider
from redis_client import ON_CLUSTER, redis_client
from redis_cluster import RedisClusterNodes
from redis_sentinel import RedisSentinels
from starlette.applications import Starlette
from turns import Turns

from embedded import EmbeddedService, free_port, start_mongo, start_redis, stop_services
from server import create_app
from settings import RATE_LIMITED_OPERATIONS, Settings

TEST_SECRET = "test-secret-" + "x" * 40
CHEAP_ARGON2 = {"argon2_time_cost": 2, "argon2_memory_kib": 19_456, "argon2_parallelism": 1}
TURNS_DIRECTORY = pytest.StashKey[Path]()
TURNS = pytest.StashKey[Turns]()


# ---------------------------------------------------------------- pytest-xdist workers


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        cache_bytecode(config)
    directory = getattr(config, "workerinput", {}).get("authql_turns")
    if directory:  # a worker: the controller made the directory
        config.stash[TURNS] = Turns(Path(directory))


def cache_bytecode(config: pytest.Config) -> None:
    """With PYTHONDONTWRITEBYTECODE (many containers set it), every Python process the suite
    starts (its workers, each uvicorn, server.py, the bench) compiles every module it imports
    again: a second or two each. Theirs is cached in .pytest_cache instead, never beside
    the sources."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or getattr(config, "cache", None) is None:
        return
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(config.cache.mkdir("pycache")))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """The controller gives every worker the directory of the run's locks."""
    if TURNS_DIRECTORY not in node.config.stash:
        node.config.stash[TURNS_DIRECTORY] = Path(tempfile.mkdtemp(prefix="authql-turns-"))
    node.workerinput["authql_turns"] = str(node.config.stash[TURNS_DIRECTORY])


def pytest_unconfigure(config: pytest.Config) -> None:
    if TURNS in config.stash:
        config.stash[TURNS].close()
    if TURNS_DIRECTORY in config.stash:
        shutil.rmtree(config.stash[TURNS_DIRECTORY], ignore_errors=True)


# The modules that take longest (a full run's --durations, summed per module), longest
# first. They run first, so the workers end together: a long module handed out last keeps
# one worker busy while the others have nothing left. A module not listed runs after them.
LONGEST_MODULES = (
    "test_typescript_client.py",
    "test_bench_smoke.py",  # a minute, no longer alone (not `serial`): first, beside the others
    "test_stateful.py",
    "test_sessions.py",
    "test_fuzz.py",
    "test_web_example.py",
    "test_outbox.py",
    "test_metrics.py",
    "test_webhooks.py",
    "test_codes_and_mail.py",
    "test_lockout.py",
    "test_races.py",
    "test_user_cache.py",
    "test_attacks.py",
    "test_hash_flood.py",
    "test_two_factor.py",
    "test_client_ip.py",
    "test_email_change.py",
    "test_second_factor_guard.py",
    "test_gate.py",
    "test_password_reset.py",
    "test_server_process.py",
    "test_graphiql_browser.py",
    "test_admin_keys.py",
    "test_admin_graphiql_browser.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first, each module's tests in their own order (a stable sort);
    every worker collects the same order, as xdist requires."""
    rank = {name: position for position, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
    for item in items:  # `-m "not node"` leaves out what needs the OpenID Provider too
        if "oidc_provider" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.node)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Under xdist, wait for the test's turn; serial tests in a row keep theirs."""
    turns = item.config.stash.get(TURNS, None)
    if turns is None:
        yield
        return
    alone = item.get_closest_marker("serial") is not None
    turns.take(alone)
    try:
        yield
    finally:
        if not (alone and nextitem is not None and nextitem.get_closest_marker("serial")):
            turns.release()


@dataclass
class Mailbox:
    """What the SMTP sink received, read the way a person reads their inbox."""

    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0
    # The messages by their To header, read once on arrival: `received` is polled every
    # 0.02 s while a test waits, and parsing the header of every message the session's
    # box holds at each poll cost seconds of CPU over a run.
    by_recipient: dict[str, list[EmailMessage]] = field(default_factory=dict)
    # The connection each message came over (the client's address and port), by its To
    # header, and the name the client gave in EHLO: how a sender uses its connections.
    peers: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    ehlo_names: list[str] = field(default_factory=list)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.ehlo_names.append(hostname)
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.by_recipient.setdefault(str(message["To"]), []).append(message)  # type: ignore[arg-type]
        self.peers.setdefault(str(message["To"]), []).append(tuple(session.peer))
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def received(self, to: str) -> list[EmailMessage]:
        return list(self.by_recipient.get(to, ()))

    async def wait_for(self, to: str, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """The `count`-th message sent to `to`, waiting for it to arrive."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received(to)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no mail #{count} for {to}")
            await asyncio.sleep(0.02)
        return self.received(to)[count - 1]

    async def code_for(self, to: str, count: int = 1) -> str:
        message = await self.wait_for(to, count)
        match = re.search(r"^\s*(\d{6,10})\s*$", text_of(message), re.MULTILINE)
        assert match, "the mail holds no code"
        return match.group(1)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("authql")


@pytest.fixture(scope="session")
def backend_urls(data_dir: Path) -> Iterator[dict[str, str]]:
    started: list[EmbeddedService] = []
    mongo_url = os.environ.get("AUTHQL_TEST_MONGO_URL")
    redis_url = os.environ.get("AUTHQL_TEST_REDIS_URL")
    try:
        if not mongo_url:
            started.append(start_mongo(data_dir))
            mongo_url = started[-1].url
        if not redis_url:
            started.append(start_redis(data_dir))
            redis_url = started[-1].url
        urls = {"mongo_url": mongo_url, "redis_url": redis_url}
        if ON_CLUSTER:  # AUTHQL_TEST_REDIS_URL names a cluster node
            urls["redis_cluster"] = "true"
        yield urls
    finally:
        stop_services(started)


@pytest.fixture(scope="session")
def redis_cluster(data_dir: Path) -> Iterator[RedisClusterNodes]:
    """A local Redis Cluster (3 primaries, 3 replicas), started once per worker that asks:
    tests/redis_cluster.py."""
    cluster = RedisClusterNodes(data_dir / "redis-cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel(data_dir: Path) -> Iterator[RedisSentinels]:
    """A primary, a replica and three sentinels, started once per worker that asks:
    tests/redis_sentinel.py."""
    sentinels = RedisSentinels(data_dir / "redis-sentinel")
    try:
        sentinels.start()
        yield sentinels
    finally:
        sentinels.stop()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """A real OpenID Provider (tests/oidc_provider.py), one Node process per test worker."""
    with OidcProvider.running(tmp_path_factory.mktemp("oidc") / "provider.log") as provider:
        yield provider


@pytest.fixture(scope="session")
def github_provider() -> Iterator[GitHubProvider]:
    """A GitHub-shaped OAuth server and REST API (tests/github_provider.py) on a real socket."""
    with GitHubProvider.running() as provider:
        yield provider


@pytest.fixture(scope="session")
def settings(backend_urls: dict[str, str], mailbox: Mailbox) -> Settings:
    return test_settings(backend_urls, mailbox)


def test_settings(backend_urls: dict[str, str], mailbox: Mailbox, **overrides: Any) -> Settings:
    """Settings aimed at the test services; one database per test session."""
    values: dict[str, Any] = {
        "_env_file": None,
        "mongo_db": "authql_test_" + SESSION_TAG,
        "jwt_secret": TEST_SECRET,
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_security": "none",
        "smtp_timeout_seconds": 3,
        "backend_timeout_seconds": 2,
        # Every test calls from one address: per-IP limits are tested on their own.
        **{f"rate_limit_{operation}": "10000/minute" for operation in RATE_LIMITED_OPERATIONS},
        "rate_limit_documents": "100000/minute",
        "login_lockout_threshold": 20,
        # The cheapest argon2id the settings allow: tests where the cost is the point
        # (the rehash, the hash queue) ask for more.
        **CHEAP_ARGON2,
        "mails_per_hour": 1_000_000,  # the global cap is shared by the whole session's Redis
        # Off by default with a MONGO_URL; tests explore the schema (test_settings checks the default).
        "graphiql": True,
        "introspection": True,
        "mails_per_ip_per_hour": 1_000_000,  # every test calls from one address
        "code_failures_per_ip_per_hour": 100_000,  # likewise
        "code_failures_per_hour": 10_000_000,  # shared by the whole session's Redis
        # Each app its own outbox: apps of one test session share the database, and an app
        # whose SMTP is down must not take (or send) the mail of another.
        "outbox_collection": "outbox_" + secrets.token_hex(6),
        # Every test app builds the indexes it needs (its own outbox's too), as the
        # embedded default does; tests/test_mongo_settings.py covers the check.
        "mongo_indexes": "build",
        **backend_urls,
        **overrides,
    }
    if "redis_url" in overrides and "redis_cluster" not in overrides:
        values["redis_cluster"] = False  # a Redis of the test's own: one server, cluster run or not
    return Settings(**values)


SESSION_TAG = secrets.token_hex(4)
# The peer address every `serve` app sees (its client bucket, without proxy headers).
ASGI_CLIENT_IP = "203.0.113.7"
# The time in-process apps check TOTP codes at (serve_app): the middle of the step now.
TOTP_NOW = time.time() // 30 * 30 + 15


async def end_resend_cooldown(backend_urls: dict[str, str], prefix: str, flow_id: str) -> None:
    """Make the flow's resend cooldown be over now, as if its seconds had passed."""
    redis = redis_client(backend_urls)
    try:
        await redis.hset(f"{prefix}:{{{flow_id}}}", "resend_at_ms", 0)
    finally:
        await redis.aclose()


async def resent_code_promoted(backend_urls: dict[str, str], prefix: str, flow_id: str) -> None:
    """Wait until the outbox has delivered a resent code and promoted it: from then on the
    earlier code no longer verifies (a mail lands in the sink a moment before that)."""
    redis = redis_client(backend_urls)
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while await redis.hexists(f"{prefix}:{{{flow_id}}}", "pending"):
            assert asyncio.get_running_loop().time() < deadline, "the resent code was never promoted"
            await asyncio.sleep(0.02)
    finally:
        await redis.aclose()


@asynccontextmanager
async def serve(settings: Settings, *, totp_now: float | None = TOTP_NOW) -> AsyncIterator[httpx.AsyncClient]:
    """The app with `settings`, started and reached over ASGI by httpx."""
    async with serve_app(settings, totp_now=totp_now) as (client, _):
        yield client


@asynccontextmanager
async def serve_app(
    settings: Settings, *, totp_now: float | None = TOTP_NOW
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """As `serve`, with the app itself (its state: the GraphQL view, the services).

    The app checks TOTP codes at `totp_now` (TotpSecrets.matching_step takes `now`), a
    time stopped in the middle of a 30-second step: a code a test computes for it stays
    in its step however long the test takes, with no wait for a step's start. None: the
    server's own clock (a test of the clock itself)."""
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        if totp_now is not None:
            totp = app.state.services.totp
            totp.matching_step = functools.partial(type(totp).matching_step, now=totp_now)
        transport = httpx.ASGITransport(app=manager.app, client=(ASGI_CLIENT_IP, 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://authql.test") as client:
            yield client, app


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client


@contextmanager
def captured_security_events() -> Iterator[list[dict[str, Any]]]:
    """The security events logged inside the block, parsed."""
    events: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            events.append(json.loads(record.getMessage()))

    handler = Collect(level=logging.INFO)
    log = logging.getLogger("authql.security")
    previous = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield events
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)
