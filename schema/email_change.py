"""Types of the verified email change (account.graphql)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.problems import (
    AccountExists,
    FlowExpired,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    RateLimited,
)
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
