"""Types of the password reset by emailed code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import FlowExpired, InvalidCode, InvalidInput, RateLimited, WeakPassword
from schema.two_factor import SecondFactorRequired
from schema.user import AuthPayload


@strawberry.type
class PasswordResetStarted:
    reset_id: strawberry.ID = strawberry.field(
        description="Opaque handle; answers alike whether or not the email has an account."
    )
    expires_at: datetime
    resend_available_at: datetime
    code_length: int


StartPasswordResetResult = Annotated[
    PasswordResetStarted | InvalidInput | RateLimited, strawberry.union("StartPasswordResetResult")
]


@strawberry.type
class PasswordResetCodeSent:
    expires_at: datetime
    resend_available_at: datetime


ResendPasswordResetCodeResult = Annotated[
    PasswordResetCodeSent | FlowExpired | RateLimited, strawberry.union("ResendPasswordResetCodeResult")
]

CompletePasswordResetResult = Annotated[
    AuthPayload | SecondFactorRequired | InvalidCode | FlowExpired | WeakPassword | RateLimited,
    strawberry.union(
        "CompletePasswordResetResult",
        description="A completed reset revokes every session of the user and opens a new one "
        "(SecondFactorRequired first when two-factor is on: the password has changed already).",
    ),
]
