"""Login: one answer for every failure, one argon2 verify either way, and a
progressive lockout per address that refuses without verifying."""

from __future__ import annotations

from strawberry.types import Info

from documents.user import User, UserChanged
from resolvers.inputs import InvalidValue, normalize_email
from resolvers.signin import sign_in
from schema.context import Context
from schema.login import LoginResult
from schema.problems import InvalidCredentials, rate_limited


async def login(info: Info[Context, None], email: str, password: str) -> LoginResult:
    context = info.context
    try:
        address = normalize_email(email)
    except InvalidValue:
        address = email.strip().lower()
    attempt = await context.lockout.attempt(address)
    if attempt.refused_for is not None:
        context.security_event("login_refused_locked", email=address, retry_after=attempt.refused_for)
        return rate_limited(attempt.refused_for)
    user = await User.by_email(address)
    # Unknown email, wrong password, half-finished registration: same work, same answer.
    verified = await context.passwords.verify(user.password_hash if user else None, password)
    if user is None or not verified:
        context.security_event("login_failed", email=address)
        if attempt.locks_on_failure:
            context.security_event("lockout", email=address)
        return InvalidCredentials(message="The email or password is wrong.")
    await context.lockout.succeeded(address)
    # The session is valid only under the credentials just verified (a change that
    # lands meanwhile ends it), and the rehash only replaces the hash just verified.
    verified_version = user.credential_version
    if context.passwords.needs_rehash(user.password_hash):
        await _rehash(context, user, password)
    context.security_event("login_succeeded", email=address, user=str(user.id))
    return await sign_in(context, user, credential_version=verified_version)


async def _rehash(context: Context, user: User, password: str) -> None:
    """Store `password` hashed with today's parameters, unless the hash changed meanwhile."""
    verified_hash = user.password_hash
    try:
        await user.write_changes(
            {"password_hash": await context.passwords.hash(password)},
            touch=False,
            require={"password_hash": verified_hash},
        )
    except UserChanged:
        pass  # a new password (or a newer rehash) won: leave it
