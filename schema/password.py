"""The password change: its answer and its field."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.permissions import IsAuthenticated
from schema.problems import InvalidCredentials, RateLimited, WeakPassword
from schema.rate_limit import LIMITED, RateLimit
from schema.user import AuthPayload

ChangePasswordResult = Annotated[
    AuthPayload | InvalidCredentials | WeakPassword | RateLimited,
    strawberry.union("ChangePasswordResult", description="Also revokes every other session of the user."),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/password.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import password as flow

    @strawberry.type
    class PasswordMutation:
        change_password: ChangePasswordResult = strawberry.mutation(
            resolver=flow.change_password,
            extensions=[RateLimit("change_password")],
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token. Checks currentPassword, sets newPassword, revokes every "
                "other session, mails a notice to the account's address and answers a fresh AuthPayload for "
                "this one. InvalidCredentials for a wrong current password (counted by the same lockout as "
                "login), or, with two-factor on and a session not opened with it, for a missing or wrong "
                "`code`; WeakPassword with the reasons; RateLimited past the per-IP limit, the account's "
                "second-factor tries or while locked. " + LIMITED
            ),
        )

    return PasswordMutation
