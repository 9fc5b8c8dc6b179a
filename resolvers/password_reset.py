"""Resetting a forgotten password by emailed code, on the registration's code machinery.

An address without an account gets the same answer and a mail without a code, so the
reset cannot be used to learn who has an account.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from documents.user import User
from mail import password_reset_code_message, password_reset_no_account_message
from resolvers.inputs import InvalidValue, normalize_email, password_problems
from resolvers.registration import wrong_code
from resolvers.signin import sign_in
from schema.context import Context
from schema.password_reset import (
    CompletePasswordResetResult,
    PasswordResetCodeSent,
    PasswordResetStarted,
    ResendPasswordResetCodeResult,
    StartPasswordResetResult,
)
from schema.problems import WeakPassword, flow_expired, invalid_input, rate_limited
from security.codes import CodeIssued, FlowNotFound, RateLimitExceeded, WrongCode


async def start_password_reset(info: Info[Context, None], email: str) -> StartPasswordResetResult:
    context = info.context
    try:
        address = normalize_email(email)
    except InvalidValue as error:
        return invalid_input({"email": str(error)})
    has_account = await User.by_email(address) is not None
    try:
        issued = await context.password_resets.start(address, deliverable=has_account)
    except RateLimitExceeded as error:
        return rate_limited(error.retry_after_seconds)
    await _mail_code(context, issued)
    context.security_event("password_reset_started", email=address)
    return PasswordResetStarted(
        reset_id=strawberry.ID(issued.flow_id),
        expires_at=issued.expires_at,
        resend_available_at=issued.resend_available_at,
        code_length=context.password_resets.code_length,
    )


async def resend_password_reset_code(
    info: Info[Context, None], reset_id: strawberry.ID
) -> ResendPasswordResetCodeResult:
    context = info.context
    try:
        issued = await context.password_resets.resend(reset_id)
    except FlowNotFound:
        return flow_expired()
    except RateLimitExceeded as error:
        return rate_limited(error.retry_after_seconds)
    await _mail_code(context, issued)
    return PasswordResetCodeSent(expires_at=issued.expires_at, resend_available_at=issued.resend_available_at)


async def complete_password_reset(
    info: Info[Context, None], reset_id: strawberry.ID, code: str, new_password: str
) -> CompletePasswordResetResult:
    context = info.context
    resets = context.password_resets
    # The policy is checked before the code, so a weak password costs no attempt.
    try:
        reasons = password_problems(new_password, await resets.pending(reset_id))
    except FlowNotFound:
        return flow_expired()
    if reasons:
        return WeakPassword(message="Choose a stronger password.", reasons=reasons)
    try:
        _, flow = await resets.verify(reset_id, code.strip())
    except FlowNotFound:
        return flow_expired()
    except WrongCode as error:
        return wrong_code(context, "password_reset", error)
    await resets.finish(flow)
    user = await User.by_email(flow.email)
    if user is None:  # deleted since the reset started
        return flow_expired()
    await user.replace_password_hash(await context.passwords.hash(new_password))
    await context.sessions.revoke_all(str(user.id))
    context.security_event("password_reset_completed", email=flow.email, user=str(user.id))
    return await sign_in(context, user)


async def _mail_code(context: Context, issued: CodeIssued) -> None:
    if issued.code is None:
        message = password_reset_no_account_message(issued.email)
    else:
        minutes = context.settings.code_ttl_seconds // 60
        message = password_reset_code_message(issued.email, issued.code, minutes)
    await context.mailer.send(message)
