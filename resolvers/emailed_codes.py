"""The steps registration and password reset share: open a flow that mails a code,
mail a new code, and answer a wrong one. Each flow says only which mail it sends."""

from __future__ import annotations

from collections.abc import Callable

from documents.user import User
from mail import MailMessage
from resolvers.inputs import InvalidValue, normalize_email
from schema.context import Context
from schema.problems import (
    FlowExpired,
    InvalidCode,
    InvalidInput,
    RateLimited,
    flow_expired,
    invalid_input,
    rate_limited,
)
from security.codes import CodeFlows, CodeIssued, FlowNotFound, RateLimitExceeded, WrongCode

# Builds the mail for an issued code; `issued.code` is None when no code may be sent.
MailFor = Callable[[CodeIssued], MailMessage]


def mails(
    context: Context,
    with_code: Callable[[str, str, int], MailMessage],
    without_code: Callable[[str], MailMessage],
) -> MailFor:
    """The flow's two mails: the code, or the notice that carries none."""
    minutes = context.settings.code_ttl_seconds // 60

    def mail(issued: CodeIssued) -> MailMessage:
        if issued.code is None:
            return without_code(issued.email)
        return with_code(issued.email, issued.code, minutes)

    return mail


async def open_flow(
    context: Context, flows: CodeFlows, email: str, *, codes_for_account_holders: bool, mail: MailFor
) -> CodeIssued | InvalidInput | RateLimited:
    """A new flow for `email`; a code is mailed only if the address is on the right side
    of `codes_for_account_holders`, everyone else gets the same answer and a codeless mail."""
    try:
        address = normalize_email(email)
    except InvalidValue as error:
        return invalid_input({"email": str(error)})
    # Both branches look up, store, and mail: same answer, comparable time.
    has_account = await User.by_email(address) is not None
    try:
        issued = await flows.start(address, deliverable=has_account == codes_for_account_holders)
    except RateLimitExceeded as error:
        return rate_limited(error.retry_after_seconds)
    await context.mailer.send(mail(issued))
    return issued


async def mail_new_code(
    context: Context, flows: CodeFlows, flow_id: str, *, mail: MailFor
) -> CodeIssued | FlowExpired | RateLimited:
    try:
        issued = await flows.resend(flow_id)
    except FlowNotFound:
        return flow_expired()
    except RateLimitExceeded as error:
        return rate_limited(error.retry_after_seconds)
    await context.mailer.send(mail(issued))
    return issued


def wrong_code(context: Context, flow: str, error: WrongCode) -> InvalidCode:
    """The answer to a wrong code, logged as a failed code or, at the last one, a burnt flow."""
    if error.attempts_left:
        context.security_event("code_failed", flow=flow, attempts_left=error.attempts_left)
        return InvalidCode(message="Wrong or expired code.", attempts_left=error.attempts_left)
    context.security_event("flow_burnt", flow=flow)
    return InvalidCode(message="Wrong code; too many attempts, start again.", attempts_left=0)
