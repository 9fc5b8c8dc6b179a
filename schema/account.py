"""Types of the account deletion."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.permissions import IsAuthenticated
from schema.problems import InvalidCredentials, RateLimited
from schema.rate_limit import LIMITED, RateLimit


@strawberry.type(description="The account and every session of it are gone; the tokens no longer work.")
class AccountDeleted:
    id: strawberry.ID = strawberry.field(description="The id of the deleted account.")


DeleteAccountResult = Annotated[
    AccountDeleted | InvalidCredentials | RateLimited,
    strawberry.union(
        "DeleteAccountResult", description="The account is deleted, or the password was wrong or locked."
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/account.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import account as flow

    @strawberry.type
    class AccountMutation:
        delete_account: DeleteAccountResult = strawberry.mutation(
            resolver=flow.delete_account,
            extensions=[RateLimit("delete_account")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token; deletes the user and every session. Asks for the password "
                "again (and, with two-factor on and a session not opened with it, for `code`): "
                "InvalidCredentials for a wrong one (counted by the same lockout as login); RateLimited "
                "past the per-IP limit, the account's second-factor tries or while locked. " + LIMITED
            ),
        )

    return AccountMutation
