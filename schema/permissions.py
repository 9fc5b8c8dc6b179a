"""Field guards: protected fields need a valid access token."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from schema.context import Context, Unauthenticated
from schema.error_codes import ErrorCode


class IsAuthenticated(BasePermission):
    message = "A valid access token is required."
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED}

    async def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        # Backend failures propagate, so a Redis or Mongo outage is not reported as a bad token.
        try:
            await info.context.checked()  # a snapshot will do: no MongoDB read to say yes
        except Unauthenticated:
            return False
        return True
