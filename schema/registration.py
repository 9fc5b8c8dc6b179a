"""Types of the four registration steps and the code resend, in flow order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import (
    AccountExists,
    FlowExpired,
    InvalidCode,
    InvalidInput,
    RateLimited,
    WeakPassword,
)
from schema.user import AuthPayload


@strawberry.type(description="A code is on its way to the address (if it has no account yet).")
class RegistrationStarted:
    registration_id: strawberry.ID = strawberry.field(
        description="Opaque handle for verifyRegistrationCode and resendRegistrationCode."
    )
    expires_at: datetime = strawberry.field(description="When the mailed code expires.")
    resend_available_at: datetime = strawberry.field(
        description="When a new code may be asked for (resend cooldown)."
    )
    code_length: int = strawberry.field(description="How many digits the mailed code has.")


StartRegistrationResult = Annotated[
    RegistrationStarted | InvalidInput | RateLimited,
    strawberry.union(
        "StartRegistrationResult",
        description="The flow started, or the email is invalid, or too many requests.",
    ),
]


@strawberry.type(description="A new code is on its way; the earlier one works until it is delivered.")
class RegistrationCodeSent:
    expires_at: datetime = strawberry.field(description="When the new code expires.")
    resend_available_at: datetime = strawberry.field(
        description="When a new code may be asked for (resend cooldown)."
    )


ResendRegistrationCodeResult = Annotated[
    RegistrationCodeSent | FlowExpired | RateLimited,
    strawberry.union(
        "ResendRegistrationCodeResult", description="A new code was mailed, or the flow is over, or too soon."
    ),
]


@strawberry.type(description="The code was right: the address is proven.")
class RegistrationVerified:
    registration_token: str = strawberry.field(
        description="Secret for steps 3 and 4; registrationId is no longer enough from here on."
    )
    expires_at: datetime = strawberry.field(description="When the whole registration flow expires.")


VerifyRegistrationCodeResult = Annotated[
    RegistrationVerified | InvalidCode | FlowExpired | RateLimited,
    strawberry.union(
        "VerifyRegistrationCodeResult",
        description="The address is proven, or the code is wrong, or the flow is over, or too many requests.",
    ),
]


@strawberry.type(description="The password is set (hashed) for completeRegistration.")
class RegistrationPasswordSet:
    expires_at: datetime = strawberry.field(description="When the whole registration flow expires.")


SetRegistrationPasswordResult = Annotated[
    RegistrationPasswordSet | WeakPassword | FlowExpired | RateLimited,
    strawberry.union(
        "SetRegistrationPasswordResult",
        description="The password is set, or too weak, or the flow is over, or too many tries.",
    ),
]


@strawberry.input(description="The new account's profile, given at registration step 4.")
class ProfileInput:
    first_name: str = strawberry.field(description="First name: 1-100 characters with at least one letter.")
    last_name: str = strawberry.field(description="Last name: 1-100 characters with at least one letter.")
    phone: str | None = strawberry.field(
        default=None, description="Phone number in international form (e.g. +14155550123), optional."
    )


CompleteRegistrationResult = Annotated[
    AuthPayload | InvalidInput | FlowExpired | AccountExists,
    strawberry.union(
        "CompleteRegistrationResult",
        description=(
            "Signed in to the new account, or the profile is invalid, or the flow is over or lost a race."
        ),
    ),
]
