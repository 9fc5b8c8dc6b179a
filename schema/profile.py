"""Types of the signed-in user's profile update."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.problems import InvalidInput
from schema.user import User


@strawberry.input(description='Fields left null are unchanged; phone: "" clears the phone.')
class ProfileUpdateInput:
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


@strawberry.type
class ProfileUpdated:
    user: User


UpdateProfileResult = Annotated[ProfileUpdated | InvalidInput, strawberry.union("UpdateProfileResult")]
