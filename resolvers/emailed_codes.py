"""The steps every emailed-code flow shares (registration, password reset, sign-in by
code, email change): open a flow that mails a code, mail a new code, and answer a wrong
one. Each flow says only which mail it sends.

Mail is queued in the outbox (mail/outbox.py), never sent inside the request: with SMTP
down the answer is the same, and the mail goes out once SMTP is back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import metrics
from documents.fields import InvalidValue, normalize_email
from documents.user import User
from mail import MailMessage
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
from security.codes import (
    CodeFlows,
    CodeIssued,
    Deliver,
    Flow,
    FlowNotFound,
    RateLimitExceeded,
    WrongCode,
)

# Builds the mail for an issued code; `issued.code` is None when no code may be sent.
MailFor = Callable[[CodeIssued], MailMessage]


def mails(
    context: Context,
    with_code: Callable[[str, str, int], MailMessage],
    without_code: Callable[[str], MailMessage],
) -> MailFor:
    """The flow's two mails: the code, or the notice that carries none."""
    minutes = context.services.settings.code_ttl_seconds // 60

    def mail(issued: CodeIssued) -> MailMessage:
        if issued.code is None:
            return without_code(issued.email)
        return with_code(issued.email, issued.code, minutes)

    return mail


async def open_flow(
    context: Context,
    flows: CodeFlows,
    email: str,
    *,
    codes_for_account_holders: bool,
    mail: MailFor,
    input_name: str = "email",
    fields: Mapping[str, str] | None = None,
    notices: Sequence[MailMessage] = (),
) -> CodeIssued | InvalidInput | RateLimited:
    """A new flow for `email`; a code is mailed only if the address is on the right side
    of `codes_for_account_holders`, everyone else gets the same answer and a codeless mail.

    `input_name` names the argument in an InvalidInput, `fields` are kept in the flow, and
    `notices` (to other addresses) are queued with the flow's mail, under its quota."""
    try:
        address = normalize_email(email)
    except InvalidValue as error:
        return invalid_input({input_name: str(error)})

    async def deliverable() -> bool:
        # Asked only once the quota is taken: past it, nothing about the account is read.
        return await account_exists(address) == codes_for_account_holders

    try:
        return await flows.start(
            address,
            client=context.client_bucket,
            deliverable=deliverable,
            deliver=_sender(context, flows, mail, notices),
            fields=fields,
        )
    except RateLimitExceeded as error:
        return _refused(context, error)


async def mail_new_code(
    context: Context, flows: CodeFlows, flow_id: str, *, mail: MailFor
) -> CodeIssued | FlowExpired | RateLimited:
    try:
        return await flows.resend(
            flow_id, client=context.client_bucket, deliver=_sender(context, flows, mail)
        )
    except FlowNotFound:
        return flow_expired()
    except RateLimitExceeded as error:
        return _refused(context, error)


# Budgets whose refusal is worth a line in the security log (the cooldowns are not).
LOGGED_BUDGETS = frozenset(
    {"mail_breaker", "code_breaker", "code_failures_ceiling", "code_failures", "client_code_failures"}
)


def _refused(context: Context, error: RateLimitExceeded, **fields: str) -> RateLimited:
    """The answer to a request a code budget refused, counted by budget (the client is
    told only when to come back)."""
    if error.reason:
        metrics.CODE_LIMITS.labels(error.reason).inc()
    if error.reason in LOGGED_BUDGETS:
        context.security_event("code_budget_refused", budget=error.reason, **fields)
    return rate_limited(error.retry_after_seconds)


async def account_exists(address: str) -> bool:
    """Whether `address` has an account, as a count: the same work whether or not it
    exists. Loading the document (even projected to `_id`) takes measurably longer
    for a known address; a count is answered from the unique email index alone."""
    return await User.get_pymongo_collection().count_documents({"email": address}, limit=1) > 0


def _sender(
    context: Context, flows: CodeFlows, mail: MailFor, notices: Sequence[MailMessage] = ()
) -> Deliver:
    """Queues the flow's mail and its notices; a resent code is promoted by the outbox once
    it is delivered."""

    async def deliver(issued: CodeIssued) -> None:
        follow_up = None
        if issued.pending_mac is not None:
            follow_up = {"flows": flows.prefix, "flow_id": issued.flow_id, "mac": issued.pending_mac}
        await context.services.outbox.enqueue(mail(issued), follow_up=follow_up)
        for notice in notices:
            await context.services.outbox.enqueue(notice)

    return deliver


async def prove_code(
    context: Context, flows: CodeFlows, flow_id: str, code: str, *, flow: str
) -> tuple[str, Flow] | FlowExpired | InvalidCode | RateLimited:
    """The flow `code` proves (with its token, security/codes/), or the answer to give:
    FlowExpired for an unknown, expired or used-up flow, InvalidCode for a wrong code,
    RateLimited (nothing compared, no attempt spent) for a client past its own caps of
    wrong codes, at this address or across addresses."""
    try:
        return await flows.verify(flow_id, code.strip(), client=context.client_bucket)
    except FlowNotFound:
        return flow_expired()
    except RateLimitExceeded as error:
        return _refused(context, error, flow=flow)
    except WrongCode as error:
        return _wrong_code(context, flow, error)


def _wrong_code(context: Context, flow: str, error: WrongCode) -> InvalidCode:
    """The answer to a wrong code, logged as a failed code or, at the last one, a burnt flow;
    the wrong code that takes the address to its ceiling (or everyone to the breaker) is
    logged and counted as well."""
    if error.address_ceiling:
        metrics.CODE_LIMITS.labels("code_failures_ceiling").inc()
        context.security_event("code_failures_ceiling", flow=flow)
    if error.breaker:
        metrics.CODE_LIMITS.labels("code_breaker").inc()
        context.security_event("code_breaker_tripped", flow=flow)
    if error.attempts_left:
        context.security_event("code_failed", flow=flow, attempts_left=error.attempts_left)
        return InvalidCode(message="Wrong or expired code.", attempts_left=error.attempts_left)
    context.security_event("flow_burnt", flow=flow)
    return InvalidCode(message="Wrong code; too many attempts, start again.", attempts_left=0)
