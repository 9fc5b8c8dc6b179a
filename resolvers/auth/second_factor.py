"""Checking an account's second factor, wherever it is asked for: answering a sign-in's
challenge, turning two-factor off, new recovery codes, and again before a password
change, an email change or a deletion (resolvers/auth/reauthentication.py).

Every check takes one try from the account's one budget (security/two_factor.py's
SecondFactorBudget) before the code is compared, and counts a wrong code into the
address's lockout like a wrong password. A correct password gives no try back: only a
right code does. The first time in a day a window of tries is used up, the owner is
mailed: someone has the password, and the second factor stopped them.

A code proves a factor once: a TOTP time step once per account, a recovery code once
ever, each by a conditional write only one of two racing requests can win. The notice
of a recovery code used is queued before that write, under a key naming the code, so
the spend cannot happen without its notice and racing requests queue one between them.
"""

from __future__ import annotations

from enum import Enum

from documents.user import User, UserChanged, UserGone
from mail import notices, second_factor_guessed_message, two_factor_notice_message
from resolvers.auth.lockout_answers import count_failure, refused_while_locked
from schema.context import Context
from schema.problems import InvalidCode, RateLimited, rate_limited
from security.keyring import Unsealable
from security.two_factor import TotpSecrets, looks_like_totp
from security.user_cache import UserCache

WRONG_CODE = "Wrong or expired code."


class Proof(Enum):
    """Which second factor a code proved; its RFC 8176 `amr` values."""

    TOTP = ("otp", "mfa")
    RECOVERY_CODE = ("mfa",)


async def check_second_factor(
    context: Context, user: User, code: str, operation: str
) -> Proof | InvalidCode | RateLimited:
    """Take a try from the account's budget, then check `code` (a TOTP or a recovery code,
    then spent). InvalidCode says how many tries the budget has left; RateLimited when it
    (or the address's lockout) refuses to compare anything."""
    budget = context.services.second_factor_budget
    user_id = str(user.id)
    taken = await budget.take(user_id)
    if taken.left < 0:
        context.security_event("second_factor_refused_tries", user=user_id)
        return rate_limited(taken.wait_seconds)
    proof = await _prove(context, user, code, operation)
    if isinstance(proof, RateLimited):
        return proof
    if proof is None:
        if taken.left == 0 and await budget.first_warning(user_id):
            context.security_event("second_factor_owner_warned", user=user_id)
            await notices.send(
                context.services, user, second_factor_guessed_message(user.email), context.client_bucket
            )
        return InvalidCode(message=WRONG_CODE, attempts_left=taken.left)
    await budget.reset(user_id)
    return proof


async def _prove(context: Context, user: User, code: str, operation: str) -> Proof | RateLimited | None:
    """Check `code` as the user's second factor inside the address's lockout, and spend
    it: a TOTP time step, or a recovery code. None when wrong, replayed, or spent."""
    services = context.services
    user_id = str(user.id)

    async def check() -> Proof | None:
        if user.totp_secret is None:
            return None
        if looks_like_totp(code):
            try:
                secret = services.totp.open(user_id, user.totp_secret)
            except Unsealable:
                return None
            step = services.totp.matching_step(secret, code)
            if step is None or step <= user.totp_last_step:
                return None
            try:  # the step is spent by the one request whose write finds it unspent
                await user.write_changes(
                    {"totp_last_step": step},
                    announce=services.users,
                    touch=False,
                    require={"totp_last_step": {"$lt": step}},
                )
            except UserChanged:
                return None
            await _reseal_totp(services.users, services.totp, user, secret)
            return Proof.TOTP
        digest = services.recovery_codes.match(user_id, code, user.recovery_codes)
        if digest is None:
            return None
        # The notice first (L3): a failure after it leaves a notice of a spend that did not
        # happen, never a spend without its notice.
        await notices.send(
            services,
            user,
            two_factor_notice_message(
                user.email, "recovery_code_used", recovery_codes_left=len(user.recovery_codes) - 1
            ),
            context.client_bucket,
            once=f"recovery_code_used:{user_id}:{digest}",
        )
        try:  # removed by the one request whose write still finds it
            await user.write_changes(
                {},
                announce=services.users,
                pull={"recovery_codes": digest},
                require={"recovery_codes": digest},
            )
        except UserChanged:
            return None
        return Proof.RECOVERY_CODE

    checked = await services.lockout.check(user.email, check, client=context.client_bucket)
    if checked.refused_for is not None:
        return refused_while_locked(
            context, operation, "second_factor_refused_locked", checked.refused_for, user=user_id
        )
    proof = checked.value
    if proof is None:
        count_failure(
            context,
            operation,
            "second_factor_failed",
            locked=checked.locked,
            address=user.email,
            user=user_id,
        )
        return None
    if proof is Proof.RECOVERY_CODE:
        context.security_event("recovery_code_used", user=user_id, left=len(user.recovery_codes))
    return proof


async def _reseal_totp(users: UserCache, totp: TotpSecrets, user: User, secret: str) -> None:
    """A TOTP secret sealed under an older data key, sealed again under the current one, so
    the old key can retire; written only if nobody changed the secret meanwhile."""
    sealed = user.totp_secret
    if sealed is None or not totp.stale(sealed):
        return
    try:
        await user.write_changes(
            {"totp_secret": totp.seal(str(user.id), secret)},
            announce=users,
            touch=False,
            require={"totp_secret": sealed},
        )
    except (UserChanged, UserGone):
        pass  # disabled or re-enrolled meanwhile: nothing left to reseal
