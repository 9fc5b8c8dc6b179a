"""Types of sessions: refresh, list, revoke, logout, and the password change."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.problems import InvalidCredentials, InvalidRefreshToken, NotFound, RateLimited, WeakPassword
from schema.user import AuthPayload

RefreshTokensResult = Annotated[AuthPayload | InvalidRefreshToken, strawberry.union("RefreshTokensResult")]


@strawberry.enum
class LogoutScope(Enum):
    CURRENT = strawberry.enum_value("CURRENT", description="Only the session of the access token used.")
    OTHERS = strawberry.enum_value("OTHERS", description="Every session of the user except the current one.")
    ALL = strawberry.enum_value("ALL", description="Every session of the user.")


@strawberry.type
class LoggedOut:
    revoked_sessions: int


@strawberry.type
class Session:
    id: strawberry.ID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool = strawberry.field(
        description="True for the session of the access token used for this request."
    )


@strawberry.type
class SessionRevoked:
    id: strawberry.ID


RevokeSessionResult = Annotated[SessionRevoked | NotFound, strawberry.union("RevokeSessionResult")]

ChangePasswordResult = Annotated[
    AuthPayload | InvalidCredentials | WeakPassword | RateLimited,
    strawberry.union("ChangePasswordResult", description="Also revokes every other session of the user."),
]
