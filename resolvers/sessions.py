"""Staying signed in and signing out: refresh, list, revoke, logout."""

from __future__ import annotations

from typing import Annotated

import strawberry
from beanie import PydanticObjectId
from strawberry.types import Info

from documents.session import Session as SessionDocument
from documents.user import User, UserGone
from resolvers.auth.signin import auth_payload
from schema.context import Context, Unauthenticated
from schema.problems import InvalidRefreshToken, NotFound
from schema.sessions import (
    LoggedOut,
    LogoutScope,
    RefreshTokensResult,
    RevokeSessionResult,
    Session,
    SessionRevoked,
)
from security import clock
from security.sessions import RefreshTokenRejected, RefreshTokenReused

REFRESH_REFUSED = "This refresh token is not valid any more; sign in again."


async def refresh_tokens(
    info: Info[Context, None],
    refresh_token: Annotated[
        str,
        strawberry.argument(
            description="The latest AuthPayload.refreshToken of the session; spent by this call."
        ),
    ],
) -> RefreshTokensResult:
    context = info.context
    try:
        renewed = await context.services.sessions.refresh(refresh_token)
    except RefreshTokenReused as reuse:
        context.security_event("refresh_reuse_detected", session=reuse.session_id)
        owner = await User.get(PydanticObjectId(reuse.user_id))
        if owner is not None:
            await context.services.webhooks.sessions_ended(owner, [reuse.session_id])
        return InvalidRefreshToken(message=REFRESH_REFUSED)
    except RefreshTokenRejected:
        return InvalidRefreshToken(message=REFRESH_REFUSED)
    user = await User.get(PydanticObjectId(renewed.session.user_id))
    # The password changed, or every session was logged out, since this one opened; or an
    # operator disabled the account (which ends its sessions too: this covers a race).
    if (
        user is None
        or user.credential_version != renewed.session.credential_version
        or user.disabled_now(clock.now())
    ):
        await context.services.sessions.revoke([renewed.session])
        return InvalidRefreshToken(message=REFRESH_REFUSED)
    return await auth_payload(context.services, user, renewed)


async def sessions(info: Info[Context, None]) -> list[Session]:
    identity = await info.context.identity()
    live = await info.context.services.sessions.live(str(identity.user.id), identity.user.credential_version)
    return [public_session(session, current=str(session.id) == identity.session_id) for session in live]


async def revoke_session(
    info: Info[Context, None],
    id: Annotated[
        strawberry.ID,
        strawberry.argument(description="Session.id of one of the sessions of the signed-in user."),
    ],
) -> RevokeSessionResult:
    identity = await info.context.identity()
    # Another user's session id is answered exactly like an unknown one.
    session = await info.context.services.sessions.get(str(identity.user.id), id)
    if session is None:
        return NotFound(message="No such session.")
    await info.context.services.sessions.revoke([session])
    info.context.security_event("session_revoked", user=str(identity.user.id), session=str(session.id))
    await info.context.services.webhooks.sessions_ended(identity.user, [str(session.id)])
    return SessionRevoked(id=strawberry.ID(str(session.id)))


async def logout(
    info: Info[Context, None],
    scope: Annotated[
        LogoutScope,
        strawberry.argument(description="Which sessions end: CURRENT (the default), OTHERS or ALL."),
    ] = LogoutScope.CURRENT,
) -> LoggedOut:
    identity = await info.context.identity()
    live = await info.context.services.sessions.live(str(identity.user.id), identity.user.credential_version)
    chosen = [session for session in live if _in_scope(session, scope, identity.session_id)]
    if scope == LogoutScope.ALL:
        # Sessions opened by a login in flight, which the listing above may miss, end too.
        try:
            await identity.user.write_changes(
                {}, announce=info.context.services.users, new_credentials=True, touch=False
            )
        except UserGone:
            raise Unauthenticated() from None
    revoked = await info.context.services.sessions.revoke(chosen)
    info.context.security_event("logout", user=str(identity.user.id), scope=scope.value, revoked=revoked)
    await info.context.services.webhooks.sessions_ended(
        identity.user, [str(session.id) for session in chosen]
    )
    return LoggedOut(revoked_sessions=revoked)


def _in_scope(session: SessionDocument, scope: LogoutScope, current_id: str) -> bool:
    if scope == LogoutScope.ALL:
        return True
    is_current = str(session.id) == current_id
    return is_current if scope == LogoutScope.CURRENT else not is_current


def public_session(session: SessionDocument, *, current: bool) -> Session:
    return Session(
        id=strawberry.ID(str(session.id)),
        created_at=session.created_at,
        last_used_at=session.last_used_at,
        expires_at=session.expires_at,
        user_agent=session.user_agent,
        ip_address=session.ip_address,
        current=current,
    )
