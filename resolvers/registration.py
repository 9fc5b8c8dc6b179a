"""Registration in four steps, plus the code resend, read top to bottom.

1. startRegistration: a flow and an emailed code (or, for an address that already
   has an account, the same answer and a mail without a code).
2. verifyRegistrationCode: the code, once, for a secret registration token.
3. setRegistrationPassword: a policy-checked argon2id hash kept in the flow.
4. completeRegistration: the profile; the unique email index decides races.
"""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from pymongo.errors import DuplicateKeyError
from strawberry.types import Info

from documents.user import User, utc_now
from mail import account_exists_message, registration_code_message
from resolvers.inputs import InvalidValue, clean_name, normalize_email, normalize_phone, password_problems
from resolvers.signin import sign_in
from schema.context import Context
from schema.problems import (
    AccountExists,
    InvalidCode,
    WeakPassword,
    flow_expired,
    invalid_input,
    rate_limited,
)
from schema.registration import (
    CompleteRegistrationResult,
    ProfileInput,
    RegistrationCodeSent,
    RegistrationPasswordSet,
    RegistrationStarted,
    RegistrationVerified,
    ResendRegistrationCodeResult,
    SetRegistrationPasswordResult,
    StartRegistrationResult,
    VerifyRegistrationCodeResult,
)
from security.codes import VERIFIED, CodeIssued, FlowNotFound, RateLimitExceeded, WrongCode

PASSWORD_SET = "PASSWORD_SET"


async def start_registration(info: Info[Context, None], email: str) -> StartRegistrationResult:
    context = info.context
    try:
        address = normalize_email(email)
    except InvalidValue as error:
        return invalid_input({"email": str(error)})
    # Both branches look up, store, and mail: same answer, comparable time.
    has_account = await User.by_email(address) is not None
    try:
        issued = await context.registrations.start(address, deliverable=not has_account)
    except RateLimitExceeded as error:
        return rate_limited(error.retry_after_seconds)
    await _mail_code(context, issued)
    context.security_event("registration_started", email=address)
    return RegistrationStarted(
        registration_id=strawberry.ID(issued.flow_id),
        expires_at=issued.expires_at,
        resend_available_at=issued.resend_available_at,
        code_length=context.registrations.code_length,
    )


async def resend_registration_code(
    info: Info[Context, None], registration_id: strawberry.ID
) -> ResendRegistrationCodeResult:
    context = info.context
    try:
        issued = await context.registrations.resend(registration_id)
    except FlowNotFound:
        return flow_expired()
    except RateLimitExceeded as error:
        return rate_limited(error.retry_after_seconds)
    await _mail_code(context, issued)
    return RegistrationCodeSent(expires_at=issued.expires_at, resend_available_at=issued.resend_available_at)


async def verify_registration_code(
    info: Info[Context, None], registration_id: strawberry.ID, code: str
) -> VerifyRegistrationCodeResult:
    try:
        token, flow = await info.context.registrations.verify(registration_id, code.strip())
    except FlowNotFound:
        return flow_expired()
    except WrongCode as error:
        message = (
            "Wrong or expired code." if error.attempts_left else "Wrong code; too many attempts, start again."
        )
        return InvalidCode(message=message, attempts_left=error.attempts_left)
    return RegistrationVerified(registration_token=token, expires_at=flow.expires_at)


async def set_registration_password(
    info: Info[Context, None], registration_token: str, password: str
) -> SetRegistrationPasswordResult:
    context = info.context
    stages = (VERIFIED, PASSWORD_SET)
    try:
        flow = await context.registrations.authorize(registration_token, stages=stages)
    except FlowNotFound:
        return flow_expired()
    reasons = password_problems(password, flow.email)
    if reasons:
        return WeakPassword(message="Choose a stronger password.", reasons=reasons)
    password_hash = await context.passwords.hash(password)
    try:
        await context.registrations.update(
            flow, stages=stages, stage=PASSWORD_SET, password_hash=password_hash
        )
    except FlowNotFound:
        return flow_expired()
    return RegistrationPasswordSet(expires_at=flow.expires_at)


async def complete_registration(
    info: Info[Context, None], registration_token: str, profile: ProfileInput
) -> CompleteRegistrationResult:
    context = info.context
    try:
        flow = await context.registrations.authorize(registration_token, stages=(PASSWORD_SET,))
    except FlowNotFound:
        return flow_expired()
    problems: dict[str, str] = {}
    first_name = _checked(problems, "firstName", clean_name, profile.first_name)
    last_name = _checked(problems, "lastName", clean_name, profile.last_name)
    phone = _checked(problems, "phone", normalize_phone, profile.phone) if profile.phone else None
    if problems:
        return invalid_input(problems)
    now = utc_now()
    user = User(
        email=flow.email,
        password_hash=flow.fields["password_hash"],
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        created_at=now,
        updated_at=now,
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        await context.registrations.finish(flow)
        return AccountExists(message="An account with this email was created meanwhile; log in instead.")
    await context.registrations.finish(flow)
    context.security_event("registration_completed", email=flow.email, user=str(user.id))
    return await sign_in(context, user)


def wrong_code(context: Context, flow: str, error: WrongCode) -> InvalidCode:
    """The answer to a wrong code, logged as a failed code or, at the last one, a burnt flow."""
    if error.attempts_left:
        context.security_event("code_failed", flow=flow, attempts_left=error.attempts_left)
        return InvalidCode(message="Wrong or expired code.", attempts_left=error.attempts_left)
    context.security_event("flow_burnt", flow=flow)
    return InvalidCode(message="Wrong code; too many attempts, start again.", attempts_left=0)


def _checked(problems: dict[str, str], field: str, check: Callable[[str], str], value: str) -> str:
    """Run `check`, filing its complaint under the GraphQL field name."""
    try:
        return check(value)
    except InvalidValue as error:
        problems[field] = str(error)
        return ""


async def _mail_code(context: Context, issued: CodeIssued) -> None:
    if issued.code is None:
        message = account_exists_message(issued.email)
    else:
        minutes = context.settings.code_ttl_seconds // 60
        message = registration_code_message(issued.email, issued.code, minutes)
    await context.mailer.send(message)
