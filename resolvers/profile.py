"""The signed-in user's own profile: read it, and change it all-or-nothing."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from documents.fields import InvalidValue, clean_name, normalize_phone
from documents.user import UserGone
from resolvers.auth.signin import public_user
from schema.context import Context, Unauthenticated
from schema.problems import invalid_input
from schema.profile import ProfileUpdated, ProfileUpdateInput, UpdateProfileResult
from schema.user import User as UserType
from webhooks import events
from webhooks.payloads import camel, user_fields


async def me(info: Info[Context, None]) -> UserType:
    # What the user may see: a snapshot another process left in Redis will do (no MongoDB read).
    return public_user(await info.context.signed_in_user())


async def update_profile(
    info: Info[Context, None],
    input: Annotated[
        ProfileUpdateInput,
        strawberry.argument(description="The fields to change; null or absent fields are kept."),
    ],
) -> UpdateProfileResult:
    user = await info.context.current_user()
    changes: dict[str, str | None] = {}
    problems: dict[str, str] = {}
    for field, attribute, value in (
        ("firstName", "first_name", input.first_name),
        ("lastName", "last_name", input.last_name),
    ):
        if value is not None:
            try:
                changes[attribute] = clean_name(value)
            except InvalidValue as error:
                problems[field] = str(error)
    if input.phone is not None:
        try:
            # An empty phone clears it, as the contract says.
            changes["phone"] = normalize_phone(input.phone) if input.phone.strip() else None
        except InvalidValue as error:
            problems["phone"] = str(error)
    if problems:
        return invalid_input(problems)
    if changes:
        # Only these fields: this request's copy of the rest (the password hash...) may
        # be stale by now and is never written back.
        try:
            await user.write_changes(changes, announce=info.context.services.users)
        except UserGone:
            raise Unauthenticated() from None
        await info.context.services.webhooks.emit(
            events.USER_UPDATED, user, user_fields(user), changed=[camel(field) for field in sorted(changes)]
        )
    return ProfileUpdated(user=public_user(user))
