"""Login: one answer for every failure, one argon2 verify either way, and a
progressive lockout per address that refuses without verifying."""

from __future__ import annotations

from strawberry.types import Info

from documents.user import User
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
    if context.passwords.needs_rehash(user.password_hash):
        await user.set({User.password_hash: await context.passwords.hash(password)})
    context.security_event("login_succeeded", email=address, user=str(user.id))
    return await sign_in(context, user)
