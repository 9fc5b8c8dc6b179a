"""Types of two-factor authentication: the challenge a sign-in answers when a second
factor is needed, and the TOTP enrolment and its recovery codes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from schema.problems import FlowExpired, InvalidCode, InvalidCredentials, Problem, RateLimited
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
    AuthPayload | InvalidCode | FlowExpired | RateLimited,
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
