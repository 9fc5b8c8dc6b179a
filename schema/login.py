"""What login answers."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.problems import AccountDisabled, InvalidCredentials, RateLimited
from schema.rate_limit import LIMITED, RateLimit
from schema.two_factor import SecondFactorRequired
from schema.user import AuthPayload

LoginResult = Annotated[
    AuthPayload | SecondFactorRequired | InvalidCredentials | RateLimited | AccountDisabled,
    strawberry.union(
        "LoginResult",
        description="Signed in, a second factor needed first, or the credentials were wrong or locked.",
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/login.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import login as flow

    @strawberry.type
    class LoginMutation:
        login: LoginResult = strawberry.mutation(
            resolver=flow.login,
            extensions=[RateLimit("login")],
            description=(
                "Signs in with email and password and opens a session (AuthPayload, with the refresh "
                "token). InvalidCredentials for a wrong password or an unknown address alike; RateLimited "
                "past the per-IP limit or while the address is locked after repeated failures. May answer "
                "SERVICE_UNAVAILABLE when too many password hashes are waiting. " + LIMITED
            ),
        )

    return LoginMutation
