"""Security notices to an account's own address (two-factor changed, a recovery code used,
the address changed, a sign-in by code from a new client): the one way to queue one.

A notice is counted in the client's and the global hourly mail budgets, so the breaker
and the client's budget see every mail authql sends, but neither refuses it: a notice is
the owner's alarm, and whoever can use up a budget must not be able to silence it. What
bounds notices is the account's own budget (NOTICES_PER_ACCOUNT_PER_HOUR): past it a
notice is dropped and logged. By then the owner has had that many notices this hour.

    await notices.send(context.services, user, message, context.client_bucket)
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from documents.user import User
from mail import MailMessage
from security.codes.quotas import count_notice
from security.counters import WindowedCounters

if TYPE_CHECKING:
    from services import Services

# How long a `once` notice's claim lasts: far longer than requests racing to make one change.
ONCE_SECONDS = 3600


async def send(
    services: Services,
    user: User,
    message: MailMessage,
    client_bucket: str | None,
    *,
    once: str | None = None,
) -> bool:
    """Queue `message` (a notice to `user`) unless the account's notices this hour are spent;
    False when it was dropped. `once` as in `Outbox.enqueue`: a key naming the event, so a
    notice queued before its change is queued once by racing requests, and counted once:
    the first of them claims the event in Redis, the others queue and count nothing."""
    claim = None if once is None else "notice-once:{" + hashlib.sha256(once.encode()).hexdigest() + "}"
    if claim is not None and not await services.redis.set(claim, 1, nx=True, ex=ONCE_SECONDS):
        return True  # a racing request queues this very notice
    try:
        count = await count_notice(WindowedCounters(services.redis), str(user.id), client_bucket)
        if count.over(services.settings.notices_per_account_per_hour):
            services.events.emit("notice_dropped", user=str(user.id), template=message.template)
            return False
        await services.outbox.enqueue(message, once=once)
    except BaseException:
        if claim is not None:  # not queued: the next request to make the change queues it
            await services.redis.delete(claim)
        raise
    return True
