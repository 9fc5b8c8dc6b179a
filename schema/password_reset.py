"""Types of the password reset by emailed code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import FlowExpired, InvalidCode, InvalidInput, RateLimited, WeakPassword
from schema.two_factor import SecondFactorRequired
from schema.user import AuthPayload


@strawberry.type(description="A reset code is on its way if the address has an account.")
class PasswordResetStarted:
    reset_id: strawberry.ID = strawberry.field(
        description="Opaque handle; answers alike whether or not the email has an account."
    )
    expires_at: datetime = strawberry.field(description="When the mailed code expires.")
    resend_available_at: datetime = strawberry.field(
        description="When a new code may be asked for (resend cooldown)."
    )
    code_length: int = strawberry.field(description="How many digits the mailed code has.")


StartPasswordResetResult = Annotated[
    PasswordResetStarted | InvalidInput | RateLimited,
    strawberry.union(
        "StartPasswordResetResult",
        description="The reset started, or the email is invalid, or too many requests.",
    ),
]


@strawberry.type(description="A new reset code is on its way; the earlier one works until it is delivered.")
class PasswordResetCodeSent:
    expires_at: datetime = strawberry.field(description="When the new code expires.")
    resend_available_at: datetime = strawberry.field(
        description="When a new code may be asked for (resend cooldown)."
    )


ResendPasswordResetCodeResult = Annotated[
    PasswordResetCodeSent | FlowExpired | RateLimited,
    strawberry.union(
        "ResendPasswordResetCodeResult",
        description="A new code was mailed, or the flow is over, or too soon.",
    ),
]

CompletePasswordResetResult = Annotated[
    AuthPayload | SecondFactorRequired | InvalidCode | FlowExpired | WeakPassword | RateLimited,
    strawberry.union(
        "CompletePasswordResetResult",
        description="A completed reset revokes every session of the user and opens a new one. "
        "With two-factor on, SecondFactorRequired comes first (the password has changed already).",
    ),
]
