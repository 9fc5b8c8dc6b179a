"""Admin keys: list them, make one (its secret shown once), revoke one (refused at once on
every worker: security/admin_keys.py looks every key up on every request)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers.admin.audit import audit
from schema.admin import (
    AdminKeyCreated,
    AdminKeyInfo,
    AdminKeyRevoked,
    AdminScope,
    CreateAdminKeyResult,
    RevokeAdminKeyResult,
)
from schema.admin_context import AdminContext
from schema.problems import NotFound, invalid_input
from security.admin_keys import ENVIRONMENT_KEY_ID, AdminKey, Scope

NAME_MAX = 100


def key_info(key: AdminKey) -> AdminKeyInfo:
    return AdminKeyInfo(
        id=strawberry.ID(key.id),
        name=key.name,
        scopes=[AdminScope[scope.name] for scope in Scope if scope in key.scopes],
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        from_environment=key.from_environment,
    )


async def admin_keys(info: Info[AdminContext, None]) -> list[AdminKeyInfo]:
    return [key_info(key) for key in await info.context.services.admin_keys.all()]


async def create_admin_key(
    info: Info[AdminContext, None],
    name: Annotated[str, strawberry.argument(description="What to call it: 1-100 printable characters.")],
    scopes: Annotated[
        list[AdminScope],  # type: ignore[valid-type]
        strawberry.argument(description="What it may do; at least one."),
    ],
) -> CreateAdminKeyResult:
    context = info.context
    caller = await context.key()
    problems = {}
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        problems["name"] = f"1-{NAME_MAX} printable characters."
    wanted = frozenset(Scope(scope.value) for scope in scopes)
    if not scopes:
        problems["scopes"] = "Give at least one scope."
    elif not wanted <= caller.scopes:  # keys:write alone must not mint a stronger key
        problems["scopes"] = "A key can grant only scopes it holds itself."
    if problems:
        return invalid_input(problems)
    key, secret = await context.services.admin_keys.create(name, wanted)
    await audit(
        context,
        caller,
        "admin_key_created",
        None,
        {"after": {"id": key.id, "name": key.name, "scopes": sorted(scope.value for scope in key.scopes)}},
    )
    return AdminKeyCreated(key=key_info(key), secret=secret)


async def revoke_admin_key(
    info: Info[AdminContext, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="AdminKey.id of the key.")],
) -> RevokeAdminKeyResult:
    context = info.context
    caller = await context.key()
    if id == ENVIRONMENT_KEY_ID:
        return NotFound(message="The environment's key cannot be revoked here: unset ADMIN_API_KEY.")
    key = await context.services.admin_keys.revoke(id)
    if key is None:
        return NotFound(message="No admin key with this id.")
    await audit(
        context,
        caller,
        "admin_key_revoked",
        None,
        {"before": {"id": key.id, "name": key.name, "scopes": sorted(scope.value for scope in key.scopes)}},
    )
    return AdminKeyRevoked(id=strawberry.ID(key.id))
