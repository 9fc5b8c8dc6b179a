"""Sessions and their rotating refresh tokens, with reuse detection.

A refresh token is `<session id>.<secret>.<tag>`: 256 random bits from `secrets`,
and an HMAC tag that proves the server issued it. Only a SHA-256 of the current
token is stored. Every refresh rotates it. A token that carries a valid tag but
is no longer current was rotated away, so presenting it again means it was copied:
the whole session is revoked (reuse detection). The one exception is the token
rotated away last, once, within the grace window: two tabs refreshing at once both
get the same new pair. To answer that second tab, the current secret is kept sealed
(security/keyring.py, AES-GCM) under a key derived from a data key and the previous
token, so only a holder of the previous token can open it, and neither the database nor
the data keys alone yield a usable token. Answering it spends the seal, so a third
presentation is reuse.

The tag is an HMAC under the current data key's "authql refresh tokens" key; a tag made
under any key still in the ring is accepted (one HMAC per key, a handful at most), so a
rotation signs nobody out: each session's next refresh gets a tag under the new key.

Refreshing slides a session's end forward, but never past `max_age_seconds` after
it opened. Each session also carries the user's credential version from when it
opened; whoever loads the user compares the two (security/identity.py,
resolvers/sessions.py).

Access tokens are accepted only while their session is vouched for in Redis: each
live session has a key, set when it opens and on every refresh for as long as the
access token then issued may live, checked with one EXISTS per request and deleted when
the session ends. An allow-list, not a deny-list, so losing Redis data (a restart
without persistence, FLUSHALL, eviction) fails closed: access tokens are refused until
the client's next refresh, which asks MongoDB and sets the key again.

A key can also come back: a Redis restored from a snapshot, or a replica promoted before
it caught up, holds the keys of sessions ended since. So a process trusts a session's key
only for a session it found in MongoDB itself, at most `confirm_seconds` ago and under
the Redis it talks to now (`forget_confirmed` runs when a new Redis shows,
security/redis_watch.py): a revocation undone by Redis is honoured again within that bound.
A process that found the session in MongoDB also writes so into its key (the Redis
server's run_id and clock, security/lua/sessions/confirm.lua), and the others trust that
for as long, on that server only: without sticky sessions a session is asked about once
per `confirm_seconds`, not once per process. A restart or a failover (another run_id)
makes those marks worthless; a rollback on the same server is bounded by their age.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from beanie import PydanticObjectId
from bson.errors import InvalidId
from redis.asyncio import Redis

import metrics
from documents.session import Session
from documents.user import utc_now
from security import lua
from security.keyring import REFRESH_GRACE, REFRESH_TOKENS, KeyRing, Unsealable

SECRET_BYTES = 32
# A key outlives the access token issued after it was set by the largest JWT leeway
# (JWT_LEEWAY_SECONDS <= 120, settings.py) plus a minute for the request in between.
ACCESS_TOKEN_MARGIN_SECONDS = 180


class RefreshTokenRejected(Exception):
    """Unknown, expired, revoked or reused; the client must sign in again."""


class RefreshTokenReused(RefreshTokenRejected):
    """A rotated-away token came back: someone holds a copy. Its session is revoked."""

    def __init__(self, session_id: str, user_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id
        self.user_id = user_id


@dataclass(frozen=True)
class SessionTokens:
    """A session and the refresh token that continues it."""

    session: Session
    refresh_token: str
    refresh_expires_in: int


class Sessions:
    def __init__(
        self,
        redis: Redis,
        *,
        ring: KeyRing,
        ttl_seconds: int,
        grace_seconds: int,
        access_token_ttl_seconds: int,
        max_age_seconds: int,
        confirm_seconds: float = 30.0,
        confirmed_kept: int = 10_000,
        max_per_user: int = 100,
    ) -> None:
        self._redis = redis
        self._max_per_user = max_per_user
        self._ring = ring
        self._confirm_seconds = confirm_seconds
        self._confirmed_kept = confirmed_kept
        # session id -> when MongoDB last said it exists (time.monotonic()), least recent first
        self._confirmed: OrderedDict[str, float] = OrderedDict()
        self._confirm = lua.register(redis, "sessions/confirm")
        self._ttl = timedelta(seconds=ttl_seconds)
        self._grace = timedelta(seconds=grace_seconds)
        self._max_age = timedelta(seconds=max_age_seconds)
        # An access token issued now is accepted at most this long: so lives its session's key.
        self._live_key_seconds = access_token_ttl_seconds + ACCESS_TOKEN_MARGIN_SECONDS

    async def open(
        self,
        user_id: str,
        *,
        credential_version: int,
        user_agent: str | None,
        ip_address: str | None,
        amr: tuple[str, ...] = (),
    ) -> SessionTokens:
        now = utc_now()
        session = Session(
            id=PydanticObjectId(),
            user_id=user_id,
            credential_version=credential_version,
            refresh_hash="",
            created_at=now,
            last_used_at=now,
            expires_at=self._expiry(now, now),
            user_agent=user_agent[:512] if user_agent else None,
            ip_address=ip_address,
            amr=list(amr),
            auth_time=now,
        )
        token = self._new_token(str(session.id))
        session.refresh_hash = _digest(token)
        # Key first: whoever finds the document to revoke it deletes the key after this.
        await self._vouch(user_id, str(session.id))
        await session.insert()
        metrics.SESSIONS_OPENED.inc()
        await self._end_beyond_cap(user_id)
        return SessionTokens(session, token, self._expires_in(session, now))

    async def refresh(self, refresh_token: str) -> SessionTokens:
        """Swap a refresh token for the next one; see the module docstring for the rules."""
        session = await self._session_of(refresh_token)
        now = utc_now()
        presented = _digest(refresh_token)
        if presented == session.refresh_hash:
            rotated = await self._rotate(session, refresh_token, now)
            if rotated is not None:
                return await self._vouched(rotated)
            # Another request rotated this token a moment ago: read what it wrote.
            reloaded = await Session.get(session.id)
            if reloaded is None:
                raise RefreshTokenRejected()
            session = reloaded
        if presented == session.previous_hash and self._within_grace(session, now):
            current = self._unseal(session, refresh_token)
            if current is not None and await self._spend_grace(session, presented):
                return await self._vouched(SessionTokens(session, current, self._expires_in(session, now)))
        await self.revoke([session])
        raise RefreshTokenReused(str(session.id), session.user_id)

    async def rotate(self, session: Session, *, credential_version: int) -> SessionTokens | None:
        """A fresh refresh token for `session`, valid under `credential_version`, every
        earlier token dead at once (password change); None if the session was refreshed
        or ended since it was read."""
        now = utc_now()
        token = self._new_token(str(session.id))
        rotated = session.model_copy(
            update={
                "credential_version": credential_version,
                "refresh_hash": _digest(token),
                "previous_hash": None,
                "rotated_at": None,
                "sealed_current": None,
                "last_used_at": now,
                "expires_at": self._expiry(session.created_at, now),
            }
        )
        if not await rotated.replace_if({"refresh_hash": session.refresh_hash}):
            return None
        try:
            return await self._vouched(SessionTokens(rotated, token, self._expires_in(rotated, now)))
        except RefreshTokenRejected:
            return None

    async def _end_beyond_cap(self, user_id: str) -> None:
        """End the user's oldest sessions past `max_per_user` (MAX_SESSIONS_PER_USER): one
        indexed read of ids (user_sessions), newest first, skipping the ones kept."""
        beyond = (
            await Session.get_pymongo_collection()
            .find({"user_id": user_id}, {"_id": 1, "user_id": 1})
            .sort([("created_at", -1), ("_id", -1)])
            .skip(self._max_per_user)
            .to_list()
        )
        if beyond:
            await self.revoke([Session.model_construct(id=entry["_id"], user_id=user_id) for entry in beyond])

    async def get(self, user_id: str, session_id: str) -> Session | None:
        """The user's own live session by id; another user's id finds nothing."""
        session = await self._unexpired(session_id)
        return session if session is not None and session.user_id == user_id else None

    async def live(self, user_id: str, credential_version: int) -> list[Session]:
        """The user's sessions that have not expired and were opened under the user's
        current `credential_version` (the others are refused anyway), newest first."""
        sessions = await _all_of(user_id)
        now = utc_now()
        alive = [
            session
            for session in sessions
            if self._alive(session, now) and session.credential_version == credential_version
        ]
        return sorted(alive, key=lambda session: session.created_at, reverse=True)

    async def revoke(self, sessions: list[Session]) -> int:
        """End `sessions`: their refresh tokens stop at once, their access tokens too.

        The keys go before the documents (a crash in between leaves no working access
        token) and again after them: a refresh that set a key meanwhile either saw the
        document and is undone by the second delete, or did not and undoes itself."""
        if not sessions:
            return 0
        await self._unvouch(sessions)
        ids = [session.id for session in sessions]
        result = await Session.get_pymongo_collection().delete_many({"_id": {"$in": ids}})
        await self._unvouch(sessions)
        metrics.SESSIONS_REVOKED.inc(result.deleted_count)
        return result.deleted_count

    async def revoke_all(self, user_id: str, *, keep: str | None = None) -> list[str]:
        """End every session of the user (expired ones too), except `keep`; the ids of those
        it ended (for the `session.revoked` webhook)."""
        sessions = [session for session in await _all_of(user_id) if str(session.id) != keep]
        await self.revoke(sessions)
        return [str(session.id) for session in sessions]

    def confirmed_here(self, session_id: str) -> bool:
        """Whether this process found the session in MongoDB within `confirm_seconds`."""
        seen = self._confirmed.get(session_id)
        return seen is not None and time.monotonic() - seen < self._confirm_seconds

    async def confirmed(self, user_id: str, session_id: str, *, vouched_ago: float | None = None) -> bool:
        """Whether MongoDB holds this session, unexpired: asked once per `confirm_seconds`
        per session (`vouched_ago`: its live key says a process asked that many seconds ago,
        on the Redis server that answers now: trusted here until that mark is as old), so
        that a live key a Redis rollback brought back is refused within that bound."""
        if self.confirmed_here(session_id):
            return True
        if vouched_ago is not None and vouched_ago < self._confirm_seconds:
            self._keep_confirmed(session_id, time.monotonic() - vouched_ago)
            return True
        session = await self._unexpired(session_id)
        if session is None or session.user_id != user_id:
            self._confirmed.pop(session_id, None)
            return False
        now = time.monotonic()
        await self._confirm(keys=[_live_key(user_id, session_id)])
        self._keep_confirmed(session_id, now)
        return True

    def _keep_confirmed(self, session_id: str, when: float) -> None:
        self._confirmed[session_id] = when
        self._confirmed.move_to_end(session_id)
        while len(self._confirmed) > self._confirmed_kept:
            self._confirmed.popitem(last=False)

    def forget_confirmed(self) -> None:
        """Ask MongoDB again about every session: Redis may have brought ended ones back."""
        self._confirmed.clear()

    def live_key(self, user_id: str, session_id: str) -> str:
        """The Redis key whose existence says access tokens of this session are accepted
        (one EXISTS, in security/user_cache.py's check script); a missing key (ended,
        expired, or lost by Redis) means no."""
        return _live_key(user_id, session_id)

    async def _vouch(self, user_id: str, session_id: str) -> None:
        await self._redis.set(_live_key(user_id, session_id), 1, ex=self._live_key_seconds)

    async def _unvouch(self, sessions: list[Session]) -> None:
        # One DEL per key, not one DEL of many: sessions of several users are in several slots.
        pipe = self._redis.pipeline(transaction=False)
        for session in sessions:
            pipe.delete(_live_key(session.user_id, str(session.id)))
        await pipe.execute()

    async def _vouched(self, renewed: SessionTokens) -> SessionTokens:
        """`renewed` after its session's key is set, if the session still exists once the
        key is: a revoke that ran meanwhile must not leave the key behind."""
        await self._vouch(renewed.session.user_id, str(renewed.session.id))
        if await Session.get_pymongo_collection().find_one({"_id": renewed.session.id}, {"_id": 1}) is None:
            await self._unvouch([renewed.session])
            raise RefreshTokenRejected()
        return renewed

    async def _session_of(self, refresh_token: str) -> Session:
        session_id, _, rest = refresh_token.partition(".")
        secret, _, tag = rest.partition(".")
        tags = [self._tag(key, session_id, secret) for _, key in self._ring.derived(REFRESH_TOKENS)]
        if not any([hmac.compare_digest(tag.encode(), each.encode()) for each in tags]):
            raise RefreshTokenRejected()
        session = await self._unexpired(session_id)
        if session is None:
            raise RefreshTokenRejected()
        return session

    async def _unexpired(self, session_id: str) -> Session | None:
        """The session with this id, unless the id is malformed or the session over."""
        try:
            session = await Session.get(PydanticObjectId(session_id))
        except (InvalidId, TypeError):
            return None
        return session if session is not None and self._alive(session, utc_now()) else None

    def _alive(self, session: Session, now: datetime) -> bool:
        # expires_at never passes the maximum age; the second check covers older sessions.
        return session.expires_at > now and session.created_at + self._max_age > now

    def _expiry(self, created_at: datetime, now: datetime) -> datetime:
        """A refresh now extends the session by the TTL, up to its maximum age."""
        return min(now + self._ttl, created_at + self._max_age)

    async def _rotate(self, session: Session, presented_token: str, now: datetime) -> SessionTokens | None:
        """Replace the current token if it is still current; None if another request won."""
        secret = secrets.token_bytes(SECRET_BYTES)
        token = self._token(str(session.id), secret)
        rotated = session.model_copy(
            update={
                "refresh_hash": _digest(token),
                "previous_hash": session.refresh_hash,
                "rotated_at": now,
                "sealed_current": self._ring.seal(
                    REFRESH_GRACE, secret, str(session.id).encode(), holder=presented_token.encode()
                ),
                "last_used_at": now,
                "expires_at": self._expiry(session.created_at, now),
            }
        )
        if not await rotated.replace_if({"refresh_hash": session.refresh_hash}):
            return None
        return SessionTokens(rotated, token, self._expires_in(rotated, now))

    async def _spend_grace(self, session: Session, previous_hash: str) -> bool:
        """Forget the previous token, so the grace answers it once; False if another
        request spent it or rotated the session first."""
        spent = session.model_copy(update={"previous_hash": None, "sealed_current": None})
        return await spent.replace_if({"refresh_hash": session.refresh_hash, "previous_hash": previous_hash})

    def _within_grace(self, session: Session, now: datetime) -> bool:
        # `now` may precede `rotated_at` when two refreshes race; a zero grace still means none.
        if not self._grace or session.rotated_at is None:
            return False
        return now - session.rotated_at <= self._grace

    def _unseal(self, session: Session, previous_token: str) -> str | None:
        if not session.sealed_current:
            return None
        try:
            secret = self._ring.open(
                REFRESH_GRACE,
                session.sealed_current,
                str(session.id).encode(),
                holder=previous_token.encode(),
            )
        except Unsealable:  # its data key retired within the grace, or sealed before data keys
            return None
        token = self._token(str(session.id), secret)
        return token if _digest(token) == session.refresh_hash else None

    def _new_token(self, session_id: str) -> str:
        return self._token(session_id, secrets.token_bytes(SECRET_BYTES))

    def _token(self, session_id: str, secret: bytes) -> str:
        encoded = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
        tag = self._tag(self._ring.derive(REFRESH_TOKENS), session_id, encoded)
        return f"{session_id}.{encoded}.{tag}"

    @staticmethod
    def _tag(key: bytes, session_id: str, encoded_secret: str) -> str:
        mac = hmac.new(key, f"{session_id}.{encoded_secret}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode()

    def _expires_in(self, session: Session, now: datetime) -> int:
        return max(0, int((session.expires_at - now).total_seconds()))


async def _all_of(user_id: str) -> list[Session]:
    """Every stored session of the user, expired ones included."""
    return await Session.find(Session.user_id == user_id).to_list()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _live_key(user_id: str, session_id: str) -> str:
    """Under the user's hash tag, the tag of the user's cache stamp: the signed-in check
    reads both in one script, so on a Redis Cluster they must share a slot. (The other
    way round, the stamp under each session's tag, would make every write to a user
    restamp every one of its sessions.)"""
    return f"live-session:{{{user_id}}}:{session_id}"
