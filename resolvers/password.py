"""Changing the password while signed in: the other sessions end, this one continues, and
the account's address gets a notice. With two-factor on, the second factor is asked
too (resolvers/auth/reauthentication.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from documents.user import UserChanged
from mail import notices, password_changed_message
from resolvers.auth.reauthentication import SecondFactorAgain, confirm_password, confirm_second_factor
from resolvers.auth.signin import auth_payload, open_session
from schema.arguments import NewPassword
from schema.context import Context, Unauthenticated
from schema.password import ChangePasswordResult
from schema.problems import WeakPassword
from security.password_forms import hash_password, normalized
from security.password_policy import password_problems
from webhooks import events


async def change_password(
    info: Info[Context, None],
    current_password: Annotated[
        str, strawberry.argument(description="The password the user signs in with now.")
    ],
    new_password: NewPassword,
    code: SecondFactorAgain = None,
) -> ChangePasswordResult:
    context = info.context
    identity = await context.identity()
    user = identity.user
    refused = await confirm_password(
        context,
        user,
        current_password,
        operation="changePassword",
        event="password_change",
        wrong="The current password is wrong.",
    )
    if refused is not None:
        return refused
    reasons = password_problems(new_password, user.email)
    if normalized(new_password) == normalized(current_password):
        reasons.append("Choose a password different from the current one.")
    if reasons:  # before the second factor: a weak choice costs no code
        return WeakPassword(message="Choose a stronger password.", reasons=reasons)
    refused = await confirm_second_factor(context, user, code, operation="changePassword")
    if refused is not None:
        return refused
    # The notice first (L3), once per credential version: a failure after it leaves a
    # notice of a change that may not have happened, never a change without its notice.
    await notices.send(
        context.services,
        user,
        password_changed_message(user.email),
        context.client_bucket,
        once=f"password_changed:{user.id}:{user.credential_version}",
    )
    # One write changes the hash and ends every session (by credential version): a
    # login in flight with the old password, or a crash before revoke_all, leaves
    # nothing usable behind. Refused if the credentials changed since they were checked.
    try:
        await user.write_changes(
            {"password_hash": await hash_password(context.services.passwords, new_password)},
            announce=context.services.users,
            new_credentials=True,
            require={"credential_version": user.credential_version},
        )
    except UserChanged:  # another change or reset won: this token's session is over
        raise Unauthenticated() from None
    user_id = str(user.id)
    ended = await context.services.sessions.revoke_all(user_id, keep=identity.session_id)
    await context.services.webhooks.sessions_ended(user, ended)
    current = await context.services.sessions.get(user_id, identity.session_id)
    renewed = None
    if current is not None:
        renewed = await context.services.sessions.rotate(current, credential_version=user.credential_version)
    if renewed is None:  # ended or refreshed meanwhile: continue on a new one
        amr = tuple(current.amr) if current is not None else ("pwd",)
        if current is not None:
            await context.services.sessions.revoke([current])
        renewed = await open_session(context, user, amr=amr)
    context.security_event("password_changed", user=user_id)
    await context.services.webhooks.emit(events.PASSWORD_CHANGED, user)
    return await auth_payload(context.services, user, renewed)
