"""What an emailed-code flow may cost, counted in Redis: mails, start cooldowns and wrong
codes. The flows (flows.py) ask here before they mail or compare anything.

Mail, per hour: per (address, client) (CODES_PER_ADDRESS_PER_HOUR), per address
(CODES_PER_ADDRESS_CEILING_PER_HOUR, so many clients together cannot bomb a mailbox),
per client (MAILS_PER_IP_PER_HOUR) and all together (MAILS_PER_HOUR, the circuit breaker).

Wrong codes, counted before the compare and refunded when the code was right:
- per (address, client), a day (CODE_FAILURES_PER_ADDRESS_PER_DAY): past it this client's
  codes for the address are not compared, and it starts no flow for the address;
- per client, an hour, across every address and flow (CODE_FAILURES_PER_IP_PER_HOUR):
  past it the client's codes are not compared (guessing across accounts, N7);
- per address, a day (CODE_FAILURES_PER_ADDRESS_CEILING_PER_DAY): many clients together;
  past it no new flow starts for the address, but a flow already open still takes its
  right code: other clients' failures never refuse the owner's mailed code;
- all together, an hour (CODE_FAILURES_PER_HOUR): a breaker; past it no new flow starts.

The per-address counts (mails and wrong codes) are also kept in MongoDB and read back
while Redis's data is young (security/durable_counts.py): a Redis restarted empty does
not hand an address a fresh quota.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from security.codes import scripts
from security.counters import Count, WindowedCounters
from security.durable_counts import Lasting

HOUR = 3600
DAY = 86_400
GLOBAL_MAIL_KEY = "mail-quota:{all}"
CLIENT_MAIL_PREFIX = "mail-quota:client"
FAILURES_PREFIX = "code-failures"
GLOBAL_FAILURES_KEY = "code-failures:{all}"


class RateLimitExceeded(Exception):
    """Refused for `retry_after_seconds`; `reason` names the budget (for the log and the
    metrics, never the client): "mail_breaker" and "code_breaker" are the global ones."""

    def __init__(self, retry_after_seconds: int, reason: str = "") -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    mails_per_address_client: int
    mails_per_address: int
    mails_per_client: int
    mails: int
    failures_per_address_client: int
    failures_per_address: int
    failures_per_client: int
    failures: int
    cooldown_ms: int


@dataclass(frozen=True)
class Budget:
    key: str
    limit: int
    window_seconds: int
    reason: str
    lasting: bool = False  # an address's: kept in MongoDB too


@dataclass(frozen=True)
class FailureTaken:
    """The wrong-code counts one verify took (refunded if the code was right); the flags
    say whether this attempt crossed the address's ceiling or the global breaker."""

    keys: tuple[str, ...]
    address_ceiling_crossed: bool
    breaker_crossed: bool
    # The address's counts (key, window) whose MongoDB copy waits for the compare: written
    # for a wrong code only, so a right one costs MongoDB no write and no refund.
    lasting: tuple[tuple[str, int], ...] = ()


def client_mail_key(client: str | None) -> str:
    return f"{CLIENT_MAIL_PREFIX}:{{{client or 'unknown'}}}"


async def take_all(counters: WindowedCounters, budgets: Sequence[Budget], *, copy: bool = True) -> list[str]:
    """Count one in every budget; if any is over, give every count back and refuse.
    `copy=False`: lasting budgets' MongoDB copies are left to the caller (`keep`)."""
    taken: list[str] = []
    for budget in budgets:
        count = await counters.take(budget.key, budget.window_seconds, lasting=budget.lasting, copy=copy)
        taken.append(budget.key)
        if count.over(budget.limit):
            for key, was in zip(taken, budgets, strict=False):
                await counters.refund(key, lasting=was.lasting and copy)
            raise RateLimitExceeded(count.ttl_seconds, budget.reason)
    return taken


class Quotas:
    """The budgets of one kind of flow (`prefix`); `digest` names an address in keys."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        digest: Callable[[str], str],
        limits: Limits,
        lasting: Lasting | None = None,
    ) -> None:
        self._redis = redis
        self._counters = WindowedCounters(redis, lasting)
        self._prefix = prefix
        self._digest = digest
        self.limits = limits
        self._release = scripts.register(redis, "release")

    # ------------------------------------------------------------------ before a start

    async def check_start(self, email: str, client: str | None) -> None:
        """Refuse a new flow while the address is past its wrong-code ceiling, this client
        past its wrong codes for the address, or the wrong-code breaker has tripped."""
        digest = self._digest(email)
        checks = (
            (
                _client_failures_key(digest, client),
                self.limits.failures_per_address_client,
                "code_failures",
                True,
            ),
            (_address_failures_key(digest), self.limits.failures_per_address, "code_failures_ceiling", True),
            (GLOBAL_FAILURES_KEY, self.limits.failures, "code_breaker", False),
        )
        for key, limit, reason, lasting in checks:
            count = await self._counters.peek(key, lasting=lasting)
            if count.value >= limit:
                raise RateLimitExceeded(count.ttl_seconds, reason)

    async def take_start_cooldown(self, email: str, client: str | None) -> str:
        """Claim the (address, client) start cooldown; a start inside it is refused with the
        time left. Kept whether or not the address has an account, asked before anything
        about the account, so it tells nothing. Per client: another client's starts never
        hold the owner's back (the per-address mail ceiling bounds them all)."""
        claim = secrets.token_hex(8)
        key = self.start_cooldown_key(email, client)
        if await self._redis.set(key, claim, nx=True, px=self.limits.cooldown_ms):
            return claim
        left = await self._redis.pttl(key)
        raise RateLimitExceeded(max(1, -(-max(int(left), 1) // 1000)), "start_cooldown")

    async def release_start_cooldown(self, email: str, client: str | None, claim: str | None) -> None:
        """A start that mailed nothing gives its cooldown back."""
        if claim is not None:
            await self._release(keys=[self.start_cooldown_key(email, client)], args=[claim])

    def start_cooldown_key(self, email: str, client: str | None) -> str:
        """Where a start cooldown lives (tests end it by deleting the key)."""
        return f"{self._prefix}:cooldown:{{{self._digest(email)}}}:{client or 'unknown'}"

    # ------------------------------------------------------------------ mail

    async def take_mail(self, email: str, client: str | None) -> None:
        """One mail from each hourly budget. The global cap is a circuit breaker: whoever
        drives authql to mail strangers stops every mail for the hour rather than making it
        a spam cannon; the client's budget, well below it, keeps one client alone from
        tripping it. A refused mail is taken back from every count."""
        await take_all(self._counters, self._mail_budgets(email, client))

    async def refund_mail(self, email: str, client: str | None) -> None:
        for budget in self._mail_budgets(email, client):
            await self._counters.refund(budget.key, lasting=budget.lasting)

    def _mail_budgets(self, email: str, client: str | None) -> tuple[Budget, ...]:
        digest = self._digest(email)
        address = f"{self._prefix}:address:{{{digest}}}"
        return (
            Budget(
                f"{address}:{client or 'unknown'}",
                self.limits.mails_per_address_client,
                HOUR,
                "address_mail",
                lasting=True,
            ),
            Budget(address, self.limits.mails_per_address, HOUR, "address_mail_ceiling", lasting=True),
            Budget(client_mail_key(client), self.limits.mails_per_client, HOUR, "client_mail"),
            Budget(GLOBAL_MAIL_KEY, self.limits.mails, HOUR, "mail_breaker"),
        )

    # ------------------------------------------------------------------ wrong codes

    async def take_failure(self, email: str, client: str | None) -> FailureTaken:
        """Count one wrong code before the compare (refund it if the code was right, `keep`
        it if it was wrong).

        Refused (nothing compared, nothing counted) when this client is past its wrong codes
        for the address or across addresses; the address's ceiling and the global breaker
        only count here: they stop new flows (`check_start`), never an open flow's code.
        Redis counts before the compare (parallel guesses all count); MongoDB's copy of the
        address's counts is written after it, by `keep_failure`, for a wrong code alone."""
        digest = self._digest(email)
        taken = await take_all(
            self._counters,
            (
                Budget(
                    _client_failures_key(digest, client),
                    self.limits.failures_per_address_client,
                    DAY,
                    "code_failures",
                    lasting=True,
                ),
                Budget(
                    f"{FAILURES_PREFIX}:client:{{{client or 'unknown'}}}",
                    self.limits.failures_per_client,
                    HOUR,
                    "client_code_failures",
                ),
            ),
            copy=False,
        )
        address = await self._counters.take(_address_failures_key(digest), DAY, lasting=True, copy=False)
        overall = await self._counters.take(GLOBAL_FAILURES_KEY, HOUR)
        return FailureTaken(
            keys=(*taken, _address_failures_key(digest), GLOBAL_FAILURES_KEY),
            address_ceiling_crossed=address.value == self.limits.failures_per_address,
            breaker_crossed=overall.value == self.limits.failures,
            lasting=((_client_failures_key(digest, client), DAY), (_address_failures_key(digest), DAY)),
        )

    async def keep_failure(self, taken: FailureTaken) -> None:
        """The code was wrong: the address's counts go to MongoDB too."""
        for key, window_seconds in taken.lasting:
            await self._counters.keep(key, window_seconds)

    async def refund_failure(self, taken: FailureTaken) -> None:
        """The code was right (or the flow gone): give the counts back, in Redis alone,
        where they were all that was written."""
        for key in taken.keys:
            await self._counters.refund(key)


def _address_failures_key(digest: str) -> str:
    """Wrong codes at an address from every client, one count for every kind of flow."""
    return f"{FAILURES_PREFIX}:{{{digest}}}"


def _client_failures_key(digest: str, client: str | None) -> str:
    """Wrong codes at an address from one client (same hash tag as the address's)."""
    return f"{FAILURES_PREFIX}:{{{digest}}}:{client or 'unknown'}"


async def count_notice(counters: WindowedCounters, account: str, client: str | None) -> Count:
    """Count a security notice in the client's and the global mail budgets and in the
    account's notice budget, whose count is returned: only that one refuses
    (mail/notices.py)."""
    await counters.take(client_mail_key(client), HOUR)
    await counters.take(GLOBAL_MAIL_KEY, HOUR)
    return await counters.take(f"notice-quota:{{{account}}}", HOUR)
