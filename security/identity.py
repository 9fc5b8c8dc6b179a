"""What a bearer token is worth: the user and session it speaks for, checked on every
authenticated request with one Redis round trip and the user load that follows anyway."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from beanie import PydanticObjectId
from bson.errors import InvalidId

from documents.user import User
from security.sessions import Sessions
from security.tokens import InvalidToken, Tokens


@dataclass(frozen=True)
class Identity:
    """Who a valid access token speaks for: the user and the session it belongs to."""

    user: User
    session_id: str


async def identity_for_token(tokens: Tokens, sessions: Sessions, token: str) -> Identity | None:
    """Who a valid access token speaks for; None for a bad token, a session that is not
    live (ended, or its Redis key lost: the client refreshes), a deleted user, or
    credentials changed since the token's session opened."""
    try:
        claims = tokens.verify(token)
        user_id = PydanticObjectId(claims.subject)
    except (InvalidToken, InvalidId, TypeError):
        return None
    # Both lookups at once: this runs on every authenticated request.
    live, user = await asyncio.gather(sessions.is_live(claims.session_id), User.get(user_id))
    if not live or user is None or user.credential_version != claims.credential_version:
        return None
    return Identity(user=user, session_id=claims.session_id)
