"""Deleting the account: the password once more, then the user and every session go."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import metrics
from schema.account import AccountDeleted, DeleteAccountResult
from schema.context import Context
from schema.problems import InvalidCredentials, rate_limited
from security.password_forms import verify_password


async def delete_account(info: Info[Context, None], password: str) -> DeleteAccountResult:
    context = info.context
    user = await context.current_user()
    # A stolen access token must not buy unlimited guesses: the login's lockout applies.
    checked = await context.services.lockout.check(
        user.email, lambda: verify_password(context.services.passwords, user.password_hash, password)
    )
    if checked.refused_for is not None:
        metrics.LOCKED_REFUSALS.labels("deleteAccount").inc()
        context.security_event("delete_account_refused_locked", user=str(user.id))
        return rate_limited(checked.refused_for)
    if not checked.value:
        context.security_event("delete_account_failed", user=str(user.id))
        if checked.locked:
            metrics.LOCKOUTS.labels("deleteAccount").inc()
            context.security_event("lockout", email=user.email)
        return InvalidCredentials(message="The password is wrong.")
    user_id = str(user.id)
    # Sessions first: if the process dies between the two, no token outlives the intent.
    await context.services.sessions.revoke_all(user_id)
    await user.delete()
    context.security_event("account_deleted", user=user_id)
    return AccountDeleted(id=strawberry.ID(user_id))
