"""Asking a signed-in user for their password once more (before a password change or an
account deletion), inside the login's lockout: a stolen access token must not buy
unlimited guesses at the password."""

from __future__ import annotations

import metrics
from documents.user import User
from schema.context import Context
from schema.problems import InvalidCredentials, RateLimited, rate_limited
from security.password_forms import verify_password


async def confirm_password(
    context: Context, user: User, password: str, *, operation: str, event: str, wrong: str
) -> InvalidCredentials | RateLimited | None:
    """None when `password` is the user's; else the answer. `operation` names the GraphQL
    field in metrics, `event` prefixes the security events, `wrong` is the message."""
    services = context.services
    checked = await services.lockout.check(
        user.email, lambda: verify_password(services.passwords, user.password_hash, password)
    )
    if checked.refused_for is not None:
        metrics.LOCKED_REFUSALS.labels(operation).inc()
        context.security_event(f"{event}_refused_locked", user=str(user.id))
        return rate_limited(checked.refused_for)
    if not checked.value:
        context.security_event(f"{event}_failed", user=str(user.id))
        if checked.locked:
            metrics.LOCKOUTS.labels(operation).inc()
            context.security_event("lockout", email=user.email)
        return InvalidCredentials(message=wrong)
    return None
