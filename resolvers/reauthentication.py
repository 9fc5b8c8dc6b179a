"""Asking a signed-in user for their password once more (before a password change or an
account deletion), inside the login's lockout: a stolen access token must not buy
unlimited guesses at the password."""

from __future__ import annotations

from documents.user import User
from resolvers.lockout_answers import count_failure, refused_while_locked
from schema.context import Context
from schema.problems import InvalidCredentials, RateLimited
from security.password_forms import verify_password

WRONG_PASSWORD = "The password is wrong."


async def confirm_password(
    context: Context, user: User, password: str, *, operation: str, event: str, wrong: str = WRONG_PASSWORD
) -> InvalidCredentials | RateLimited | None:
    """None when `password` is the user's; else the answer. `operation` names the GraphQL
    field in metrics, `event` prefixes the security events, `wrong` is the message."""
    services = context.services
    checked = await services.lockout.check(
        user.email,
        lambda: verify_password(services.passwords, user.password_hash, password),
        client=context.client_bucket,
    )
    if checked.refused_for is not None:
        return refused_while_locked(
            context, operation, f"{event}_refused_locked", checked.refused_for, user=str(user.id)
        )
    if not checked.value:
        count_failure(
            context,
            operation,
            f"{event}_failed",
            locked=checked.locked,
            address_locked=checked.address_locked,
            address=user.email,
            user=str(user.id),
        )
        return InvalidCredentials(message=wrong)
    return None
