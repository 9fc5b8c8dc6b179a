"""Types of two-factor authentication: the challenge a sign-in answers when a second
factor is needed, and the TOTP enrolment and its recovery codes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.permissions import IsAuthenticated
from schema.problems import (
    AccountDisabled,
    FlowExpired,
    InvalidCode,
    InvalidCredentials,
    Problem,
    RateLimited,
)
from schema.rate_limit import LIMITED, RateLimit
from schema.user import AuthPayload, User


@strawberry.enum(description="A way to answer a second-factor challenge.")
class SecondFactorMethod(Enum):
    TOTP = strawberry.enum_value("TOTP", description="A 6-digit code from an authenticator app.")
    RECOVERY_CODE = strawberry.enum_value(
        "RECOVERY_CODE",
        description="One of the single-use recovery codes shown when two-factor was turned on.",
    )


@strawberry.type(description="A first factor succeeded; a second one is needed before a session opens.")
class SecondFactorRequired:
    challenge_id: strawberry.ID = strawberry.field(
        description="Opaque, short-lived, a limited number of attempts. Answer it with verifySecondFactor."
    )
    expires_at: datetime = strawberry.field(description="When the challenge ends; sign in again after it.")
    methods: list[SecondFactorMethod] = strawberry.field(description="The second factors this account has.")


VerifySecondFactorResult = Annotated[
    AuthPayload | InvalidCode | FlowExpired | RateLimited | AccountDisabled,
    strawberry.union(
        "VerifySecondFactorResult",
        description="A session, or why not: FlowExpired once the challenge expired or used its attempts.",
    ),
]


@strawberry.type(description="Two-factor is already on for this account; disable it first.")
class TwoFactorAlreadyEnabled(Problem):
    pass


@strawberry.type(description="A TOTP secret waiting for its first code (confirmTotp) before it counts.")
class TotpEnrollment:
    secret: str = strawberry.field(description="Base32 secret for manual entry; shown once.")
    otpauth_uri: str = strawberry.field(description="otpauth:// URI for authenticator apps.")
    qr_svg: str = strawberry.field(description="The same URI as an SVG QR code.")


EnrollTotpResult = Annotated[
    TotpEnrollment | InvalidCredentials | TwoFactorAlreadyEnabled | RateLimited,
    strawberry.union("EnrollTotpResult", description="A new TOTP secret, pending until confirmTotp."),
]


@strawberry.type(description="Two-factor is on.")
class TotpEnabled:
    recovery_codes: list[str] = strawberry.field(
        description="Single-use recovery codes; shown once, stored hashed."
    )


ConfirmTotpResult = Annotated[
    TotpEnabled | InvalidCode | FlowExpired | RateLimited,
    strawberry.union(
        "ConfirmTotpResult", description="FlowExpired: no enrolment is pending (never started, or expired)."
    ),
]


@strawberry.type(description="Two-factor is off; the recovery codes are gone.")
class TotpDisabled:
    user: User = strawberry.field(description="The account, two-factor off.")


DisableTotpResult = Annotated[
    TotpDisabled | InvalidCredentials | InvalidCode | RateLimited,
    strawberry.union(
        "DisableTotpResult", description="Needs the password and a current TOTP or recovery code."
    ),
]


@strawberry.type(description="A new set of recovery codes; every earlier one stopped working.")
class RecoveryCodes:
    codes: list[str] = strawberry.field(description="Single-use recovery codes; shown once, stored hashed.")


RegenerateRecoveryCodesResult = Annotated[
    RecoveryCodes | InvalidCredentials | InvalidCode | RateLimited,
    strawberry.union(
        "RegenerateRecoveryCodesResult", description="Needs the password and a current TOTP or recovery code."
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/two_factor.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import two_factor as flow

    @strawberry.type
    class TwoFactorMutation:
        verify_second_factor: VerifySecondFactorResult = strawberry.mutation(
            resolver=flow.verify_second_factor,
            extensions=[RateLimit("verify_second_factor")],
            description=(
                "Finishes a sign-in that answered SecondFactorRequired. The code: a current TOTP (one step "
                "of drift either way, each step once) or an unused recovery code. InvalidCode with the "
                "attempts left; FlowExpired once the challenge expired or used its 5 attempts; RateLimited "
                "past the account's tries or the lockout. " + LIMITED
            ),
        )
        enroll_totp: EnrollTotpResult = strawberry.mutation(
            resolver=flow.enroll_totp,
            extensions=[RateLimit("enroll_totp")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token. Two-factor stays off until confirmTotp. InvalidCredentials "
                "for a wrong password (counted by the same lockout as login); TwoFactorAlreadyEnabled when "
                "on. " + LIMITED
            ),
        )
        confirm_totp: ConfirmTotpResult = strawberry.mutation(
            resolver=flow.confirm_totp,
            extensions=[RateLimit("confirm_totp")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token; the code from the enrolled authenticator. It turns "
                "two-factor on, answers the recovery codes, once, and ends every other session of the "
                "account (this one goes on). InvalidCode with the attempts left; FlowExpired when no "
                "enrolment is pending (or it expired). " + LIMITED
            ),
        )
        disable_totp: DisableTotpResult = strawberry.mutation(
            resolver=flow.disable_totp,
            extensions=[RateLimit("disable_totp")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token; code: a current TOTP or a recovery code. Both factors are "
                "needed: InvalidCredentials for a wrong password, InvalidCode for a wrong code; RateLimited "
                "past the account's second-factor tries or while locked. " + LIMITED
            ),
        )
        regenerate_recovery_codes: RegenerateRecoveryCodesResult = strawberry.mutation(
            resolver=flow.regenerate_recovery_codes,
            extensions=[RateLimit("regenerate_recovery_codes")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token; replaces every recovery code. The old ones stop working. "
                "Both factors are needed: InvalidCredentials for a wrong password, InvalidCode for a wrong "
                "code; RateLimited past the account's second-factor tries or while locked. " + LIMITED
            ),
        )

    return TwoFactorMutation
