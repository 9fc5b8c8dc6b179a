"""Resetting a forgotten password by emailed code, on the registration's code machinery.

An address without an account gets the same answer and a mail without a code, so the
reset cannot be used to learn who has an account.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from documents.user import User, UserGone
from mail import password_reset_code_message, password_reset_no_account_message
from resolvers.auth.signin import account_disabled, sign_in
from resolvers.emailed_codes import MailFor, mail_new_code, mails, open_flow, prove_code
from schema.arguments import MailedCode, NewPassword
from schema.context import Context
from schema.password_reset import (
    CompletePasswordResetResult,
    PasswordResetCodeSent,
    PasswordResetStarted,
    ResendPasswordResetCodeResult,
    StartPasswordResetResult,
)
from schema.problems import WeakPassword, flow_expired
from security.codes import CodeIssued, FlowNotFound
from security.password_forms import hash_password
from security.password_policy import password_problems
from webhooks import events


async def start_password_reset(
    info: Info[Context, None],
    email: Annotated[
        str,
        strawberry.argument(description="The email address of the account; the reset code is mailed to it."),
    ],
) -> StartPasswordResetResult:
    context = info.context
    issued = await open_flow(
        context,
        context.services.password_resets,
        email,
        codes_for_account_holders=True,
        mail=_mails(context),
    )
    if not isinstance(issued, CodeIssued):
        return issued
    context.security_event("password_reset_started", email=issued.email)
    return PasswordResetStarted(
        reset_id=strawberry.ID(issued.flow_id),
        expires_at=issued.expires_at,
        resend_available_at=issued.resend_available_at,
        code_length=context.services.password_resets.code_length,
    )


async def resend_password_reset_code(
    info: Info[Context, None],
    reset_id: Annotated[
        strawberry.ID, strawberry.argument(description="PasswordResetStarted.resetId of the flow.")
    ],
) -> ResendPasswordResetCodeResult:
    context = info.context
    issued = await mail_new_code(
        context,
        context.services.password_resets,
        reset_id,
        mail=_mails(context),
    )
    if not isinstance(issued, CodeIssued):
        return issued
    return PasswordResetCodeSent(expires_at=issued.expires_at, resend_available_at=issued.resend_available_at)


async def complete_password_reset(
    info: Info[Context, None],
    reset_id: Annotated[
        strawberry.ID, strawberry.argument(description="PasswordResetStarted.resetId of the flow.")
    ],
    code: MailedCode,
    new_password: NewPassword,
) -> CompletePasswordResetResult:
    context = info.context
    resets = context.services.password_resets
    # The policy is checked before the code, so a weak password costs no attempt.
    try:
        reasons = password_problems(new_password, (await resets.peek(reset_id))["email"])
    except FlowNotFound:
        return flow_expired()
    if reasons:
        return WeakPassword(message="Choose a stronger password.", reasons=reasons)
    proven = await prove_code(context, resets, reset_id, code, flow="password_reset")
    if not isinstance(proven, tuple):
        return proven
    _, flow = proven
    await resets.finish(flow)
    user = await User.by_email(flow.email)
    if user is None:  # deleted since the reset started
        return flow_expired()
    # The code proved the person; a disabled account's password stays as it is.
    disabled = account_disabled(context, user)
    if disabled is not None:
        return disabled
    # The new hash and the end of every session in one write (see resolvers/password.py).
    try:
        await user.write_changes(
            {"password_hash": await hash_password(context.services.passwords, new_password)},
            announce=context.services.users,
            new_credentials=True,
        )
    except UserGone:  # deleted meanwhile
        return flow_expired()
    # The emailed code proved the address: a lockout from someone's guesses ends here.
    await context.services.lockout.clear(flow.email, context.client_bucket)
    await context.services.webhooks.sessions_ended(
        user, await context.services.sessions.revoke_all(str(user.id))
    )
    context.security_event("password_reset_completed", email=flow.email, user=str(user.id))
    await context.services.webhooks.emit(events.PASSWORD_RESET, user)
    # The emailed code proved the address (RFC 8176 has no value for it: "email").
    return await sign_in(context, user, amr=("email",))


def _mails(context: Context) -> MailFor:
    return mails(context, password_reset_code_message, password_reset_no_account_message)
