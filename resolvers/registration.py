"""Registration in four steps, plus the code resend, read top to bottom.

1. startRegistration: a flow and an emailed code (or, for an address that already
   has an account, the same answer and a mail without a code).
2. verifyRegistrationCode: the code, once, for a secret registration token.
3. setRegistrationPassword: a policy-checked argon2id hash kept in the flow.
4. completeRegistration: the profile; the unique email index decides races.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import strawberry
from pymongo.errors import DuplicateKeyError
from strawberry.types import Info

from documents.fields import InvalidValue, clean_name, normalize_email, normalize_phone
from documents.user import User, utc_now
from mail import account_exists_message, registration_code_message
from resolvers.auth.signin import signed_in
from resolvers.emailed_codes import MailFor, mail_new_code, mails, open_flow, prove_code
from schema.arguments import MailedCode
from schema.context import Context
from schema.problems import (
    PASSWORD_RULES,
    AccountExists,
    RateLimited,
    SignUpRefused,
    WeakPassword,
    flow_expired,
    invalid_input,
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
from security.codes import VERIFIED, CodeIssued, FlowNotFound
from security.password_forms import hash_password
from security.password_policy import password_problems
from webhooks import events
from webhooks.payloads import user_fields

PASSWORD_SET = "PASSWORD_SET"
# Each setRegistrationPassword costs an argon2 hash: one flow may pay for this many.
# A person retyping a password needs one or two; a script replaying a token gets no more.
PASSWORD_SETS_PER_FLOW = 5


async def start_registration(
    info: Info[Context, None],
    email: Annotated[
        str, strawberry.argument(description="The address to register; the code is mailed to it.")
    ],
) -> StartRegistrationResult:
    context = info.context
    refused = await before_sign_up(context, email, "password")
    if refused is not None:
        return refused
    issued = await open_flow(
        context,
        context.services.registrations,
        email,
        codes_for_account_holders=False,
        mail=_mails(context),
    )
    if not isinstance(issued, CodeIssued):
        return issued
    context.security_event("registration_started", email=issued.email)
    return RegistrationStarted(
        registration_id=strawberry.ID(issued.flow_id),
        expires_at=issued.expires_at,
        resend_available_at=issued.resend_available_at,
        code_length=context.services.registrations.code_length,
    )


async def resend_registration_code(
    info: Info[Context, None],
    registration_id: Annotated[
        strawberry.ID, strawberry.argument(description="RegistrationStarted.registrationId of the flow.")
    ],
) -> ResendRegistrationCodeResult:
    context = info.context
    issued = await mail_new_code(
        context,
        context.services.registrations,
        registration_id,
        mail=_mails(context),
    )
    if not isinstance(issued, CodeIssued):
        return issued
    return RegistrationCodeSent(expires_at=issued.expires_at, resend_available_at=issued.resend_available_at)


async def verify_registration_code(
    info: Info[Context, None],
    registration_id: Annotated[
        strawberry.ID, strawberry.argument(description="RegistrationStarted.registrationId of the flow.")
    ],
    code: MailedCode,
) -> VerifyRegistrationCodeResult:
    context = info.context
    proven = await prove_code(
        context, context.services.registrations, registration_id, code, flow="registration"
    )
    if not isinstance(proven, tuple):
        return proven
    token, flow = proven
    context.security_event("registration_verified", email=flow.email)
    return RegistrationVerified(registration_token=token, expires_at=flow.expires_at)


async def set_registration_password(
    info: Info[Context, None],
    registration_token: Annotated[
        str, strawberry.argument(description="RegistrationVerified.registrationToken of the flow.")
    ],
    password: Annotated[
        str,
        strawberry.argument(description=f"The password of the new account: {PASSWORD_RULES}"),
    ],
) -> SetRegistrationPasswordResult:
    context = info.context
    stages = (VERIFIED, PASSWORD_SET)
    try:
        flow = await context.services.registrations.authorize(registration_token, stages=stages)
    except FlowNotFound:
        return flow_expired()
    reasons = password_problems(password, flow.email)
    if reasons:
        return WeakPassword(message="Choose a stronger password.", reasons=reasons)
    try:
        allowed = await context.services.registrations.spend(
            flow, stages=stages, counter="password_sets", limit=PASSWORD_SETS_PER_FLOW
        )
    except FlowNotFound:
        return flow_expired()
    if not allowed:
        context.security_event("registration_password_sets_exhausted", email=flow.email)
        return _password_sets_exhausted(flow.expires_at)
    password_hash = await hash_password(context.services.passwords, password)
    try:
        await context.services.registrations.update(
            flow, stages=stages, stage=PASSWORD_SET, password_hash=password_hash
        )
    except FlowNotFound:
        return flow_expired()
    return RegistrationPasswordSet(expires_at=flow.expires_at)


async def complete_registration(
    info: Info[Context, None],
    registration_token: Annotated[
        str,
        strawberry.argument(description="RegistrationVerified.registrationToken, once the password is set."),
    ],
    profile: Annotated[
        ProfileInput, strawberry.argument(description="The names and optional phone of the new account.")
    ],
) -> CompleteRegistrationResult:
    context = info.context
    try:
        flow = await context.services.registrations.authorize(registration_token, stages=(PASSWORD_SET,))
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
        await context.services.registrations.finish(flow)
        return AccountExists(message="An account with this email was created meanwhile; log in instead.")
    await context.services.registrations.finish(flow)
    context.security_event("registration_completed", email=flow.email, user=str(user.id))
    await context.services.webhooks.emit(events.USER_CREATED, user, user_fields(user))
    # A new account has no second factor; the emailed code proved the address.
    return await signed_in(context, user, amr=("email",))


async def before_sign_up(context: Context, email: str, method: str) -> SignUpRefused | None:
    """The operator's sign-up policy (HOOK_BEFORE_SIGN_UP_URL) on `email`, asked before anything
    looks the address up: a refusal says nothing about existing accounts. An address that is
    not one is left to the flow's own InvalidInput. Social sign-up calls this too."""
    try:
        address = normalize_email(email)
    except InvalidValue:
        return None
    message = await context.services.hooks.before_sign_up(address, method)
    if message is None:
        return None
    context.security_event("sign_up_refused", email=address, method=method)
    return SignUpRefused(message=message)


def _checked(problems: dict[str, str], field: str, check: Callable[[str], str], value: str) -> str:
    """Run `check`, filing its complaint under the GraphQL field name."""
    try:
        return check(value)
    except InvalidValue as error:
        problems[field] = str(error)
        return ""


def _password_sets_exhausted(flow_expires_at: datetime) -> RateLimited:
    """The flow's password budget is spent until the flow ends (retryAfterSeconds)."""
    seconds = max(1, math.ceil((flow_expires_at - utc_now()).total_seconds()))
    return RateLimited(
        message=(
            f"This registration has set its password {PASSWORD_SETS_PER_FLOW} times: complete it "
            f"with the last one, or start a new registration (this one ends in {seconds} seconds)."
        ),
        retry_after_seconds=seconds,
    )


def _mails(context: Context) -> MailFor:
    return mails(context, registration_code_message, account_exists_message)
