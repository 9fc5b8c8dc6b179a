"""A field extension that answers `RateLimited` before the resolver runs when the
caller's IP (an IPv6 caller's prefix: `Context.client_bucket`) has used up the
operation's limit. Bound next to each field in its domain's schema module, with the
operation's name from settings.RATE_LIMITED_OPERATIONS (tests walk the schema for it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

import metrics
from schema.problems import rate_limited

# Said once here, used in the descriptions of the operations a client IP may call only so often.
LIMITED = "Limited per client IP (RateLimited when used up)."


class RateLimit(FieldExtension):
    def __init__(self, operation: str) -> None:
        self.operation = operation

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        context = info.context
        retry_after = await context.services.rate_limits.hit(self.operation, context.client_bucket)
        if retry_after is not None:
            context.security_event("rate_limited", operation=self.operation)
            metrics.RATE_LIMITED.labels(info.field_name).inc()
            return rate_limited(retry_after)
        return await next_(source, info, **kwargs)
