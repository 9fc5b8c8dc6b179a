"""Types of the sign-in by emailed code (account.graphql)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import AccountDisabled, FlowExpired, InvalidCode, InvalidInput, RateLimited
from schema.rate_limit import LIMITED, RateLimit
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
    AuthPayload | SecondFactorRequired | InvalidCode | FlowExpired | RateLimited | AccountDisabled,
    strawberry.union(
        "CompleteCodeLoginResult",
        description="A new session, or SecondFactorRequired for an account with two-factor on.",
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/code_login.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import code_login as flow

    @strawberry.type
    class CodeLoginMutation:
        start_code_login: StartCodeLoginResult = strawberry.mutation(
            resolver=flow.start_code_login,
            extensions=[RateLimit("start_code_login")],
            description=(
                "Mails a sign-in code; an address without an account gets the same answer and a mail saying "
                "so. A new start by the same client for the same address within the resend cooldown: "
                "RateLimited. InvalidInput for a malformed address. " + LIMITED
            ),
        )
        complete_code_login: CompleteCodeLoginResult = strawberry.mutation(
            resolver=flow.complete_code_login,
            extensions=[RateLimit("complete_code_login")],
            description=(
                "The mailed code, once: opens a session, or answers SecondFactorRequired when the account "
                "has two-factor on. InvalidCode with the attempts left; FlowExpired once the code expired "
                "or its attempts are used up. " + LIMITED
            ),
        )

    return CodeLoginMutation
