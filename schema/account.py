"""Types of the account deletion."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.problems import InvalidCredentials, RateLimited


@strawberry.type(description="The account and every session of it are gone; the tokens no longer work.")
class AccountDeleted:
    id: strawberry.ID = strawberry.field(description="The id of the deleted account.")


DeleteAccountResult = Annotated[
    AccountDeleted | InvalidCredentials | RateLimited,
    strawberry.union(
        "DeleteAccountResult", description="The account is deleted, or the password was wrong or locked."
    ),
]
