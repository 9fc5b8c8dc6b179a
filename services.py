"""The services every request uses, opened once per process from the settings: MongoDB
(Beanie), Redis, password hashing, tokens, sessions, the emailed-code flows, the
mailer, the per-IP limits, the lockout, the security log and two-factor."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from dataclasses import dataclass
from functools import partial
from typing import Any, cast
from urllib.parse import unquote, urlparse

import httpx2
from beanie import init_beanie
from beanie.exceptions import CollectionWasNotInitialized
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from documents import DOCUMENT_MODELS
from documents.migrate import MIGRATE, build_indexes, missing_indexes
from documents.webhook import DELIVERIES_SUFFIX, ENDPOINTS_SUFFIX
from logs import current_request_id
from mail import ConsoleMailer, Mailer, SmtpMailer
from mail.outbox import Outbox
from mail.sealing import MailSeal
from security.admin_keys import AdminKeys
from security.audit import AuditLog
from security.cluster_client import ClusterClient
from security.codes import CodeFlows, Limits
from security.durable_counts import DurableCounts, Lasting
from security.events import SecurityEvents
from security.hooks import Hooks
from security.keyring import (
    EVENT_FINGERPRINTS,
    KNOWN_CLIENTS,
    LOGIN_LOCKOUT,
    ONE_TIME_CODES,
    PASSKEY_DECOYS,
    KeyRing,
)
from security.known_clients import KnownClients
from security.lockout import LoginLockout
from security.lua.line import close_line
from security.passkeys import PasskeyCeremonies
from security.passwords import Passwords
from security.rate_limits import RateLimits, close_storage
from security.redis_epoch import RedisEpoch
from security.redis_watch import RedisWatch
from security.sessions import ACCESS_TOKEN_MARGIN_SECONDS, Sessions
from security.social.config import SocialConfig, social_config
from security.social.flows import SocialFlows
from security.social.providers import ProviderClients
from security.tokens import Tokens
from security.two_factor import (
    ENROLLMENT_TTL_SECONDS,
    SECOND_FACTOR_ATTEMPTS,
    Challenges,
    CodeTries,
    RecoveryCodes,
    SecondFactorBudget,
    TotpSecrets,
)
from security.user_cache import UserCache
from settings import RATE_LIMITED_OPERATIONS, ConfigurationError, MailerKind, Settings
from webhooks.deliveries import Webhooks
from webhooks.endpoints import EndpointStore


@dataclass
class Services:
    """Everything a request needs, built once per process at start-up: the settings, the
    stores, and the security and mail services on them. Each request's Context holds it."""

    settings: Settings
    data_keys: KeyRing
    mongo: AsyncMongoClient[Any]
    redis: Redis
    passwords: Passwords
    tokens: Tokens
    sessions: Sessions
    users: UserCache
    registrations: CodeFlows
    password_resets: CodeFlows
    code_logins: CodeFlows
    email_changes: CodeFlows
    mailer: Mailer
    outbox: Outbox
    rate_limits: RateLimits
    lockout: LoginLockout
    events: SecurityEvents
    totp: TotpSecrets
    recovery_codes: RecoveryCodes
    challenges: Challenges
    code_tries: CodeTries
    second_factor_budget: SecondFactorBudget
    known_clients: KnownClients
    redis_watch: RedisWatch
    admin_keys: AdminKeys
    audit: AuditLog
    # Social sign-in: the configured providers, the flows in Redis, the providers' documents.
    social: SocialConfig
    social_flows: SocialFlows
    provider_clients: ProviderClients
    passkeys: PasskeyCeremonies
    # Outgoing HTTP (webhooks, hooks): one client per process, its connections kept alive.
    http: httpx2.AsyncClient
    webhooks: Webhooks
    hooks: Hooks

    async def bind_documents(self) -> None:
        """Bind Beanie's document classes to this database. Beanie binds them per process,
        not per client: of several apps in one process (the tests), each binds them again
        before it serves a request (`documents_bound`, endpoints/middleware.py), however they were left."""
        await init_beanie(
            database=self.mongo[self.settings.mongo_db], document_models=DOCUMENT_MODELS, skip_indexes=True
        )

    def documents_bound(self) -> bool:
        """Whether Beanie's document classes work on this database through this client."""
        try:
            database = DOCUMENT_MODELS[0].get_pymongo_collection().database
        except CollectionWasNotInitialized:
            return False
        return database.client is self.mongo and database.name == self.settings.mongo_db

    async def create_admin_indexes(self) -> None:
        if self.admin_keys.enabled:  # the admin API's own collections (security/admin_keys.py, audit.py)
            await self.admin_keys.create_indexes()
            await self.audit.create_indexes()

    async def ensure_indexes(self) -> None:
        """Build the indexes (MONGO_INDEXES=build), or refuse to start without them."""
        database = self.mongo[self.settings.mongo_db]
        if self.settings.builds_indexes:
            await build_indexes(database, self.settings.outbox_collection)
            return
        missing = await missing_indexes(database, self.settings.outbox_collection)
        if missing:
            raise ConfigurationError(
                f"MongoDB lacks the indexes {', '.join(missing)}: run `{MIGRATE}` once before the workers"
            )

    async def close(self) -> None:
        await self.audit.drain()
        await self.redis_watch.stop()
        self.passwords.close()
        await self.http.aclose()
        close_line(self.redis)  # the signed-in path's own connection (security/lua/line.py)
        # Closing sockets to a Redis node that died or moved meanwhile must neither stop the
        # shutdown nor hold it: each close is bounded by the backend timeout.
        for close in (partial(close_storage, self.redis), self.redis.aclose):
            with contextlib.suppress(RedisError, RedisClusterException, OSError, TimeoutError):
                async with asyncio.timeout(self.settings.backend_timeout_seconds):
                    await close()
        sentinels = getattr(getattr(self.redis, "connection_pool", None), "sentinel_manager", None)
        if sentinels is not None:  # REDIS_SENTINELS: the connections to the sentinels too
            with contextlib.suppress(RedisError, OSError):
                await sentinels.aclose()
        await self.mongo.close()


# Users kept in process by the hot path (security/user_cache.py): about 2 KB each, so
# under 20 MB when full; least recently served go first.
USER_CACHE_SIZE = 10_000
# The longest window a durable count belongs to (wrong codes per address, a day): how
# long Redis's data counts as young after it began (security/redis_epoch.py).
DAY_SECONDS = 86_400
# The MongoDB collection of counts that must survive Redis losing its data.
DURABLE_COUNTS = "security_counts"


async def open_services(settings: Settings) -> Services:
    if (
        settings.mongo_url is None
        or settings.redis_url is None
        or (settings.jwt_secret is None and not settings.has_data_keys)
    ):
        raise ConfigurationError(
            "server:app needs MONGO_URL, REDIS_URL and JWT_SECRET; "
            "run `python server.py` for the embedded default"
        )
    tokens = Tokens.from_settings(settings)  # first: a bad key file fails before anything opens
    social = social_config(settings)  # a misconfigured provider too
    ring = KeyRing.from_settings(settings)  # every HMAC key and sealed value derives from it
    timeout_ms = int(settings.backend_timeout_seconds * 1000)
    redis_watch = RedisWatch(interval_seconds=settings.redis_watch_seconds)
    selection_ms = int(settings.mongo_selection_seconds * 1000)
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        # Long enough for a replica set to elect a new primary (settings.py); a write or
        # read that lost its primary is retried once on the new one (pymongo's default).
        serverSelectionTimeoutMS=selection_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms, selection_ms),
        # A write counts once a majority has it on disk: an election never rolls back a
        # revoked session or a changed password. Reads go to the primary: never stale.
        w="majority",
        journal=True,
        wTimeoutMS=max(timeout_ms, selection_ms),
        readPreference="primary",
    )
    redis = open_redis(settings, redis_watch)
    # Failures and per-address quotas are counted in MongoDB too, and read back while Redis's
    # data is young: a Redis that restarted empty hands out no fresh guesses or mails.
    epoch = RedisEpoch(redis, horizon_seconds=DAY_SECONDS, recheck_seconds=settings.redis_watch_seconds)
    lasting = Lasting(DurableCounts(mongo[settings.mongo_db][DURABLE_COUNTS]), epoch)
    registrations = code_flows(
        redis, settings, "reg", settings.registration_ttl_seconds, ring=ring, lasting=lasting
    )
    password_resets = code_flows(
        redis, settings, "reset", settings.password_reset_ttl_seconds, ring=ring, lasting=lasting
    )
    # One step after the code: these flows live as long as their code. They have no resend,
    # so a new start is one, under the same cooldown per address the code goes to.
    code_ttl = settings.code_ttl_seconds
    code_logins = code_flows(
        redis, settings, "login", code_ttl, start_cooldown=True, ring=ring, lasting=lasting
    )
    email_changes = code_flows(
        redis, settings, "email-change", code_ttl, start_cooldown=True, ring=ring, lasting=lasting
    )
    mailer = build_mailer(settings)
    events = SecurityEvents(ring.derive(EVENT_FINGERPRINTS), request_id=current_request_id)
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        workers=settings.password_workers,
        queue_limit=settings.password_queue_bound,
        niceness=settings.hashing_niceness,
    )
    sessions = Sessions(
        redis,
        ring=ring,
        ttl_seconds=settings.refresh_token_ttl_seconds,
        grace_seconds=settings.refresh_reuse_grace_seconds,
        access_token_ttl_seconds=settings.access_token_ttl_seconds,
        max_age_seconds=settings.session_max_age_seconds,
        confirm_seconds=settings.kept_trust_seconds,
        confirmed_kept=USER_CACHE_SIZE,
        max_per_user=settings.max_sessions_per_user,
    )
    users = UserCache(
        redis,
        size=USER_CACHE_SIZE,
        ttl_seconds=settings.access_token_ttl_seconds + ACCESS_TOKEN_MARGIN_SECONDS,
        max_age_seconds=settings.kept_trust_seconds,
    )
    audit = AuditLog(
        mongo[settings.mongo_db]["audit_events"], retention_seconds=settings.audit_retention_days * 86_400
    )
    if settings.admin_api_key is not None:  # the people's own events join the admin API's audit log
        events.sink = audit.person_event
    # What this process kept is dropped when Redis turns out to be a new server.
    for forget in (tokens.forget_all, sessions.forget_confirmed, users.forget_all, epoch.forget):
        redis_watch.on_change(forget)
    # No proxies from the environment: a proxy would connect to a name after the address check.
    http = httpx2.AsyncClient(verify=tls_context(), trust_env=False, follow_redirects=False, timeout=10.0)
    return Services(
        settings=settings,
        data_keys=ring,
        mongo=mongo,
        redis=redis,
        passwords=passwords,
        tokens=tokens,
        sessions=sessions,
        users=users,
        registrations=registrations,
        password_resets=password_resets,
        code_logins=code_logins,
        email_changes=email_changes,
        mailer=mailer,
        outbox=build_outbox(
            mongo,
            settings,
            ring,
            mailer,
            events,
            [registrations, password_resets, code_logins, email_changes],
        ),
        rate_limits=RateLimits(
            redis,
            {
                **{operation: settings.rate_limit(operation) for operation in RATE_LIMITED_OPERATIONS},
                "admin": settings.rate_limit_admin,  # per admin key, not per IP
            },
        ),
        lockout=LoginLockout(
            redis,
            key=ring.derive(LOGIN_LOCKOUT),
            threshold=settings.login_lockout_threshold,
            address_threshold=settings.login_lockout_address_threshold,
            durable=lasting.counts,
            epoch=epoch,
        ),
        events=events,
        totp=TotpSecrets(ring, settings.totp_issuer),
        recovery_codes=RecoveryCodes(ring),
        challenges=Challenges(
            redis, ttl_seconds=settings.second_factor_ttl_seconds, max_attempts=SECOND_FACTOR_ATTEMPTS
        ),
        code_tries=CodeTries(redis, tries=SECOND_FACTOR_ATTEMPTS, window_seconds=ENROLLMENT_TTL_SECONDS),
        second_factor_budget=SecondFactorBudget(redis),
        known_clients=KnownClients(redis, key=ring.derive(KNOWN_CLIENTS)),
        redis_watch=redis_watch,
        admin_keys=AdminKeys(mongo[settings.mongo_db]["admin_keys"], ring, settings.admin_api_key),
        audit=audit,
        social=social,
        social_flows=SocialFlows(redis),
        provider_clients=ProviderClients(),
        passkeys=passkey_ceremonies(redis, settings, ring),
        http=http,
        webhooks=build_webhooks(mongo, settings, ring, events, http),
        hooks=Hooks(
            http,
            before_sign_up_url=settings.hook_before_sign_up_url,
            custom_claims_url=settings.hook_custom_claims_url,
            secret=settings.hook_secret,
            timeout_seconds=settings.hook_timeout_seconds,
        ),
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The CA bundle, loaded once per process (about 90 ms of CPU) and shared by each
    Services the process opens (the tests open hundreds)."""
    return httpx2.create_ssl_context(trust_env=False)


def passkey_ceremonies(redis: Redis, settings: Settings, ring: KeyRing) -> PasskeyCeremonies:
    rp_id, origins = settings.webauthn_rp
    return PasskeyCeremonies(
        redis,
        rp_id=rp_id,
        rp_name=settings.webauthn_rp_name,
        origins=origins,
        decoy_key=ring.derive(PASSKEY_DECOYS),
    )


def open_redis(settings: Settings, watch: RedisWatch) -> Redis:
    """The Redis client the settings ask for: one server, or a Redis Cluster reached
    through the seed node `REDIS_URL` names (every key family carries a hash tag, so
    each script, pipeline and transaction stays in one slot)."""
    assert settings.redis_url is not None
    timeouts: dict[str, Any] = {
        "socket_timeout": settings.backend_timeout_seconds,
        "socket_connect_timeout": settings.backend_timeout_seconds,
    }
    if settings.redis_cluster:
        # Two tries: the second follows a refreshed slot map (a failover moved the slot).
        # No more: a shard with no primary answers SERVICE_UNAVAILABLE at once rather
        # than after the client's default backoff. Its run_ids are read in the
        # background (RedisWatch.start): no per-connection hook on a cluster client.
        # Its transactions rebuild a slot map on this loop (security/cluster_client.py).
        cluster: Any = ClusterClient.from_url(
            settings.redis_url, retry=Retry(NoBackoff(), 1), require_full_coverage=False, **timeouts
        )
        return cast(Redis, cluster)
    if settings.redis_sentinels is not None:
        return sentinel_primary(settings, watch, timeouts)
    return Redis.from_url(
        settings.redis_url,
        **timeouts,
        # One immediate retry on a dropped connection (Redis restarted); a hung
        # Redis times out once instead of several times over.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=30,
        # Every new connection reads Redis's run_id first: a restarted or failed-over
        # Redis drops what this process kept before any request trusts it.
        redis_connect_func=watch.on_connect,
    )


def sentinel_primary(settings: Settings, watch: RedisWatch, timeouts: dict[str, Any]) -> Redis:
    """The primary the sentinels name, asked again whenever a connection to it breaks or
    it turns read-only (a failover): REDIS_URL gives only the database and the password."""
    assert settings.redis_url is not None and settings.redis_sentinel_master is not None
    url = urlparse(settings.redis_url)
    sentinels = Sentinel(settings.sentinel_addresses, sentinel_kwargs=dict(timeouts), **timeouts)
    return sentinels.master_for(
        settings.redis_sentinel_master,
        db=int(url.path.strip("/") or 0),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=30,
        redis_connect_func=watch.on_connect,
    )


def code_flows(
    redis: Redis,
    settings: Settings,
    prefix: str,
    flow_ttl_seconds: int,
    *,
    start_cooldown: bool = False,
    ring: KeyRing | None = None,
    lasting: Lasting | None = None,
) -> CodeFlows:
    """One machinery for every emailed-code flow: the same limits and attempt rules. Its codes
    are keyed under the current data key (`ring`, else the settings'): a rotation ends the
    flows then in flight."""
    return CodeFlows(
        redis,
        prefix=prefix,
        key=(ring or KeyRing.from_settings(settings)).derive(ONE_TIME_CODES),
        code_length=settings.code_length,
        code_ttl_seconds=settings.code_ttl_seconds,
        max_attempts=settings.code_max_attempts,
        resend_cooldown_seconds=settings.code_resend_cooldown_seconds,
        limits=Limits(
            mails_per_address_client=settings.codes_per_address_per_hour,
            mails_per_address=settings.codes_per_address_ceiling_per_hour,
            mails_per_client=settings.mails_per_ip_per_hour,
            mails=settings.mails_per_hour,
            failures_per_address_client=settings.code_failures_per_address_per_day,
            failures_per_address=settings.code_failures_per_address_ceiling_per_day,
            failures_per_client=settings.code_failures_per_ip_per_hour,
            failures=settings.code_failures_per_hour,
            cooldown_ms=settings.code_resend_cooldown_seconds * 1000,
        ),
        flow_ttl_seconds=flow_ttl_seconds,
        start_cooldown=start_cooldown,
        lasting=lasting,
    )


def build_outbox(
    mongo: AsyncMongoClient[Any],
    settings: Settings,
    ring: KeyRing,
    mailer: Mailer,
    events: SecurityEvents,
    flows: list[CodeFlows],
) -> Outbox:
    """Every mail goes through the outbox; once a resent code's mail is delivered (or given
    up) the code flow it belongs to is told, so the right code is the one that works."""
    by_prefix = {flow.prefix: flow for flow in flows}

    async def follow_up(values: dict[str, str], delivered: bool) -> None:
        flow = by_prefix[values["flows"]]
        if delivered:
            await flow.promote(values["flow_id"], values["mac"])
        else:
            await flow.drop_pending(values["flow_id"], values["mac"])

    return Outbox(
        mongo[settings.mongo_db][settings.outbox_collection],
        mailer,
        seal=MailSeal(ring),
        fingerprint=events.fingerprint,
        emit=events.emit,
        follow_up=follow_up,
        max_attempts=settings.mail_max_attempts,
        retry_seconds=settings.mail_retry_seconds,
        lease_seconds=settings.outbox_lease_seconds,
        poll_seconds=settings.outbox_poll_seconds,
        send_timeout_seconds=settings.smtp_timeout_seconds,
    )


def build_webhooks(
    mongo: AsyncMongoClient[Any],
    settings: Settings,
    ring: KeyRing,
    events: SecurityEvents,
    http: httpx2.AsyncClient,
) -> Webhooks:
    database = mongo[settings.mongo_db]
    return Webhooks(
        database[settings.outbox_collection + DELIVERIES_SUFFIX],
        EndpointStore(
            database[settings.outbox_collection + ENDPOINTS_SUFFIX],
            ring,
            allow_private=settings.webhook_allow_private,
        ),
        ring,
        events,
        http,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        max_attempts=settings.webhook_max_attempts,
        disable_after_failures=settings.webhook_disable_after_failures,
        allow_private=settings.webhook_allow_private,
        lease_seconds=settings.outbox_lease_seconds,
        poll_seconds=settings.outbox_poll_seconds,
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
        security=settings.smtp_security,
        timeout=settings.smtp_timeout_seconds,
        sender=settings.mail_from,
        idle_seconds=settings.smtp_idle_seconds,
        local_hostname=settings.smtp_local_hostname,
    )
