"""Login: one answer for every failure, one argon2 verify either way."""

from __future__ import annotations

from strawberry.types import Info

from documents.user import User
from resolvers.inputs import InvalidValue, normalize_email
from resolvers.signin import sign_in
from schema.context import Context
from schema.login import LoginResult
from schema.problems import InvalidCredentials


async def login(info: Info[Context, None], email: str, password: str) -> LoginResult:
    context = info.context
    try:
        user = await User.by_email(normalize_email(email))
    except InvalidValue:
        user = None
    # Unknown email, wrong password, half-finished registration: same work, same answer.
    if not await context.passwords.verify(user.password_hash if user else None, password):
        return InvalidCredentials(message="The email or password is wrong.")
    assert user is not None
    if context.passwords.needs_rehash(user.password_hash):
        new_hash = await context.passwords.hash(password)
        await user.set({User.password_hash: new_hash})
    return await sign_in(context, user)
