"""Types of the account deletion."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.problems import InvalidCredentials, RateLimited


@strawberry.type
class AccountDeleted:
    id: strawberry.ID


DeleteAccountResult = Annotated[
    AccountDeleted | InvalidCredentials | RateLimited, strawberry.union("DeleteAccountResult")
]
