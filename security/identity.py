"""What a bearer token is worth: the user and session it speaks for, checked on every
authenticated request with one Redis round trip (the session's live key and the user's
cache stamp, security/user_cache.py); MongoDB is read only when no process-local copy
of the user is valid under that stamp, and the session once per SESSION_TRUST_SECONDS
(security/sessions.py `confirmed`: a key Redis brought back after a rollback is refused)."""

from __future__ import annotations

from dataclasses import dataclass

from beanie import PydanticObjectId
from bson.errors import InvalidId

from documents.user import User
from security.sessions import Sessions
from security.tokens import InvalidToken, Tokens
from security.user_cache import CONFIRMED, Stamp, UserCache
from security.user_snapshot import UserSnapshot


@dataclass(frozen=True)
class Identity:
    """Who a valid access token speaks for: the user and the session it belongs to."""

    # The account, or only its snapshot (security/user_snapshot.py) when another process
    # left one in Redis: `full_user` (schema/context.py's `current_user`) has the rest.
    user: User | UserSnapshot
    session_id: str
    # Epoch seconds of the session's last sign-in (the token's `auth_time`).
    auth_time: int = 0
    # The user's stamp as the check read it (None for an identity made otherwise).
    stamp: Stamp | None = None


async def identity_for_token(
    tokens: Tokens, sessions: Sessions, users: UserCache, token: str
) -> Identity | None:
    """Who a valid access token speaks for; None for a bad token, a session that is not
    live (ended, or its Redis key lost: the client refreshes), a deleted user, or
    credentials changed since the token's session opened."""
    try:
        claims = tokens.verify(token)
        user_id = PydanticObjectId(claims.subject)
    except (InvalidToken, InvalidId, TypeError):
        return None
    confirm = not sessions.confirmed_here(claims.session_id)
    live, stamp = await users.check(
        sessions.live_key(claims.subject, claims.session_id), claims.subject, confirm=confirm
    )
    if not live or (
        confirm
        and not await sessions.confirmed(
            claims.subject,
            claims.session_id,
            vouched_ago=stamp.confirmed_age_seconds if live == CONFIRMED else None,
        )
    ):
        return None
    user = users.get(claims.subject, stamp)
    if user is None:
        user = await User.get(user_id)  # after the stamp was read: a later write changes it
        await users.keep(claims.subject, stamp, user)
    if user is None or user.credential_version != claims.credential_version:
        return None
    return Identity(user=user, session_id=claims.session_id, auth_time=claims.auth_time, stamp=stamp)


async def full_user(users: UserCache, identity: Identity) -> User | None:
    """The whole account behind `identity`, read from MongoDB when the check found only a
    snapshot (security/user_snapshot.py); None when it was deleted or its credentials
    changed meanwhile. Kept in process afterwards, under the stamp the check read."""
    if isinstance(identity.user, User):
        return identity.user
    user_id = str(identity.user.id)
    user = await User.get(identity.user.id)
    if user is not None and user.credential_version == identity.user.credential_version:
        if identity.stamp is not None:
            await users.keep(user_id, identity.stamp, user)
        return user
    return None
