"""Issuing and accepting access tokens: what every sign-in answers."""

from __future__ import annotations

from beanie import PydanticObjectId
from bson.errors import InvalidId

from documents.user import User as UserDocument
from schema.user import AuthPayload, User
from security.tokens import InvalidToken, Tokens


def public_user(user: UserDocument) -> User:
    return User(
        id=str(user.id),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def auth_payload(tokens: Tokens, user: UserDocument) -> AuthPayload:
    issued = tokens.issue(str(user.id))
    return AuthPayload(
        access_token=issued.token,
        token_type="Bearer",
        expires_in=issued.expires_in,
        user=public_user(user),
    )


async def user_for_token(tokens: Tokens, token: str) -> UserDocument | None:
    """The user a valid access token names, or None (bad token, deleted user)."""
    try:
        claims = tokens.verify(token)
        user_id = PydanticObjectId(claims.subject)
    except (InvalidToken, InvalidId, TypeError):
        return None
    return await UserDocument.get(user_id)
