"""Signing in and being signed in: what every sign-in answers, and what a bearer
token is worth on later requests."""

from __future__ import annotations

import asyncio

import strawberry
from beanie import PydanticObjectId
from bson.errors import InvalidId

from documents.user import User as UserDocument
from schema.context import Context, Identity
from schema.user import AuthPayload, User
from security.sessions import Sessions, SessionTokens
from security.tokens import InvalidToken, Tokens


def public_user(user: UserDocument) -> User:
    return User(
        id=strawberry.ID(str(user.id)),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def sign_in(context: Context, user: UserDocument) -> AuthPayload:
    """Open a new session for `user` on this device and answer its first token pair."""
    return auth_payload(context.tokens, user, await open_session(context, user))


async def open_session(context: Context, user: UserDocument) -> SessionTokens:
    """A session recorded with the caller's user agent and client IP."""
    return await context.sessions.open(
        str(user.id), user_agent=context.user_agent, ip_address=context.client_ip
    )


def auth_payload(tokens: Tokens, user: UserDocument, session: SessionTokens) -> AuthPayload:
    session_id = str(session.session.id)
    access = tokens.issue(str(user.id), session_id)
    return AuthPayload(
        access_token=access.token,
        token_type="Bearer",
        expires_in=access.expires_in,
        user=public_user(user),
        refresh_token=session.refresh_token,
        refresh_expires_in=session.refresh_expires_in,
        session_id=strawberry.ID(session_id),
    )


async def identity_for_token(tokens: Tokens, sessions: Sessions, token: str) -> Identity | None:
    """Who a valid access token speaks for; None for a bad token, a revoked session
    (one Redis round trip) or a deleted user."""
    try:
        claims = tokens.verify(token)
        user_id = PydanticObjectId(claims.subject)
    except (InvalidToken, InvalidId, TypeError):
        return None
    # Both lookups at once: this runs on every authenticated request.
    revoked, user = await asyncio.gather(sessions.is_revoked(claims.session_id), UserDocument.get(user_id))
    if revoked or user is None:
        return None
    return Identity(user=user, session_id=claims.session_id)
