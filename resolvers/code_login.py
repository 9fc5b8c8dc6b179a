"""Signing in by emailed code (passwordless), on the registration's code machinery.

1. startCodeLogin: a flow and a mailed code; an address without an account gets the
   same answer, after the same work, and a mail without a code. A flow has no resend:
   a new start for the same address within the resend cooldown answers RateLimited.
2. completeCodeLogin: the code, once, opens a session.

On for every account: whoever reads the account's mail may sign in, as they could by
resetting the password.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from documents.user import User
from mail import login_code_message, login_no_account_message, new_code_sign_in_message, notices
from resolvers.auth.signin import sign_in
from resolvers.emailed_codes import MailFor, mails, open_flow, prove_code
from schema.code_login import CodeLoginStarted, CompleteCodeLoginResult, StartCodeLoginResult
from schema.context import Context
from schema.problems import flow_expired
from security.codes import CodeIssued


async def start_code_login(
    info: Info[Context, None],
    email: Annotated[
        str, strawberry.argument(description="The account's email address; the sign-in code is mailed to it.")
    ],
) -> StartCodeLoginResult:
    context = info.context
    issued = await open_flow(
        context,
        context.services.code_logins,
        email,
        codes_for_account_holders=True,
        mail=_mails(context),
    )
    if not isinstance(issued, CodeIssued):
        return issued
    context.security_event("code_login_started", email=issued.email)
    return CodeLoginStarted(
        login_id=strawberry.ID(issued.flow_id),
        expires_at=issued.expires_at,
        resend_available_at=issued.resend_available_at,
        code_length=context.services.code_logins.code_length,
    )


async def complete_code_login(
    info: Info[Context, None],
    login_id: Annotated[
        strawberry.ID, strawberry.argument(description="CodeLoginStarted.loginId of the sign-in.")
    ],
    code: Annotated[
        str, strawberry.argument(description="The digits of the mailed code (spaces are ignored).")
    ],
) -> CompleteCodeLoginResult:
    context = info.context
    logins = context.services.code_logins
    proven = await prove_code(context, logins, login_id, code, flow="code_login")
    if not isinstance(proven, tuple):
        return proven
    _, flow = proven
    await logins.finish(flow)
    # By address, now: an account deleted or moved to another address since the start
    # is not signed in (the old address no longer names it).
    user = await User.by_email(flow.email)
    if user is None:
        return flow_expired()
    context.security_event("code_login_completed", email=flow.email, user=str(user.id))
    # A code guessed across accounts would be a silent session: the owner hears of every
    # sign-in by code from a client the account never signed in from.
    if await context.services.known_clients.remember(str(user.id), context.client_bucket):
        context.security_event("code_login_new_client", user=str(user.id))
        await notices.send(
            context.services,
            user,
            new_code_sign_in_message(user.email, context.client_bucket),
            context.client_bucket,
        )
    return await sign_in(context, user, amr=("email",))


def _mails(context: Context) -> MailFor:
    return mails(context, login_code_message, login_no_account_message)
