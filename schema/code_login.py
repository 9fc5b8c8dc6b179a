"""Types of the sign-in by emailed code (account.graphql)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import FlowExpired, InvalidCode, InvalidInput, RateLimited
from schema.two_factor import SecondFactorRequired
from schema.user import AuthPayload


@strawberry.type(description="A sign-in code was mailed (or, to an address without an account, a notice).")
class CodeLoginStarted:
    login_id: strawberry.ID = strawberry.field(
        description="Opaque handle; answers alike whether or not the email has an account."
    )
    expires_at: datetime = strawberry.field(description="When the code expires.")
    resend_available_at: datetime = strawberry.field(
        description="From when a new startCodeLogin for this address mails a new code (before: RateLimited)."
    )
    code_length: int = strawberry.field(description="Digits in the mailed code.")


StartCodeLoginResult = Annotated[
    CodeLoginStarted | InvalidInput | RateLimited,
    strawberry.union("StartCodeLoginResult", description="What startCodeLogin answers."),
]

CompleteCodeLoginResult = Annotated[
    AuthPayload | SecondFactorRequired | InvalidCode | FlowExpired | RateLimited,
    strawberry.union(
        "CompleteCodeLoginResult",
        description="A new session, or SecondFactorRequired for an account with two-factor on.",
    ),
]
