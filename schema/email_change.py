"""Types of the verified email change (account.graphql)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.permissions import IsAuthenticated
from schema.problems import (
    AccountExists,
    FlowExpired,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    RateLimited,
)
from schema.rate_limit import LIMITED, RateLimit
from schema.user import User


@strawberry.type(
    description="A code was mailed to the new address (or, if it has an account, a notice), "
    "and a notice to the current one."
)
class EmailChangeStarted:
    change_id: strawberry.ID = strawberry.field(
        description="Opaque handle for confirmEmailChange; answers alike whether or not the new "
        "address has an account."
    )
    expires_at: datetime = strawberry.field(description="When the code expires.")
    resend_available_at: datetime = strawberry.field(
        description="From when a new startEmailChange to this address mails again (before: RateLimited)."
    )
    code_length: int = strawberry.field(description="Digits in the mailed code.")


StartEmailChangeResult = Annotated[
    EmailChangeStarted | InvalidCredentials | InvalidInput | RateLimited,
    strawberry.union("StartEmailChangeResult", description="What startEmailChange answers."),
]


@strawberry.type(description="The account now has the new address; its sessions go on.")
class EmailChanged:
    user: User = strawberry.field(description="The user, with the new email.")


ConfirmEmailChangeResult = Annotated[
    EmailChanged | InvalidCode | FlowExpired | AccountExists | RateLimited,
    strawberry.union(
        "ConfirmEmailChangeResult",
        description="AccountExists: another account took the new address first.",
    ),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/email_change.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import email_change as flow

    @strawberry.type
    class EmailChangeMutation:
        start_email_change: StartEmailChangeResult = strawberry.mutation(
            resolver=flow.start_email_change,
            extensions=[RateLimit("start_email_change")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token. Mails a code to the new address and a notice to the current "
                "one. InvalidCredentials for a wrong password (counted by the same lockout as login) or, "
                "with two-factor on and a session not opened with it, a missing or wrong `code`; "
                "InvalidInput for a malformed or unchanged address; an address that has an account gets the "
                "same answer (and a mail saying so). " + LIMITED
            ),
        )
        confirm_email_change: ConfirmEmailChangeResult = strawberry.mutation(
            resolver=flow.confirm_email_change,
            extensions=[RateLimit("confirm_email_change")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token. The code mailed to the new address moves the account to it; "
                "the sessions go on and the old address gets a notice. AccountExists if another account took "
                "the address meanwhile; InvalidCode with the attempts left; FlowExpired for an expired, "
                "used-up or unknown change. " + LIMITED
            ),
        )

    return EmailChangeMutation
