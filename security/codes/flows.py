"""Emailed one-time codes and the flow state around them, held in Redis.

One flow is one Redis hash, `<prefix>:{<flow id>}`: the braces are a hash tag, so
everything a flow owns sits in one Cluster slot and every script touches one key.
Only an HMAC of the code is stored. Verification is one Lua script (lua/verify.lua) that
counts the attempt *before* comparing, compares in constant time and burns the flow after
the last allowed wrong code, so N guesses in one request (aliases, batches, parallel
requests) always count as N. Registration, password reset, sign-in by code and email
change each have one. Every time a script compares or stores is Redis's own clock
(`TIME`), so app hosts whose clocks disagree agree on every code's expiry.

What a flow may cost (mail, start cooldowns, wrong codes across flows) is counted in
quotas.py before anything is mailed or compared.

A resent code waits beside the earlier ones and all verify until the outbox has delivered
a resent code's mail and promoted it (`promote`): so an SMTP outage never kills a code
already in the inbox, and a code that reached the inbox works at once, even after a later
resend. A mail the outbox gives up on drops its code (`drop_pending`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from security.codes import scripts
from security.codes.quotas import Limits, Quotas, RateLimitExceeded
from security.durable_counts import Lasting

CODE_SENT = "CODE_SENT"
VERIFIED = "VERIFIED"
FLOW_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Resent codes whose mail may still be on its way, per flow (the oldest goes first).
MOST_PENDING = 5

# Queues the mail of an issued code (raises if it cannot be queued).
Deliver = Callable[["CodeIssued"], Awaitable[None]]


class FlowNotFound(Exception):
    """Unknown, expired, completed, burnt, or not at the stage this step needs."""


class WrongCode(Exception):
    """A code that did not verify. `address_ceiling` / `breaker`: this wrong code took the
    address to its ceiling of wrong codes, or all addresses to the global breaker (for
    the security log; the client is told nothing different)."""

    def __init__(self, attempts_left: int, *, address_ceiling: bool = False, breaker: bool = False) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left
        self.address_ceiling = address_ceiling
        self.breaker = breaker


@dataclass(frozen=True)
class CodeIssued:
    """What the caller mails and answers; `code` is None when no code may be mailed.

    `pending_mac` (a resend) names the new code for `promote` once its mail is delivered."""

    flow_id: str
    email: str
    code: str | None
    expires_at: datetime
    resend_available_at: datetime
    pending_mac: str | None = None


@dataclass(frozen=True)
class Flow:
    flow_id: str
    email: str
    expires_at: datetime
    fields: dict[str, str]


class CodeFlows:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        key: bytes,
        code_length: int,
        code_ttl_seconds: int,
        max_attempts: int,
        resend_cooldown_seconds: int,
        limits: Limits,
        flow_ttl_seconds: int,
        start_cooldown: bool = False,
        lasting: Lasting | None = None,
    ) -> None:
        """`start_cooldown`: a flow without a resend (sign-in by code, email change) starts
        at most once per (address, client) and resend cooldown, so a new start is its resend.

        `key`: the data-key ring's "authql one-time codes" key (services.py), which this
        machinery's MACs and address digests are made under."""
        self._redis = redis
        self._prefix = prefix
        self._mac_key = key
        self.code_length = code_length
        self._code_ttl_ms = code_ttl_seconds * 1000
        self._max_attempts = max_attempts
        self._cooldown_ms = resend_cooldown_seconds * 1000
        self._flow_ttl_ms = flow_ttl_seconds * 1000
        self._start_cooldown = start_cooldown
        self.quotas = Quotas(
            redis, prefix=prefix, digest=self._address_digest, limits=limits, lasting=lasting
        )
        self._open_script = scripts.register(redis, "open")
        self._verify = scripts.register(redis, "verify")
        self._resend = scripts.register(redis, "resend")
        self._update = scripts.register(redis, "update")
        self._promote = scripts.register(redis, "promote")
        self._abandon = scripts.register(redis, "abandon")
        self._spend = scripts.register(redis, "spend")

    async def start(
        self,
        email: str,
        *,
        client: str | None,
        deliverable: Callable[[], Awaitable[bool]],
        deliver: Deliver,
        fields: Mapping[str, str] | None = None,
    ) -> CodeIssued:
        """Open a flow for `email` and queue its mail; an undeliverable flow holds a code nobody knows.

        The wrong-code caps, the start cooldown (if this machinery has one) and the mail
        quotas come first, so past them nothing else is asked (`deliverable` may look up
        the account: a refused caller learns nothing from its timing). A flow whose mail
        cannot be queued is removed, its mail refunded and its cooldown given back.
        `fields` are kept in the flow (who started it, say) and read back by `peek`.
        """
        quotas = self.quotas
        await quotas.check_start(email, client)
        cooldown = await quotas.take_start_cooldown(email, client) if self._start_cooldown else None
        try:
            await quotas.take_mail(email, client)
        except BaseException:
            await quotas.release_start_cooldown(email, client, cooldown)
            raise
        flow_id = secrets.token_urlsafe(32)
        try:
            issued = await self._open(flow_id, email, await deliverable(), fields or {})
            await deliver(issued)
        except BaseException:
            await self._redis.delete(self._key(flow_id))
            await quotas.refund_mail(email, client)
            await quotas.release_start_cooldown(email, client, cooldown)
            raise
        return issued

    async def resend(self, flow_id: str, *, client: str | None, deliver: Deliver) -> CodeIssued:
        """Queue a new code's mail; the attempt count stays, so a resend buys no extra guesses.

        The earlier codes keep working until the outbox delivers the new one's mail and
        calls `promote`. If the mail cannot be queued, the new code is dropped, the mail
        refunded and the cooldown undone.
        """
        fields = await self._load(flow_id)
        if fields.get("stage") != CODE_SENT:
            raise FlowNotFound()
        email = fields["email"]
        deliverable = fields.get("deliverable") == "1"
        await self.quotas.check_start(email, client)
        await self.quotas.take_mail(email, client)
        code = self._new_code()
        mac = self._stored_mac(flow_id, code, deliverable)
        key = self._key(flow_id)
        status, value, now = await self._resend(
            keys=[key], args=[mac, self._code_ttl_ms, self._cooldown_ms, MOST_PENDING]
        )
        if status != b"ok":
            await self.quotas.refund_mail(email, client)
            if status == b"wait":
                raise RateLimitExceeded(_ceil_seconds(int(value)), "resend_cooldown")
            raise FlowNotFound()
        issued = self._issued(flow_id, email, code if deliverable else None, int(now), pending_mac=mac)
        try:
            await deliver(issued)
        except BaseException:
            await self._abandon(keys=[key], args=[mac, int(now) + self._cooldown_ms, int(value)])
            await self.quotas.refund_mail(email, client)
            raise
        return issued

    async def promote(self, flow_id: str, pending_mac: str) -> None:
        """A resent code's mail was delivered: it replaces the delivered code, which stops working."""
        await self._promote(keys=[self._key(flow_id)], args=[pending_mac])

    async def drop_pending(self, flow_id: str, pending_mac: str) -> None:
        """A resent code's mail was given up: its code stops working, the others stay."""
        await self._abandon(keys=[self._key(flow_id)], args=[pending_mac])

    @property
    def prefix(self) -> str:
        return self._prefix

    async def peek(self, flow_id: str) -> dict[str, str]:
        """The fields of a flow still waiting for its code (its email and what `start` was
        given), without spending an attempt."""
        fields = await self._load(flow_id)
        if fields.get("stage") != CODE_SENT:
            raise FlowNotFound()
        return fields

    async def verify(self, flow_id: str, code: str, *, client: str | None) -> tuple[str, Flow]:
        """Check `code` from `client`; on success return a secret flow token and the verified flow.

        The wrong code is counted before the compare and refunded if it was right, so
        parallel guesses all count. A client past its own caps (for this address, or
        across addresses) is refused before the compare (RateLimitExceeded: nothing spent);
        other clients' wrong codes never keep the right one from verifying.
        From here on the flow id alone opens nothing: later steps need the token.
        """
        if not FLOW_ID_PATTERN.match(flow_id):
            raise FlowNotFound()
        email = await self._redis.hget(self._key(flow_id), "email")
        if email is None:
            raise FlowNotFound()
        taken = await self.quotas.take_failure(email.decode(), client)
        token = f"{flow_id}.{secrets.token_urlsafe(32)}"
        status, attempts_left, *verified = await self._verify(
            keys=[self._key(flow_id)],
            args=[self._code_mac(flow_id, code[:64]), self._max_attempts, self._token_mac(token)],
        )
        if status in (b"ok", b"expired"):
            await self.quotas.refund_failure(taken)
        else:
            await self.quotas.keep_failure(taken)
        if status == b"expired":
            raise FlowNotFound()
        if status != b"ok":
            raise WrongCode(
                int(attempts_left),
                address_ceiling=taken.address_ceiling_crossed,
                breaker=taken.breaker_crossed,
            )
        # The script set the token and read the flow back in the same step: no `authorize`.
        fields = {
            key.decode(): value.decode() for key, value in zip(verified[::2], verified[1::2], strict=True)
        }
        return token, _flow(flow_id, fields)

    async def authorize(self, token: str, *, stages: tuple[str, ...]) -> Flow:
        """The flow a token opens, if it is at one of `stages`."""
        flow_id, _, _ = token.partition(".")
        fields = await self._load(flow_id)
        token_mac = fields.get("token_mac", "")
        if not hmac.compare_digest(token_mac.encode(), self._token_mac(token).encode()):
            raise FlowNotFound()
        if fields.get("stage") not in stages:
            raise FlowNotFound()
        return _flow(flow_id, fields)

    async def update(self, flow: Flow, *, stages: tuple[str, ...], **values: str) -> None:
        """Set fields on a flow only if it still exists at one of `stages`."""
        pairs = [item for pair in values.items() for item in pair]
        updated = await self._update(keys=[self._key(flow.flow_id)], args=[",".join(stages), *pairs])
        if not updated:
            raise FlowNotFound()

    async def spend(self, flow: Flow, *, stages: tuple[str, ...], counter: str, limit: int) -> bool:
        """Count one use of a per-flow budget (`counter`, at most `limit`), atomically and
        only while the flow is at one of `stages`: False once the budget is spent."""
        spent = await self._spend(keys=[self._key(flow.flow_id)], args=[",".join(stages), counter, limit])
        if int(spent) < 0:
            raise FlowNotFound()
        return bool(int(spent))

    async def finish(self, flow: Flow) -> None:
        await self._redis.delete(self._key(flow.flow_id))

    def start_cooldown_key(self, email: str, client: str | None) -> str:
        """Where an (address, client) start cooldown lives (tests end it by deleting the key)."""
        return self.quotas.start_cooldown_key(email, client)

    async def _load(self, flow_id: str) -> dict[str, str]:
        if not FLOW_ID_PATTERN.match(flow_id):
            raise FlowNotFound()
        raw = await self._redis.hgetall(self._key(flow_id))
        if not raw:
            raise FlowNotFound()
        return {key.decode(): value.decode() for key, value in raw.items()}

    async def _open(
        self, flow_id: str, email: str, deliverable: bool, fields: Mapping[str, str]
    ) -> CodeIssued:
        code = self._new_code()
        pairs = [
            item
            for pair in {**fields, "email": email, "deliverable": "1" if deliverable else "0"}.items()
            for item in pair
        ]
        now = await self._open_script(
            keys=[self._key(flow_id)],
            args=[
                self._stored_mac(flow_id, code, deliverable),
                self._code_ttl_ms,
                self._cooldown_ms,
                self._flow_ttl_ms,
                *pairs,
            ],
        )
        return self._issued(flow_id, email, code if deliverable else None, int(now))

    def _issued(
        self, flow_id: str, email: str, code: str | None, now: int, pending_mac: str | None = None
    ) -> CodeIssued:
        return CodeIssued(
            flow_id=flow_id,
            email=email,
            code=code,
            expires_at=_datetime(now + self._code_ttl_ms),
            resend_available_at=_datetime(now + self._cooldown_ms),
            pending_mac=pending_mac,
        )

    def _stored_mac(self, flow_id: str, code: str, deliverable: bool) -> str:
        """The MAC kept for a code; for a codeless flow, of a secret nobody knows."""
        return self._code_mac(flow_id, code if deliverable else secrets.token_hex(32))

    def _new_code(self) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(self.code_length))

    def _code_mac(self, flow_id: str, code: str) -> str:
        return hmac.new(self._mac_key, f"code:{flow_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def _token_mac(self, token: str) -> str:
        return hmac.new(self._mac_key, f"token:{token}".encode(), hashlib.sha256).hexdigest()

    def _key(self, flow_id: str) -> str:
        return f"{self._prefix}:{{{flow_id}}}"

    def _address_digest(self, email: str) -> str:
        return hmac.new(self._mac_key, email.encode(), hashlib.sha256).hexdigest()[:32]


def _flow(flow_id: str, fields: dict[str, str]) -> Flow:
    return Flow(
        flow_id=flow_id,
        email=fields["email"],
        expires_at=_datetime(int(fields["expires_ms"])),
        fields=fields,
    )


def _datetime(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _ceil_seconds(milliseconds: int) -> int:
    return max(1, -(-milliseconds // 1000))
