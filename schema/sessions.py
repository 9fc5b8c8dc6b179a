"""Sessions: refresh, list, revoke and logout; their types and fields."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.permissions import IsAuthenticated
from schema.problems import InvalidRefreshToken, NotFound
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


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/sessions.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import sessions as flow

    @strawberry.type
    class SessionsMutation:
        refresh_tokens: RefreshTokensResult = strawberry.mutation(
            resolver=flow.refresh_tokens,
            description=(
                "Exchanges a refresh token for a new access token and a new refresh token (the old one is "
                "spent). No access token needed. InvalidRefreshToken for an unknown, expired or revoked one; "
                "presenting a rotated-away refresh token again revokes the whole session (except once within "
                "a short grace window, which answers the same new pair)."
            ),
        )
        logout: LoggedOut = strawberry.mutation(
            resolver=flow.logout,
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token. Ends the sessions `scope` names (by default the current "
                "one) and answers how many ended; their access and refresh tokens stop working at once."
            ),
        )
        revoke_session: RevokeSessionResult = strawberry.mutation(
            resolver=flow.revoke_session,
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token; only the user's own sessions are found. Ends the session "
                "with this id (SessionRevoked); NotFound for an unknown id or another user's session alike."
            ),
        )

    return SessionsMutation


def queries() -> type:
    """This flow's Query fields, bound to `resolvers/sessions.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import sessions as flow

    @strawberry.type
    class SessionsQuery:
        sessions: list[Session] = strawberry.field(
            resolver=flow.sessions,
            permission_classes=[IsAuthenticated],
            description="The signed-in user's live sessions, newest first. Requires a valid access token.",
        )

    return SessionsQuery
