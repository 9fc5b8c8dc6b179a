"""Every knob of authql, read from the environment (and `.env`), with safe bounds.

Bounds guard security, not convenience: a test may shorten the resend cooldown to
one second, but nobody may configure 4-digit codes, unlimited guesses or codes
that live for a day. A value out of bounds stops the server at start-up with a
message that names the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


RATE_LIMITED_OPERATIONS = (
    "start_registration",
    "resend_registration_code",
    "verify_registration_code",
    "login",
    "start_password_reset",
    "resend_password_reset_code",
    "complete_password_reset",
    "set_registration_password",
    "change_password",
    "delete_account",
    "start_code_login",
    "complete_code_login",
    "start_email_change",
    "confirm_email_change",
    "verify_second_factor",
    "enroll_totp",
    "confirm_totp",
    "disable_totp",
    "regenerate_recovery_codes",
    "start_social_sign_in",
    "complete_social_sign_in",
    "start_social_link",
    "complete_social_link",
    "start_passkey_registration",
    "finish_passkey_registration",
    "start_passkey_sign_in",
    "finish_passkey_sign_in",
)


class MailerKind(StrEnum):
    CONSOLE = "console"
    SMTP = "smtp"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class JwtAlgorithm(StrEnum):
    HS256 = "HS256"
    EDDSA = "EdDSA"
    ES256 = "ES256"


class ConfigurationError(Exception):
    """Raised at start-up when a variable is missing or out of its safe bounds."""


# Data keys (security/keyring.py): ids safe in a file name and before the `:` of a sealed value.
DATA_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LEGACY_DATA_KEY_ID = "legacy"
MIN_DATA_KEY_BYTES = 32
MAX_DATA_KEY_BYTES = 1024
MAX_DATA_KEYS = 8


def decode_data_key(text: str) -> bytes:
    """A data key written in base64 (standard or URL-safe): at least 32 bytes."""
    try:
        secret = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a data key must be base64") from None
    if not MIN_DATA_KEY_BYTES <= len(secret) <= MAX_DATA_KEY_BYTES:
        raise ValueError(f"a data key must be {MIN_DATA_KEY_BYTES} to {MAX_DATA_KEY_BYTES} bytes")
    return secret


def data_key_entries(value: str) -> list[tuple[str, bytes]]:
    """DATA_KEYS as (id, key) pairs, current first: `id:base64,id:base64,...`. Errors name
    the id, never the key."""
    entries: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        kid, colon, encoded = item.partition(":")
        if not colon or not DATA_KEY_ID.fullmatch(kid):
            raise ValueError("each DATA_KEYS entry is id:base64key, the id of letters, digits, . _ -")
        try:
            entries.append((kid, decode_data_key(encoded.strip())))
        except ValueError as error:
            raise ValueError(f"data key {kid!r}: {error}") from None
    if not entries:
        raise ValueError("DATA_KEYS holds no key")
    if len(entries) > MAX_DATA_KEYS:
        raise ValueError(f"DATA_KEYS holds more than {MAX_DATA_KEYS} keys")
    if len({kid for kid, _ in entries}) != len(entries):
        raise ValueError("DATA_KEYS ids must be unique")
    return entries


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Path("var")

    mongo_url: str | None = None
    mongo_db: str = Field("authql", min_length=1, max_length=63)
    redis_url: str | None = None
    # MongoDB: "build" the indexes at start (the embedded default), or only "check" them
    # (the default with a MONGO_URL: `python -m documents.migrate` builds them).
    mongo_indexes: Literal["build", "check"] | None = None
    # How long a request waits for a MongoDB primary: None is 12 s when MONGO_URL names a
    # replica set (an election takes about 10 s), else BACKEND_TIMEOUT_SECONDS.
    mongo_selection_timeout_seconds: float | None = Field(None, gt=0, le=60)
    # Sessions one user may have open; a new one past it ends the oldest.
    max_sessions_per_user: int = Field(100, ge=1, le=10_000)
    # REDIS_URL names one seed node of a Redis Cluster (services.py builds a RedisCluster).
    redis_cluster: bool = False
    # Sentinel: `host:port,...` of the sentinels and the name of the primary they watch;
    # REDIS_URL then gives only the database and the password (services.py).
    redis_sentinels: str | None = Field(None, pattern=r"^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$")
    redis_sentinel_master: str | None = Field(None, min_length=1, max_length=128)

    jwt_secret: str | None = None
    jwt_issuer: str = Field("authql", min_length=1)
    jwt_audience: str = Field("authql", min_length=1)
    access_token_ttl_seconds: int = Field(900, ge=60, le=86_400)
    # Clock skew allowed between instances when checking exp, nbf and iat.
    jwt_leeway_seconds: int = Field(30, ge=0, le=120)
    jwt_algorithm: JwtAlgorithm = JwtAlgorithm.HS256
    jwt_keys_dir: Path | None = None
    # Data keys for HMACs and sealed values (security/keyring.py): `id:base64,...`, current
    # first, or a folder of key files. Neither: the `legacy` key from JWT_SECRET.
    data_keys: str | None = Field(None, repr=False, max_length=16_384)
    data_keys_dir: Path | None = None
    refresh_token_ttl_seconds: int = Field(2_592_000, ge=3600, le=7_776_000)
    refresh_reuse_grace_seconds: int = Field(10, ge=0, le=60)
    # However often it is refreshed, a session ends this long after it opened.
    session_max_age_seconds: int = Field(7_776_000, ge=3600, le=31_536_000)
    trusted_proxies: str = ""
    # Per-IP limits count an IPv6 client by this prefix (a subscriber holds a /64), IPv4 per address.
    ipv6_prefix_length: int = Field(64, ge=48, le=128)

    # Unset: smtp when SMTP_HOST is set, console only in the embedded default (no MONGO_URL).
    mailer: MailerKind | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=60)
    # One SMTP connection is kept across mails, closed after this long unused (0: one per mail).
    smtp_idle_seconds: float = Field(30.0, ge=0, le=300)
    # The name said in EHLO; unset: socket.getfqdn(), asked once per process (it may wait on DNS).
    smtp_local_hostname: str | None = Field(
        None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$"
    )
    mail_from: str = "authql <no-reply@localhost>"
    # The outbox (mail/outbox.py): tries per mail before it is abandoned, the first retry's
    # delay (doubled at each retry, with jitter: 8 tries span about an hour), how long a
    # sender's claim on a mail lasts, how often an idle sender looks for due mail, and the
    # collection (one per deployment: every process of one deployment uses the same).
    mail_max_attempts: int = Field(8, ge=1, le=20)
    mail_retry_seconds: float = Field(30.0, ge=0.5, le=3600)
    outbox_lease_seconds: float = Field(60.0, ge=5, le=3600)
    outbox_poll_seconds: float = Field(1.0, ge=0.05, le=60)
    outbox_collection: str = Field("outbox", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

    # Webhooks (webhooks/): the first retry's delay (doubled at each retry, with jitter),
    # tries per delivery, deliveries failed in a row that disable an endpoint, and whether
    # loopback/private addresses and plain http:// may be called (tests, a private network).
    webhook_retry_base_seconds: float = Field(5.0, ge=1, le=60)
    webhook_max_attempts: int = Field(10, ge=1, le=30)
    webhook_disable_after_failures: int = Field(100, ge=1, le=100_000)
    webhook_allow_private: bool = False
    # Synchronous hooks (security/hooks.py): asked before a sign-up and before each access
    # token; signed with HOOK_SECRET (whsec_<base64>); late or failed: SERVICE_UNAVAILABLE.
    hook_before_sign_up_url: str | None = Field(None, pattern=r"^https?://")
    hook_custom_claims_url: str | None = Field(None, pattern=r"^https?://")
    hook_secret: str | None = None
    hook_timeout_seconds: float = Field(2.0, ge=0.1, le=10)

    code_length: int = Field(6, ge=6, le=10)
    code_ttl_seconds: int = Field(600, ge=60, le=3600)
    code_max_attempts: int = Field(5, ge=1, le=10)
    code_resend_cooldown_seconds: int = Field(60, ge=1, le=3600)
    codes_per_address_per_hour: int = Field(5, ge=1, le=50)
    code_failures_per_address_per_day: int = Field(20, ge=5, le=100)
    # Across clients (security/codes/quotas.py): every client's code mails to one address
    # an hour, every client's wrong codes at one address a day (past it no new flow starts
    # for the address; open flows still take their right code), one client's wrong codes
    # across every address an hour, and everyone's wrong codes an hour (a breaker).
    codes_per_address_ceiling_per_hour: int = Field(20, ge=1, le=500)
    code_failures_per_address_ceiling_per_day: int = Field(100, ge=5, le=10_000)
    code_failures_per_ip_per_hour: int = Field(30, ge=5, le=100_000)
    code_failures_per_hour: int = Field(5000, ge=5, le=10_000_000)
    # Security notices (mail/notices.py) one account is sent an hour.
    notices_per_account_per_hour: int = Field(10, ge=1, le=100)
    registration_ttl_seconds: int = Field(1800, ge=300, le=86_400)
    password_reset_ttl_seconds: int = Field(1800, ge=300, le=86_400)

    argon2_time_cost: int = Field(3, ge=2, le=20)
    argon2_memory_kib: int = Field(65_536, ge=19_456, le=1_048_576)
    argon2_parallelism: int = Field(4, ge=1, le=16)
    password_workers: int = Field(2, ge=1, le=64)
    # CPU priority of the hashing threads (Linux nice): higher yields more to the event loop,
    # 19 can starve logins when uvicorn workers >= cores (security/passwords.py).
    hashing_niceness: int = Field(10, ge=0, le=19)
    # Hashes that may wait for a worker; past it they are refused at once. Unset: 8 per worker.
    password_queue_limit: int | None = Field(None, ge=1, le=10_000)

    # Per client IP and operation, in the `limits` library's notation ("20/minute").
    rate_limit_start_registration: str = "10/minute"
    rate_limit_resend_registration_code: str = "5/minute"
    rate_limit_verify_registration_code: str = "20/minute"
    rate_limit_login: str = "20/minute"
    rate_limit_start_password_reset: str = "10/minute"
    rate_limit_resend_password_reset_code: str = "5/minute"
    rate_limit_complete_password_reset: str = "20/minute"
    rate_limit_set_registration_password: str = "10/minute"
    rate_limit_change_password: str = "10/minute"
    rate_limit_delete_account: str = "10/minute"
    rate_limit_start_code_login: str = "10/minute"
    rate_limit_complete_code_login: str = "20/minute"
    rate_limit_start_email_change: str = "10/minute"
    rate_limit_confirm_email_change: str = "20/minute"
    rate_limit_verify_second_factor: str = "10/minute"
    # Per client IP: documents the server must parse (not kept, or refused): the work a
    # stream of distinct documents costs. Known documents are not counted.
    rate_limit_documents: str = "300/minute"
    rate_limit_enroll_totp: str = "10/minute"
    rate_limit_confirm_totp: str = "10/minute"
    rate_limit_disable_totp: str = "10/minute"
    rate_limit_regenerate_recovery_codes: str = "10/minute"
    rate_limit_start_social_sign_in: str = "20/minute"
    rate_limit_complete_social_sign_in: str = "20/minute"
    rate_limit_start_social_link: str = "10/minute"
    rate_limit_complete_social_link: str = "10/minute"
    rate_limit_start_passkey_registration: str = "10/minute"
    rate_limit_finish_passkey_registration: str = "10/minute"
    rate_limit_start_passkey_sign_in: str = "20/minute"
    rate_limit_finish_passkey_sign_in: str = "20/minute"
    mails_per_hour: int = Field(1000, ge=1, le=1_000_000)
    mails_per_ip_per_hour: int = Field(50, ge=1, le=1_000_000)
    login_lockout_threshold: int = Field(5, ge=3, le=20)
    # Wrong passwords at one address from every client an hour before the address itself
    # locks (security/lockout.py): the bound on guessing from many IPs. At least
    # LOGIN_LOCKOUT_THRESHOLD + 7 is used, out of one client's reach.
    login_lockout_address_threshold: int = Field(20, ge=5, le=1000)

    # Two-factor (security/two_factor.py): the issuer authenticator apps show, and how long
    # a sign-in waits for its second factor (5 attempts) before it must start again.
    totp_issuer: str = Field("authql", min_length=1, max_length=64, pattern=r"^[^:]+$")
    second_factor_ttl_seconds: int = Field(300, ge=60, le=900)
    # How long after the session's sign-in an operation marked "recent sign-in" (linking a
    # provider, unlinking one) is still allowed; past it: ReauthenticationRequired.
    reauthentication_window_seconds: int = Field(600, ge=1, le=3600)

    backend_timeout_seconds: float = Field(3.0, gt=0, le=30)
    # How long a process trusts what it kept (a user's copy, a session found in MongoDB)
    # without asking MongoDB again: bounds what a Redis rollback can undo (README, Redis).
    kept_trust_seconds: float = Field(30.0, ge=1, le=300)
    # How often each process asks Redis whether it is still the same server (INFO run_id).
    redis_watch_seconds: float = Field(5.0, ge=0.5, le=60)
    # None: on in the embedded default (no MONGO_URL configured), off otherwise; see _dev_tools.
    graphiql: bool | None = None
    introspection: bool | None = None
    max_query_depth: int = Field(10, ge=1, le=50)
    max_aliases: int = Field(15, ge=1, le=100)
    max_tokens: int = Field(500, ge=200, le=50_000)
    # Definitions one document may hold, refused after parsing, before validation.
    max_operations: int = Field(5, ge=1, le=100)
    max_fragments: int = Field(20, ge=0, le=500)
    # What the kept parsed documents may weigh, per process (small documents only).
    document_cache_bytes: int = Field(16 * 1024 * 1024, ge=1024 * 1024, le=1024 * 1024 * 1024)
    max_body_bytes: int = Field(65_536, ge=1024, le=10_485_760)
    body_read_timeout_seconds: float = Field(10.0, ge=1, le=120)
    max_connections: int = Field(1000, ge=10, le=100_000)
    cors_origins: str = ""
    # None: on in the embedded default or when METRICS_TOKEN is set, off otherwise; see _dev_tools.
    metrics: bool | None = None
    # When set, GET /metrics needs `Authorization: Bearer <token>`.
    metrics_token: str | None = Field(None, min_length=16, max_length=512)
    # `python server.py` only (uvicorn server:app takes --log-config log-config/<format>.json).
    log_format: LogFormat = LogFormat.TEXT

    # Social sign-in (social/config.py reads the per-provider variables and checks them).
    # The base URL browsers reach this server at; unset: http://HOST:PORT.
    public_url: str | None = Field(None, max_length=2048)
    # Provider ids in button order, comma-separated: `google,github,acme-sso`.
    social_providers: str = Field("", max_length=2048)
    # The exact redirectUri values an app may ask to come back to, comma-separated.
    social_redirect_uris: str = Field("", max_length=16_384)
    # Every SOCIAL_<ID>_<FIELD> variable, by its lower-case name (secrets among them).
    social_variables: dict[str, str] = Field(default_factory=dict, repr=False)
    # Passkeys (security/passkeys.py): the relying party id (a domain: passkeys work on it and
    # its subdomains; unset: the host of PUBLIC_URL), the name authenticators show, and the
    # origins (scheme://host[:port], comma-separated) whose pages may use them; unset: the
    # origin of PUBLIC_URL plus those of CORS_ORIGINS on the RP id.
    webauthn_rp_id: str | None = Field(None, min_length=1, max_length=253)
    webauthn_rp_name: str = Field("authql", min_length=1, max_length=64)
    webauthn_origins: str | None = Field(None, min_length=1, max_length=16_384)

    # The admin API (/admin/graphql, README "Admin API"): off unless ADMIN_API_KEY is set; that
    # key holds every scope. Each admin key's requests per window (any key, counted per key),
    # and how long audit events are kept in MongoDB (a TTL index).
    admin_api_key: str | None = Field(None, min_length=32, max_length=512, repr=False)
    rate_limit_admin: str = "600/minute"
    audit_retention_days: int = Field(365, ge=1, le=3650)

    @field_validator(
        *(f"rate_limit_{operation}" for operation in (*RATE_LIMITED_OPERATIONS, "documents", "admin"))
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        parse_many(value)  # raises ValueError naming the string it could not read
        return value

    def rate_limit(self, operation: str) -> str:
        """The limit of `operation` ("login", "start_registration", ...)."""
        return str(getattr(self, f"rate_limit_{operation}"))

    @field_validator("data_keys")
    @classmethod
    def _check_data_keys(cls, value: str | None) -> str | None:
        if value is not None:
            data_key_entries(value)  # parsing is the check
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        proxy_networks(value)  # parsing is the check: a bad CIDR raises, naming it
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, and the per-provider SOCIAL_<ID>_* variables of the environment,
        whose names no field can declare (the ids are the operator's)."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _SocialVariables(settings_cls),
            file_secret_settings,
        )

    @model_validator(mode="before")
    @classmethod
    def _social_variables(cls, data: object) -> object:
        """Gather every `social_<id>_<field>` value given (arguments, .env) into
        `social_variables`, beside those the environment source found."""
        if not isinstance(data, dict):
            return data
        declared = {"social_providers", "social_redirect_uris", "social_variables"}
        gathered = dict(data.get("social_variables") or {})
        rest: dict[str, object] = {}
        for key, value in data.items():
            name = key.lower()
            if name.startswith("social_") and name not in declared and isinstance(value, str):
                gathered[name] = value
            else:
                rest[key] = value
        return {**rest, "social_variables": gathered}

    @model_validator(mode="before")
    @classmethod
    def _dev_tools(cls, data: object) -> object:
        """GraphiQL and introspection default to on only where the user configured no MONGO_URL;
        so do the metrics, which reveal traffic, unless METRICS_TOKEN guards them.

        Decided from the configuration as read, before `python server.py` fills in the
        embedded MongoDB's URL; an explicit true or false always wins.
        """
        if not isinstance(data, dict):
            return data
        configured = {key.lower(): value for key, value in data.items()}
        development = configured.get("mongo_url") is None
        defaults = {
            "graphiql": development,
            "introspection": development,
            "metrics": development or configured.get("metrics_token") is not None,
        }
        for name, default in defaults.items():
            if configured.get(name) is None:
                data = {
                    **{key: value for key, value in data.items() if key.lower() != name},
                    name: default,
                }
        return data

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 bytes")
        if self.data_keys is not None and self.data_keys_dir is not None:
            raise ValueError("set DATA_KEYS or DATA_KEYS_DIR, not both")
        if self.mongo_url is not None and self.jwt_secret is None:
            if self.jwt_algorithm == JwtAlgorithm.HS256:
                raise ValueError(
                    "JWT_SECRET is required when MONGO_URL is set "
                    "(only the embedded default may generate one)"
                )
            if not self.has_data_keys:
                raise ValueError(
                    "DATA_KEYS or DATA_KEYS_DIR is required when MONGO_URL is set without JWT_SECRET"
                )
        if self.jwt_algorithm != JwtAlgorithm.HS256 and self.jwt_keys_dir is None:
            raise ValueError(f"JWT_ALGORITHM={self.jwt_algorithm.value} needs JWT_KEYS_DIR")
        return self

    @model_validator(mode="after")
    def _check_redis(self) -> Settings:
        if (self.redis_sentinels is None) != (self.redis_sentinel_master is None):
            raise ValueError("REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together")
        if self.redis_sentinels is not None and self.redis_cluster:
            raise ValueError("set REDIS_CLUSTER or REDIS_SENTINELS, not both")
        return self

    @property
    def builds_indexes(self) -> bool:
        if self.mongo_indexes is not None:
            return self.mongo_indexes == "build"
        return self.mongo_url is None

    @property
    def mongo_selection_seconds(self) -> float:
        if self.mongo_selection_timeout_seconds is not None:
            return self.mongo_selection_timeout_seconds
        url = self.mongo_url or ""
        replica_set = "replicaset=" in url.lower() or url.startswith("mongodb+srv://")
        return max(12.0, self.backend_timeout_seconds) if replica_set else self.backend_timeout_seconds

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """REDIS_SENTINELS as (host, port) pairs."""
        pairs = [entry.rpartition(":") for entry in (self.redis_sentinels or "").split(",") if entry]
        return [(host, int(port)) for host, _, port in pairs]

    @model_validator(mode="after")
    def _check_mailer(self) -> Settings:
        """Console mail prints every code: outside the embedded default only when asked for.

        Decided on what the user configured: `python server.py` fills MONGO_URL for
        its embedded nx-27017 later, with a copy that is not validated again.
        """
        if self.mailer == MailerKind.SMTP and self.smtp_host is None:
            raise ValueError("MAILER=smtp needs SMTP_HOST")
        if self.mailer is None and self.smtp_host is None and self.mongo_url is not None:
            raise ValueError(
                "SMTP_HOST is not set: set SMTP_HOST, or MAILER=console to print every mail "
                "(codes included) to the log"
            )
        return self

    @model_validator(mode="after")
    def _check_outbox_lease(self) -> Settings:
        # A claim that could expire while its SMTP exchange still runs, or while the
        # follow-up (Redis) and the record's update (MongoDB) that come after the send
        # still wait, would let a second sender mail the same message.
        if self.outbox_lease_seconds < 2 * self.smtp_timeout_seconds + 2 * self.backend_timeout_seconds:
            raise ValueError(
                "OUTBOX_LEASE_SECONDS must be at least twice SMTP_TIMEOUT_SECONDS plus twice "
                "BACKEND_TIMEOUT_SECONDS (the send, then a Redis and a MongoDB call)"
            )
        return self

    @model_validator(mode="after")
    def _check_hooks(self) -> Settings:
        # An unsigned hook call would let anyone who can reach the service's URL answer it.
        if (self.hook_before_sign_up_url or self.hook_custom_claims_url) and not self.hook_secret:
            raise ValueError("HOOK_SECRET: HOOK_BEFORE_SIGN_UP_URL and HOOK_CUSTOM_CLAIMS_URL need it")
        if self.hook_secret is not None and not valid_webhook_secret(self.hook_secret):
            raise ValueError("HOOK_SECRET must be whsec_ followed by at least 24 bytes in base64")
        return self

    @model_validator(mode="after")
    def _check_session_lifetime(self) -> Settings:
        # A shorter cap would silently shorten every refresh token: say so instead.
        if self.session_max_age_seconds < self.refresh_token_ttl_seconds:
            raise ValueError("SESSION_MAX_AGE_SECONDS must be at least REFRESH_TOKEN_TTL_SECONDS")
        return self

    @model_validator(mode="after")
    def _check_passkeys(self) -> Settings:
        # The RP id and origins are computed (and checked) here: a bad one stops the start.
        passkey_relying_party(self)
        return self

    @property
    def public_base_url(self) -> str:
        """PUBLIC_URL without a trailing slash, else http://HOST:PORT."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def webauthn_rp(self) -> tuple[str, tuple[str, ...]]:
        """The passkeys' relying party id and allowed origins (see `passkey_relying_party`)."""
        return passkey_relying_party(self)

    @property
    def has_data_keys(self) -> bool:
        """Whether data keys are configured (else the `legacy` one derives from JWT_SECRET)."""
        return self.data_keys is not None or self.data_keys_dir is not None

    @property
    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return proxy_networks(self.trusted_proxies)

    @property
    def password_queue_bound(self) -> int:
        """PASSWORD_QUEUE_LIMIT, or 8 hashes per worker (each waits at most ~9 hash times)."""
        return self.password_queue_limit or 8 * self.password_workers

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def mailer_kind(self) -> MailerKind:
        """The mailer in force: MAILER, else smtp when SMTP_HOST is set, else console."""
        if self.mailer is not None:
            return self.mailer
        return MailerKind.SMTP if self.smtp_host is not None else MailerKind.CONSOLE


# An origin as browsers write it: scheme://host[:port], lower-case, nothing after.
ORIGIN = re.compile(r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?")
LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
RP_ID = re.compile(rf"(?=.{{1,253}}$){LABEL}(\.{LABEL})*")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def origin_host(origin: str) -> str | None:
    """The host of a well-formed origin, else None."""
    matched = ORIGIN.fullmatch(origin)
    return matched.group(2) if matched else None


def on_rp_id(host: str, rp_id: str) -> bool:
    """Whether a page on `host` may use passkeys of `rp_id` (the host, or a subdomain of it)."""
    return host == rp_id or host.endswith("." + rp_id)


def passkey_relying_party(settings: Settings) -> tuple[str, tuple[str, ...]]:
    """WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS as used, or ValueError naming what is wrong.

    Given ones are held to what browsers accept: an RP id is a host name (or an IP address,
    for local tests), an origin is https (http only on localhost) and on the RP id. The
    defaults come from PUBLIC_URL; a CORS origin that is not on the RP id is left out of
    them (its pages could not use these passkeys anyway)."""
    parts = urlsplit(settings.public_base_url)
    base = f"{parts.scheme}://{parts.netloc}".lower()
    base_host = origin_host(base)
    if base_host is None:
        raise ValueError("PUBLIC_URL must be an http or https URL")
    rp_id = settings.webauthn_rp_id if settings.webauthn_rp_id is not None else (base_host or "").strip("[]")
    if not (RP_ID.fullmatch(rp_id) or _ip_literal(rp_id)):
        raise ValueError(f"WEBAUTHN_RP_ID {rp_id!r} must be a lower-case host name, with no scheme or port")
    if settings.webauthn_origins is not None:
        origins = tuple(item.strip() for item in settings.webauthn_origins.split(",") if item.strip())
        if not origins:
            raise ValueError("WEBAUTHN_ORIGINS holds no origin")
        for origin in origins:
            host = origin_host(origin)
            if host is None:
                raise ValueError(f"WEBAUTHN_ORIGINS: {origin!r} is not scheme://host[:port] in lower case")
            if origin.startswith("http:") and not (host in LOCAL_HOSTS or host.endswith(".localhost")):
                raise ValueError(f"WEBAUTHN_ORIGINS: {origin!r} must be https (http only on localhost)")
            if not on_rp_id(host.strip("[]"), rp_id):
                raise ValueError(f"WEBAUTHN_ORIGINS: {origin!r} is not on WEBAUTHN_RP_ID {rp_id!r}")
        return rp_id, origins
    candidates = [base.lower(), *(item.lower().rstrip("/") for item in settings.cors_origin_list)]
    origins = tuple(
        dict.fromkeys(
            origin
            for origin in candidates
            if (host := origin_host(origin)) is not None and on_rp_id(host.strip("[]"), rp_id)
        )
    )
    if not origins:
        raise ValueError(f"WEBAUTHN_RP_ID {rp_id!r} is not the host of PUBLIC_URL: set WEBAUTHN_ORIGINS")
    return rp_id, origins


def _ip_literal(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


class _SocialVariables(PydanticBaseSettingsSource):
    """SOCIAL_<ID>_<FIELD> variables from the process environment, as `social_variables`."""

    def get_field_value(self, field: object, field_name: str) -> tuple[object, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, object]:
        declared = {"social_providers", "social_redirect_uris", "social_variables"}
        found = {
            name.lower(): value
            for name, value in os.environ.items()
            if name.lower().startswith("social_") and name.lower() not in declared
        }
        return {"social_variables": found} if found else {}


@lru_cache(maxsize=16)
def proxy_networks(value: str) -> list[IPv4Network | IPv6Network]:
    """TRUSTED_PROXIES as networks: comma-separated CIDRs (or single addresses).

    Cached: every request asks (for its client address and its request id); callers
    only read the list."""
    networks = []
    for item in value.split(","):
        if item.strip():
            try:
                networks.append(ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{item.strip()!r} is not an IP address or CIDR") from None
    return networks


def valid_webhook_secret(value: str) -> bool:
    """A Standard Webhooks secret: `whsec_` and base64 of at least 24 bytes."""
    if not value.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(value.removeprefix("whsec_"), validate=True)) >= 24
    except (binascii.Error, ValueError):
        return False


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning pydantic's report into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]).upper() if item["loc"] else "configuration"
            problems.append(f"{name}: {item['msg']}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
