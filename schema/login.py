"""What login answers."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.problems import InvalidCredentials, RateLimited
from schema.user import AuthPayload

LoginResult = Annotated[
    AuthPayload | InvalidCredentials | RateLimited,
    strawberry.union("LoginResult", description="Signed in, or the credentials were wrong or locked."),
]
