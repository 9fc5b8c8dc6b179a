"""Changing the password while signed in: the other sessions end, this one continues."""

from __future__ import annotations

from strawberry.types import Info

import metrics
from documents.user import UserChanged
from resolvers.inputs import password_problems
from resolvers.signin import auth_payload, open_session
from schema.context import Context, Unauthenticated
from schema.problems import InvalidCredentials, WeakPassword, rate_limited
from schema.sessions import ChangePasswordResult
from security.password_forms import hash_password, normalized, verify_password


async def change_password(
    info: Info[Context, None], current_password: str, new_password: str
) -> ChangePasswordResult:
    context = info.context
    identity = await context.identity()
    user = identity.user
    # A stolen access token must not buy unlimited guesses: the login's lockout applies.
    checked = await context.services.lockout.check(
        user.email, lambda: verify_password(context.services.passwords, user.password_hash, current_password)
    )
    if checked.refused_for is not None:
        metrics.LOCKED_REFUSALS.labels("changePassword").inc()
        context.security_event("password_change_refused_locked", user=str(user.id))
        return rate_limited(checked.refused_for)
    if not checked.value:
        context.security_event("password_change_failed", user=str(user.id))
        if checked.locked:
            metrics.LOCKOUTS.labels("changePassword").inc()
            context.security_event("lockout", email=user.email)
        return InvalidCredentials(message="The current password is wrong.")
    reasons = password_problems(new_password, user.email)
    if normalized(new_password) == normalized(current_password):
        reasons.append("Choose a password different from the current one.")
    if reasons:
        return WeakPassword(message="Choose a stronger password.", reasons=reasons)
    # One write changes the hash and ends every session (by credential version): a
    # login in flight with the old password, or a crash before revoke_all, leaves
    # nothing usable behind. Refused if the credentials changed since they were checked.
    try:
        await user.write_changes(
            {"password_hash": await hash_password(context.services.passwords, new_password)},
            new_credentials=True,
            require={"credential_version": user.credential_version},
        )
    except UserChanged:  # another change or reset won: this token's session is over
        raise Unauthenticated() from None
    user_id = str(user.id)
    await context.services.sessions.revoke_all(user_id, keep=identity.session_id)
    current = await context.services.sessions.get(user_id, identity.session_id)
    renewed = None
    if current is not None:
        renewed = await context.services.sessions.rotate(current, credential_version=user.credential_version)
    if renewed is None:  # ended or refreshed meanwhile: continue on a new one
        if current is not None:
            await context.services.sessions.revoke([current])
        renewed = await open_session(context, user)
    context.security_event("password_changed", user=user_id)
    return auth_payload(context.services.tokens, user, renewed)
