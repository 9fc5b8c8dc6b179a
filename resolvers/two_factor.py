"""Two-factor authentication: enrolling a TOTP app, finishing a sign-in with a second
factor, turning it off, and new recovery codes (security/two_factor.py has the rules).

Every check of the second factor goes through resolvers/auth/second_factor.py: one budget of
tries per account, a wrong code counted into the address's lockout like a wrong password,
a TOTP step accepted once per account and a recovery code once ever. Turning two-factor on
ends every other session of the account: those opened before it never showed the factor."""

from __future__ import annotations

from typing import Annotated

import strawberry
from beanie import PydanticObjectId
from bson.errors import InvalidId
from strawberry.types import Info

from documents.user import User, UserChanged, UserGone
from mail import notices, two_factor_notice_message
from resolvers.auth.lockout_answers import count_failure, refused_while_locked
from resolvers.auth.reauthentication import confirm_password
from resolvers.auth.second_factor import WRONG_CODE, check_second_factor
from resolvers.auth.signin import public_user, signed_in
from schema.context import Context, Unauthenticated
from schema.problems import InvalidCode, InvalidCredentials, RateLimited, flow_expired
from schema.two_factor import (
    ConfirmTotpResult,
    DisableTotpResult,
    EnrollTotpResult,
    RecoveryCodes,
    RegenerateRecoveryCodesResult,
    TotpDisabled,
    TotpEnabled,
    TotpEnrollment,
    TwoFactorAlreadyEnabled,
    VerifySecondFactorResult,
)
from security import clock
from security.keyring import Unsealable
from security.two_factor import ENROLLMENT_TTL_SECONDS
from security.user_cache import UserCache
from webhooks import events

Password = Annotated[str, strawberry.argument(description="The account's current password.")]
TotpCode = Annotated[
    str, strawberry.argument(description="The 6-digit code the authenticator app shows now.")
]
SecondFactorCode = Annotated[
    str, strawberry.argument(description="A current 6-digit TOTP, or one of the unused recovery codes.")
]
ChallengeId = Annotated[
    strawberry.ID, strawberry.argument(description="The challengeId of the SecondFactorRequired answered.")
]
TWO_FACTOR_OFF = "Two-factor is off; turn it on first."


async def enroll_totp(info: Info[Context, None], password: Password) -> EnrollTotpResult:
    context = info.context
    user = await context.current_user()
    if user.two_factor_enabled:
        return _already_enabled()
    refused = await confirm_password(context, user, password, operation="enrollTotp", event="totp_enrollment")
    if refused is not None:
        return refused
    totp = context.services.totp
    secret = totp.new_secret()
    user_id = str(user.id)
    try:
        await user.write_changes(
            {
                "totp_pending": totp.seal(user_id, secret),
                "totp_pending_expires": int(clock.now()) + ENROLLMENT_TTL_SECONDS,
            },
            touch=False,
            require={"totp_secret": None},
            announce=context.services.users,
        )
    except UserGone:
        raise Unauthenticated() from None
    except UserChanged:  # turned on meanwhile by another enrolment
        return _already_enabled()
    await context.services.code_tries.reset("confirm", user_id)
    context.security_event("totp_enrollment_started", user=user_id)
    uri = totp.uri(secret, user.email)
    return TotpEnrollment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


async def confirm_totp(info: Info[Context, None], code: TotpCode) -> ConfirmTotpResult:
    context = info.context
    services = context.services
    user = await context.current_user()
    user_id = str(user.id)
    pending = user.totp_pending
    if user.two_factor_enabled or pending is None or user.totp_pending_expires < clock.now():
        return flow_expired()
    left, _ = await services.code_tries.take("confirm", user_id)
    if left < 0:
        await _drop_enrollment(services.users, user, pending)
        return flow_expired()
    try:
        secret = services.totp.open(user_id, pending)
    except Unsealable:  # its data key retired since: enrol again
        return flow_expired()

    async def check() -> int | None:
        return services.totp.matching_step(secret, code)

    checked = await services.lockout.check(user.email, check, client=context.client_bucket)
    if checked.refused_for is not None:
        return _locked(context, user, "confirmTotp", checked.refused_for)
    step = checked.value
    if step is None:
        _wrong(context, user, "totp_confirm_failed", checked.locked, "confirmTotp")
        if left == 0:
            await _drop_enrollment(services.users, user, pending)
        return InvalidCode(message=WRONG_CODE, attempts_left=left)
    codes = services.recovery_codes.generate()
    try:
        await user.write_changes(
            {
                "totp_secret": pending,
                "totp_pending": None,
                "totp_pending_expires": 0,
                # The confirming code is spent too: it cannot sign in afterwards.
                "totp_last_step": step,
                "recovery_codes": [services.recovery_codes.digest(user_id, each) for each in codes],
            },
            require={"totp_pending": pending, "totp_secret": None},
            announce=services.users,
        )
    except UserGone:
        raise Unauthenticated() from None
    except UserChanged:  # a new enrolment or another confirmation won
        return flow_expired()
    await services.code_tries.reset("confirm", user_id)
    # Every other session ends (attack 7): they were opened without the second factor, and
    # would otherwise go on for months without ever showing it. This one goes on: it has
    # just shown the factor, and TotpEnabled carries no new tokens to continue with.
    identity = await context.identity()
    await services.webhooks.sessions_ended(
        user, await services.sessions.revoke_all(user_id, keep=identity.session_id)
    )
    context.security_event("two_factor_enabled", user=user_id)
    await services.webhooks.emit(events.TWO_FACTOR_ENABLED, user)
    await notices.send(
        services, user, two_factor_notice_message(user.email, "two_factor_enabled"), context.client_bucket
    )
    return TotpEnabled(recovery_codes=codes)


async def verify_second_factor(
    info: Info[Context, None], challenge_id: ChallengeId, code: SecondFactorCode
) -> VerifySecondFactorResult:
    context = info.context
    challenges = context.services.challenges
    attempt = await challenges.attempt(str(challenge_id))
    if attempt is None:
        return flow_expired()
    user = await _user(attempt.user_id)
    if user is None or not user.two_factor_enabled:  # deleted, or two-factor turned off meanwhile
        await challenges.end(str(challenge_id))
        return flow_expired()
    # Per account, not per challenge: a password that is known opens new challenges at
    # will, and its successes clear the address's lockout, so the account's budget is what
    # bounds guesses at the second factor.
    proof = await check_second_factor(context, user, code, "verifySecondFactor")
    if isinstance(proof, RateLimited):
        return proof
    if isinstance(proof, InvalidCode):
        if attempt.attempts_left == 0:
            await challenges.end(str(challenge_id))
            context.security_event("second_factor_challenge_burnt", user=str(user.id))
        return InvalidCode(message=WRONG_CODE, attempts_left=min(attempt.attempts_left, proof.attempts_left))
    if not await challenges.end(str(challenge_id)):  # a parallel attempt finished it first
        return flow_expired()
    amr = tuple(dict.fromkeys(attempt.amr + proof.value))
    context.security_event("second_factor_succeeded", user=str(user.id), method=proof.name)
    return await signed_in(context, user, amr=amr, credential_version=attempt.credential_version)


async def disable_totp(
    info: Info[Context, None], password: Password, code: SecondFactorCode
) -> DisableTotpResult:
    context = info.context
    user = await context.current_user()
    checked = await _both_factors(context, user, password, code, "disableTotp", "disable")
    if checked is not None:
        return checked
    if user.two_factor_enabled:
        # The notice first (L3), once per secret turned off: a failure after it leaves a
        # notice of a change that did not happen, never the change without its notice.
        await notices.send(
            context.services,
            user,
            two_factor_notice_message(user.email, "two_factor_disabled"),
            context.client_bucket,
            once=f"two_factor_disabled:{user.id}:{user.totp_secret}",
        )
        try:
            await user.write_changes(
                {"totp_secret": None, "totp_pending": None, "totp_pending_expires": 0, "recovery_codes": []},
                require={"totp_secret": user.totp_secret},
                announce=context.services.users,
            )
        except UserGone:
            raise Unauthenticated() from None
        except UserChanged:
            pass  # turned off (or on anew) meanwhile: what is stored stands
        else:
            context.security_event("two_factor_disabled", user=str(user.id))
            await context.services.webhooks.emit(events.TWO_FACTOR_DISABLED, user)
    return TotpDisabled(user=public_user(user))


async def regenerate_recovery_codes(
    info: Info[Context, None], password: Password, code: SecondFactorCode
) -> RegenerateRecoveryCodesResult:
    context = info.context
    services = context.services
    user = await context.current_user()
    checked = await _both_factors(context, user, password, code, "regenerateRecoveryCodes", "regenerate")
    if checked is not None:
        return checked
    user_id = str(user.id)
    codes = services.recovery_codes.generate()
    try:
        await user.write_changes(
            {"recovery_codes": [services.recovery_codes.digest(user_id, each) for each in codes]},
            require={"totp_secret": user.totp_secret},
            announce=services.users,
        )
    except UserGone:
        raise Unauthenticated() from None
    except UserChanged:  # two-factor was turned off meanwhile
        return InvalidCode(message=TWO_FACTOR_OFF, attempts_left=0)
    context.security_event("recovery_codes_regenerated", user=user_id)
    await notices.send(
        services,
        user,
        two_factor_notice_message(user.email, "recovery_codes_regenerated"),
        context.client_bucket,
    )
    return RecoveryCodes(codes=codes)


async def _both_factors(
    context: Context, user: User, password: str, code: str, operation: str, purpose: str
) -> InvalidCredentials | InvalidCode | RateLimited | None:
    """None when `password` is the user's and `code` a current TOTP or unused recovery
    code (then spent); else the answer. With two-factor off, the password alone; a
    request to regenerate then answers InvalidCode."""
    refused = await confirm_password(
        context, user, password, operation=operation, event=f"two_factor_{purpose}"
    )
    if refused is not None:
        return refused
    if not user.two_factor_enabled:
        if purpose == "disable":
            return None
        return InvalidCode(message=TWO_FACTOR_OFF, attempts_left=0)
    proof = await check_second_factor(context, user, code, operation)
    return proof if isinstance(proof, InvalidCode | RateLimited) else None


async def _drop_enrollment(users: UserCache, user: User, pending: str) -> None:
    try:
        await user.write_changes(
            {"totp_pending": None, "totp_pending_expires": 0},
            announce=users,
            touch=False,
            require={"totp_pending": pending},
        )
    except UserChanged:
        pass


async def _user(user_id: str) -> User | None:
    try:
        return await User.get(PydanticObjectId(user_id))
    except (InvalidId, TypeError):
        return None


def _already_enabled() -> TwoFactorAlreadyEnabled:
    return TwoFactorAlreadyEnabled(message="Two-factor authentication is already on; disable it first.")


def _locked(context: Context, user: User, operation: str, retry_after: int) -> RateLimited:
    return refused_while_locked(
        context, operation, "second_factor_refused_locked", retry_after, user=str(user.id)
    )


def _wrong(context: Context, user: User, event: str, locked: bool, operation: str) -> None:
    count_failure(context, operation, event, locked=locked, address=user.email, user=str(user.id))
