"""Login: one answer for every failure, one argon2 verify either way, and a
progressive lockout per address that refuses without verifying."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from documents.fields import InvalidValue, normalize_email
from documents.user import User, UserChanged
from resolvers.auth.lockout_answers import count_failure, refused_while_locked
from resolvers.auth.signin import sign_in
from schema.context import Context
from schema.login import LoginResult
from schema.problems import FlowExpired, InvalidCredentials
from security.password_forms import Match, hash_password, needs_rehash, verify_password


async def login(
    info: Info[Context, None],
    email: Annotated[
        str, strawberry.argument(description="The email address of the account (case does not matter).")
    ],
    password: Annotated[str, strawberry.argument(description="The password of the account.")],
) -> LoginResult:
    context = info.context
    try:
        address = normalize_email(email)
    except InvalidValue:
        # No account can have this address: nothing to verify and nothing to lock, so no
        # Redis key for anyone to mint by the thousand (the per-IP limit counted the call).
        context.security_event("login_failed", reason="invalid_email")
        return InvalidCredentials(message="The email or password is wrong.")
    match = Match.NONE

    async def check() -> User | None:
        nonlocal match
        user = await User.by_email(address)
        # Unknown email, wrong password, half-finished registration: same work, same answer.
        match = await verify_password(
            context.services.passwords, user.password_hash if user else None, password
        )
        return user if match else None

    checked = await context.services.lockout.check(address, check, client=context.client_bucket)
    if checked.refused_for is not None:
        return refused_while_locked(
            context,
            "login",
            "login_refused_locked",
            checked.refused_for,
            email=address,
            retry_after=checked.refused_for,
        )
    user = checked.value
    if user is None:
        count_failure(
            context,
            "login",
            "login_failed",
            locked=checked.locked,
            address_locked=checked.address_locked,
            address=address,
            email=address,
        )
        return InvalidCredentials(message="The email or password is wrong.")
    # The session is valid only under the credentials just verified (a change that
    # lands meanwhile ends it), and the rehash only replaces the hash just verified.
    verified_version = user.credential_version
    if match is Match.LEGACY or needs_rehash(context.services.passwords, user.password_hash):
        await _rehash(context, user, password)
    context.security_event("login_succeeded", email=address, user=str(user.id))
    answer = await sign_in(context, user, amr=("pwd",), credential_version=verified_version)
    if isinstance(answer, FlowExpired):  # the password changed while it was verified: it is wrong now
        return InvalidCredentials(message="The email or password is wrong.")
    return answer


async def _rehash(context: Context, user: User, password: str) -> None:
    """Store `password` hashed with today's parameters, unless the hash changed meanwhile."""
    verified_hash = user.password_hash
    try:
        await user.write_changes(
            {"password_hash": await hash_password(context.services.passwords, password)},
            announce=context.services.users,
            touch=False,
            require={"password_hash": verified_hash},
        )
    except UserChanged:
        pass  # a new password (or a newer rehash) won: leave it
