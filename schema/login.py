"""What login answers."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.problems import InvalidCredentials, RateLimited
from schema.two_factor import SecondFactorRequired
from schema.user import AuthPayload

LoginResult = Annotated[
    AuthPayload | SecondFactorRequired | InvalidCredentials | RateLimited,
    strawberry.union(
        "LoginResult",
        description="Signed in, a second factor needed first, or the credentials were wrong or locked.",
    ),
]
