"""Types of sessions: refresh, list, revoke, logout, and the password change."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.problems import InvalidCredentials, InvalidRefreshToken, NotFound, RateLimited, WeakPassword
from schema.user import AuthPayload

RefreshTokensResult = Annotated[
    AuthPayload | InvalidRefreshToken,
    strawberry.union(
        "RefreshTokensResult", description="A new token pair for the same session, or the session is over."
    ),
]


@strawberry.enum(description="Which of the signed-in user's sessions logout ends.")
class LogoutScope(Enum):
    CURRENT = strawberry.enum_value("CURRENT", description="Only the session of the access token used.")
    OTHERS = strawberry.enum_value("OTHERS", description="Every session of the user except the current one.")
    ALL = strawberry.enum_value("ALL", description="Every session of the user.")


@strawberry.type(description="The sessions logout ended.")
class LoggedOut:
    revoked_sessions: int = strawberry.field(description="How many sessions ended.")


@strawberry.type(description="One signed-in device or browser of the user: a refresh-token family.")
class Session:
    id: strawberry.ID = strawberry.field(description="Session id, for revokeSession (AuthPayload.sessionId).")
    created_at: datetime = strawberry.field(
        description="When the session was opened (login or registration)."
    )
    last_used_at: datetime = strawberry.field(description="When its refresh token was last used.")
    expires_at: datetime = strawberry.field(
        description="When it ends unless refreshed before (never past its absolute maximum age)."
    )
    user_agent: str | None = strawberry.field(description="The User-Agent header it was opened with, if any.")
    ip_address: str | None = strawberry.field(description="The client address it was opened from, if known.")
    current: bool = strawberry.field(
        description="True for the session of the access token used for this request."
    )


@strawberry.type(description="The session ended; its access and refresh tokens no longer work.")
class SessionRevoked:
    id: strawberry.ID = strawberry.field(description="The id of the session that ended.")


RevokeSessionResult = Annotated[
    SessionRevoked | NotFound,
    strawberry.union(
        "RevokeSessionResult", description="The session ended, or no such session of this user."
    ),
]

ChangePasswordResult = Annotated[
    AuthPayload | InvalidCredentials | WeakPassword | RateLimited,
    strawberry.union("ChangePasswordResult", description="Also revokes every other session of the user."),
]
