"""Types of the signed-in user's profile update."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.permissions import IsAuthenticated
from schema.problems import InvalidInput
from schema.user import User


@strawberry.input(description='Fields left null are unchanged; phone: "" clears the phone.')
class ProfileUpdateInput:
    first_name: str | None = strawberry.field(
        default=None, description="New first name: 1-100 characters with a letter; null keeps it."
    )
    last_name: str | None = strawberry.field(
        default=None, description="New last name: 1-100 characters with a letter; null keeps it."
    )
    phone: str | None = strawberry.field(
        default=None, description='New phone number, E.164 (e.g. +14155550123); "" clears it, null keeps it.'
    )


@strawberry.type(description="The profile was updated.")
class ProfileUpdated:
    user: User = strawberry.field(description="The user as it now is.")


UpdateProfileResult = Annotated[
    ProfileUpdated | InvalidInput,
    strawberry.union("UpdateProfileResult", description="The updated user, or the fields that are invalid."),
]


def mutations() -> type:
    """This flow's Mutation fields, bound to `resolvers/profile.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import profile as flow

    @strawberry.type
    class ProfileMutation:
        update_profile: UpdateProfileResult = strawberry.mutation(
            resolver=flow.update_profile,
            permission_classes=[IsAuthenticated],
            description=(
                "Requires a valid access token (top-level UNAUTHENTICATED otherwise). Changes the fields "
                "given in `input`; InvalidInput lists each invalid field and changes nothing."
            ),
        )

    return ProfileMutation


def queries() -> type:
    """This flow's Query fields, bound to `resolvers/profile.py`. Built when the schema is
    built (the flow imports this module's types, so it is imported here, not at the top)."""
    from resolvers import profile as flow

    @strawberry.type
    class ProfileQuery:
        me: User = strawberry.field(
            resolver=flow.me,
            permission_classes=[IsAuthenticated],
            description="The signed-in user. Without a valid access token: top-level error UNAUTHENTICATED.",
        )

    return ProfileQuery
