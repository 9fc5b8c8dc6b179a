"""Types of the password reset by emailed code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import AccountDisabled, FlowExpired, InvalidCode, InvalidInput, RateLimited, WeakPassword
from schema.rate_limit import LIMITED, RateLimit
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
    AuthPayload
    | SecondFactorRequired
    | InvalidCode
    | FlowExpired
    | WeakPassword
    | RateLimited
    | AccountDisabled,
    strawberry.union(
        "CompletePasswordResetResult",
        description="A completed reset revokes every session of the user and opens a new one. "
        "With two-factor on, SecondFactorRequired comes first (the password has changed already).",
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/password_reset.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import password_reset as flow

    @strawberry.type
    class PasswordResetMutation:
        start_password_reset: StartPasswordResetResult = strawberry.mutation(
            resolver=flow.start_password_reset,
            extensions=[RateLimit("start_password_reset")],
            description=(
                "Forgotten password, step 1: mails a one-time code to `email` if it has an account (an "
                "address without one gets the same answer and a mail without a code). No access token "
                "needed. InvalidInput for an address that is not an email; RateLimited past the per-IP "
                "limit or the mail quotas. " + LIMITED
            ),
        )
        resend_password_reset_code: ResendPasswordResetCodeResult = strawberry.mutation(
            resolver=flow.resend_password_reset_code,
            extensions=[RateLimit("resend_password_reset_code")],
            description=(
                "Mails a new reset code once resendAvailableAt has passed; the wrong-code count carries "
                "over. FlowExpired for an unknown, expired or burnt flow; RateLimited during the cooldown "
                "or past the mail quotas. " + LIMITED
            ),
        )
        complete_password_reset: CompletePasswordResetResult = strawberry.mutation(
            resolver=flow.complete_password_reset,
            extensions=[RateLimit("complete_password_reset")],
            description=(
                "Forgotten password, step 2: checks the mailed code, sets newPassword, revokes every session "
                "of the user, lifts a login lockout and signs in (AuthPayload). InvalidCode with the guesses "
                "left; FlowExpired for an unknown, expired or burnt flow; WeakPassword with the reasons "
                "(checked before the code, so it costs no guess). " + LIMITED
            ),
        )

    return PasswordResetMutation
