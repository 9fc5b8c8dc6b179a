"""What every check inside the address's lockout does with its outcome (login, the
password asked again, a second factor): count it in the metrics and the security log,
and answer a refusal the same way."""

from __future__ import annotations

from typing import Any

import metrics
from schema.context import Context
from schema.problems import RateLimited, rate_limited


def refused_while_locked(
    context: Context, operation: str, event: str, refused_for: int, **fields: Any
) -> RateLimited:
    """The address is locked for `refused_for` seconds more: nothing was verified."""
    metrics.LOCKED_REFUSALS.labels(operation).inc()
    context.security_event(event, **fields)
    return rate_limited(refused_for)


def count_failure(
    context: Context,
    operation: str,
    event: str,
    *,
    locked: bool,
    address: str,
    address_locked: bool = False,
    **fields: Any,
) -> None:
    """A wrong answer was verified; `locked` when it is the one that locked this client out
    of `address`, `address_locked` when it locked the address for every client (many
    clients' wrong passwords: a distributed guess, or someone locking the owner out)."""
    context.security_event(event, **fields)
    if locked:
        metrics.LOCKOUTS.labels(operation).inc()
        context.security_event("lockout", email=address, scope="address" if address_locked else "client")
