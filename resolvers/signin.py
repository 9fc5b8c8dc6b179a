"""Signing in: what every sign-in answers (the bearer-token check on later requests
is in security/identity.py)."""

from __future__ import annotations

import strawberry

from documents.user import User as UserDocument
from schema.context import Context
from schema.user import AuthPayload, User
from security.sessions import SessionTokens
from security.tokens import Tokens


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


async def sign_in(
    context: Context, user: UserDocument, *, credential_version: int | None = None
) -> AuthPayload:
    """Open a new session for `user` on this device and answer its first token pair.

    `credential_version` is the one the password was verified against (login): if
    the password changed meanwhile, the session is born dead."""
    return auth_payload(context.services.tokens, user, await open_session(context, user, credential_version))


async def open_session(
    context: Context, user: UserDocument, credential_version: int | None = None
) -> SessionTokens:
    """A session recorded with the caller's user agent and client IP, valid while the
    user's credential version stays `credential_version` (by default, the current one)."""
    return await context.services.sessions.open(
        str(user.id),
        credential_version=user.credential_version if credential_version is None else credential_version,
        user_agent=context.user_agent,
        ip_address=context.client_ip,
    )


def auth_payload(tokens: Tokens, user: UserDocument, session: SessionTokens) -> AuthPayload:
    session_id = str(session.session.id)
    access = tokens.issue(str(user.id), session_id, session.session.credential_version)
    return AuthPayload(
        access_token=access.token,
        token_type="Bearer",
        expires_in=access.expires_in,
        user=public_user(user),
        refresh_token=session.refresh_token,
        refresh_expires_in=session.refresh_expires_in,
        session_id=strawberry.ID(session_id),
    )
