"""Asking a signed-in user for their password once more (before a password change, an
email change or an account deletion), inside the login's lockout: a stolen access token
must not buy unlimited guesses at the password. With two-factor on, those three ask for
the second factor too, unless the session itself was opened with it (`amr` holds "mfa"):
a phished password and an older session, or one opened by password alone, are not
enough to take the account's address, password or existence.

And asking for a recent sign-in (`require_recent_sign_in`): operations that add or remove
a way into the account are refused once the session's sign-in is older than
REAUTHENTICATION_WINDOW_SECONDS."""

from __future__ import annotations

from typing import Annotated

import strawberry

from documents.user import User
from resolvers.auth.lockout_answers import count_failure, refused_while_locked
from resolvers.auth.second_factor import Proof, check_second_factor
from schema.context import Context
from schema.problems import (
    InvalidCredentials,
    RateLimited,
    ReauthenticationRequired,
    reauthentication_required,
)
from security import clock
from security.password_forms import verify_password

WRONG_PASSWORD = "The password is wrong."
SECOND_FACTOR_NEEDED = (
    "Two-factor is on and this session was not opened with it: also give `code`, a current "
    "code from the authenticator app or an unused recovery code."
)
WRONG_SECOND_FACTOR = "The two-factor code is wrong or expired."
# The optional argument of the operations that ask for the second factor again.
SecondFactorAgain = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "With two-factor on, when the session was not opened with the second factor: a current "
            "6-digit TOTP or an unused recovery code (spent). Missing or wrong: InvalidCredentials. "
            "Counted in the account's second-factor tries."
        )
    ),
]


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


async def confirm_second_factor(
    context: Context, user: User, code: str | None, *, operation: str
) -> InvalidCredentials | RateLimited | None:
    """None when the account has two-factor off, the caller's session was opened with the
    second factor, or `code` proves it now (then spent); else the answer: InvalidCredentials
    for a missing or wrong code (these operations' unions have no InvalidCode), RateLimited
    when the account's tries or the lockout refuse. Ask after the password: a stolen access
    token alone must not spend the owner's second-factor tries."""
    if not user.two_factor_enabled:
        return None
    identity = await context.identity()
    session = await context.services.sessions.get(str(user.id), identity.session_id)
    if session is not None and "mfa" in session.amr:
        return None
    if code is None or not code.strip():
        context.security_event("second_factor_missing", user=str(user.id), operation=operation)
        return InvalidCredentials(message=SECOND_FACTOR_NEEDED)
    proof = await check_second_factor(context, user, code, operation)
    if isinstance(proof, Proof):
        return None
    if isinstance(proof, RateLimited):
        return proof
    return InvalidCredentials(message=WRONG_SECOND_FACTOR)


async def require_recent_sign_in(context: Context) -> ReauthenticationRequired | None:
    """None when the caller's session signed in within REAUTHENTICATION_WINDOW_SECONDS
    (its access token's `auth_time`, kept across refreshes); else the answer. For the
    operations marked "recent sign-in" (linking and unlinking a provider, passkeys): a
    token refreshed for weeks, or lifted from a device left open, must not add a way in.
    Raises Unauthenticated without a valid access token."""
    identity = await context.identity()
    if signed_in_recently(identity.auth_time, context.services.settings.reauthentication_window_seconds):
        return None
    context.security_event("reauthentication_required", user=str(identity.user.id))
    return reauthentication_required()


def signed_in_recently(auth_time: int, window_seconds: int) -> bool:
    """Whether a sign-in at `auth_time` (epoch seconds) is within the window now."""
    return clock.now() - auth_time <= window_seconds
