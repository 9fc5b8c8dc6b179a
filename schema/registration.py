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


@strawberry.type
class RegistrationStarted:
    registration_id: strawberry.ID = strawberry.field(
        description="Opaque handle for verifyRegistrationCode and resendRegistrationCode."
    )
    expires_at: datetime
    resend_available_at: datetime
    code_length: int


StartRegistrationResult = Annotated[
    RegistrationStarted | InvalidInput | RateLimited,
    strawberry.union("StartRegistrationResult"),
]


@strawberry.type
class RegistrationCodeSent:
    expires_at: datetime
    resend_available_at: datetime


ResendRegistrationCodeResult = Annotated[
    RegistrationCodeSent | FlowExpired | RateLimited,
    strawberry.union("ResendRegistrationCodeResult"),
]


@strawberry.type
class RegistrationVerified:
    registration_token: str = strawberry.field(
        description="Secret for steps 3 and 4; registrationId is no longer enough from here on."
    )
    expires_at: datetime


VerifyRegistrationCodeResult = Annotated[
    RegistrationVerified | InvalidCode | FlowExpired | RateLimited,
    strawberry.union("VerifyRegistrationCodeResult"),
]


@strawberry.type
class RegistrationPasswordSet:
    expires_at: datetime


SetRegistrationPasswordResult = Annotated[
    RegistrationPasswordSet | WeakPassword | FlowExpired | RateLimited,
    strawberry.union("SetRegistrationPasswordResult"),
]


@strawberry.input
class ProfileInput:
    first_name: str
    last_name: str
    phone: str | None = None


CompleteRegistrationResult = Annotated[
    AuthPayload | InvalidInput | FlowExpired | AccountExists,
    strawberry.union("CompleteRegistrationResult"),
]
