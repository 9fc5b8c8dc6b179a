"""The per-request context of /admin/graphql: the caller's admin key, checked lazily
once per request (and counted once against the key's rate limit), and what every
resolver needs besides (the services, the caller's address)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from starlette.requests import Request
from strawberry.permission import BasePermission
from strawberry.types import Info

from schema.error_codes import ErrorCode
from security.admin_keys import AdminKey, Scope

if TYPE_CHECKING:
    from services import Services

UNAUTHENTICATED = "A valid admin API key is required (Authorization: Bearer <key>)."


@dataclass
class AdminContext:
    request: Request
    client_ip: str | None
    client_bucket: str
    services: Services
    _key: asyncio.Future[AdminKey] | None = field(default=None, init=False, repr=False)

    async def key(self) -> AdminKey:
        """The caller's key; a top-level UNAUTHENTICATED or RATE_LIMITED error otherwise."""
        if self._key is None:
            self._key = asyncio.ensure_future(self._load_key())
        return await asyncio.shield(self._key)

    def security_event(self, event: str, *, email: str | None = None, **fields: str | int | None) -> None:
        self.services.events.emit(event, email=email, ip=self.client_ip, **fields)

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")

    async def _load_key(self) -> AdminKey:
        scheme, _, presented = self.request.headers.get("authorization", "").partition(" ")
        key = None
        if scheme.lower() == "bearer" and presented.strip():
            key = await self.services.admin_keys.authenticate(presented.strip())
        if key is None:
            self.security_event("admin_key_refused")
            raise GraphQLError(UNAUTHENTICATED, extensions={"code": ErrorCode.UNAUTHENTICATED})
        retry_after = await self.services.rate_limits.hit("admin", "key:" + key.id)
        if retry_after is not None:
            self.security_event("admin_rate_limited", admin_key=key.id)
            raise GraphQLError(
                f"Too many requests with this admin key; retry in {retry_after} seconds.",
                extensions={"code": ErrorCode.RATE_LIMITED, "retryAfterSeconds": retry_after},
            )
        return key


class RequiresScope(BasePermission):
    """A valid key holding `scope`: UNAUTHENTICATED without a valid key, FORBIDDEN naming the
    scope for a key without it (both top-level errors, raised here with their codes)."""

    scope: Scope

    async def has_permission(self, source: Any, info: Info[AdminContext, None], **kwargs: Any) -> bool:
        key = await info.context.key()
        if self.scope not in key.scopes:
            raise GraphQLError(
                f"This admin key lacks the scope {self.scope.value}.",
                extensions={"code": ErrorCode.FORBIDDEN, "scope": self.scope.value},
            )
        return True


def needs(scope: Scope) -> type[BasePermission]:
    """The permission class of a field that needs `scope`."""
    return type(f"Requires_{scope.name}", (RequiresScope,), {"scope": scope})
