"""Emailed one-time codes and the flow state around them, held in Redis.

One flow is one Redis hash, `<prefix>:{<flow id>}`: the braces are a hash tag, so
everything a flow owns sits in one Cluster slot and every script touches one key.
Only an HMAC of the code is stored. Verification is one Lua script that counts the
attempt *before* comparing, compares in constant time and burns the flow after the
last allowed wrong code, so N guesses in one request (aliases, batches, parallel
requests) always count as N. Registration, password reset, sign-in by code and email
change each have one.

Across flows, wrong codes are counted per address (every kind of flow shares the
count): each guess is counted before it is compared and refunded if it was right,
so parallel guesses cannot slip past the cap. The address counter lives in its own
key, never in a script with the flow's key, so every command names one key and the
whole module works on Redis Cluster (at the price of a few round trips per verify).

Mail is counted before it is queued (per address, per client, all together) and
refunded when it cannot be queued. A resent code waits beside the earlier one and both
verify until the outbox has delivered the new mail and promoted it (`promote`): so an
SMTP outage never kills a code already in the inbox, and a code that reached the inbox
works at once. A mail the outbox gives up on drops its code (`drop_pending`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

CODE_SENT = "CODE_SENT"
VERIFIED = "VERIFIED"
FLOW_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
ADDRESS_WINDOW_SECONDS = 3600
FAILURE_WINDOW_SECONDS = 86_400
# Shared by every flow (registration, password reset): one budget of mails per hour,
# one per client, and one count of wrong codes per address.
GLOBAL_MAIL_KEY = "mail-quota:{all}"
CLIENT_MAIL_PREFIX = "mail-quota:client"
FAILURES_PREFIX = "code-failures"

# KEYS[1] flow; ARGV: candidate mac, now ms, max attempts, token mac, '1' if the
# address is past its cap of wrong codes (then nothing verifies; the attempt counts).
VERIFY_SCRIPT = """
local stage = redis.call('HGET', KEYS[1], 'stage')
if stage ~= 'CODE_SENT' then return {'expired', 0} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local max = tonumber(ARGV[3])
local candidate = ARGV[1]
local function matches(mac_field, expiry_field)
  local stored = redis.call('HGET', KEYS[1], mac_field) or ''
  local diff = 0
  if #stored ~= #candidate then diff = 1 end
  for i = 1, #candidate do
    diff = bit.bor(diff, bit.bxor(string.byte(candidate, i), string.byte(stored, i) or 0))
  end
  local fresh = tonumber(redis.call('HGET', KEYS[1], expiry_field) or '0') >= tonumber(ARGV[2])
  return diff == 0 and fresh
end
-- The delivered code, or a resent one whose mail is still on its way (both compared).
local current = matches('code_mac', 'code_expires_ms')
local resent = matches('pending_mac', 'pending_expires_ms')
if (current or resent) and ARGV[5] ~= '1' then
  redis.call('HSET', KEYS[1], 'stage', 'VERIFIED', 'token_mac', ARGV[4])
  redis.call('HDEL', KEYS[1], 'code_mac', 'code_expires_ms', 'pending_mac', 'pending_expires_ms')
  return {'ok', max - attempts}
end
if attempts >= max then
  redis.call('DEL', KEYS[1])
  return {'burnt', 0}
end
return {'wrong', max - attempts}
"""

# KEYS[1] flow; ARGV: new code mac, code expiry ms, now ms, next resend ms.
# The new code waits as pending: the earlier one keeps working until it is promoted.
RESEND_SCRIPT = """
if redis.call('HGET', KEYS[1], 'stage') ~= 'CODE_SENT' then return {'expired', 0} end
local resend_at = tonumber(redis.call('HGET', KEYS[1], 'resend_at_ms') or '0')
if resend_at > tonumber(ARGV[3]) then return {'wait', resend_at - tonumber(ARGV[3])} end
redis.call('HSET', KEYS[1], 'pending_mac', ARGV[1], 'pending_expires_ms', ARGV[2], 'resend_at_ms', ARGV[4])
return {'ok', resend_at}
"""

# KEYS[1] flow; ARGV: the pending mac this resend stored. Its mail was delivered: the
# new code replaces the old one (unless the flow moved on or another resend followed).
PROMOTE_SCRIPT = """
if redis.call('HGET', KEYS[1], 'stage') ~= 'CODE_SENT' then return 0 end
if redis.call('HGET', KEYS[1], 'pending_mac') ~= ARGV[1] then return 0 end
local expires = redis.call('HGET', KEYS[1], 'pending_expires_ms')
redis.call('HSET', KEYS[1], 'code_mac', ARGV[1], 'code_expires_ms', expires)
redis.call('HDEL', KEYS[1], 'pending_mac', 'pending_expires_ms')
return 1
"""

# KEYS[1] flow; ARGV: the pending mac this resend stored, then optionally the resend
# time it set and the resend time before it. Its mail was not queued (give the resend
# back) or was abandoned: drop the new code.
ABANDON_SCRIPT = """
if redis.call('HGET', KEYS[1], 'pending_mac') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'pending_mac', 'pending_expires_ms')
if ARGV[2] and redis.call('HGET', KEYS[1], 'resend_at_ms') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'resend_at_ms', ARGV[3])
end
return 1
"""

# KEYS[1] flow; ARGV: allowed stages joined by ',', then field/value pairs.
UPDATE_SCRIPT = """
local stage = redis.call('HGET', KEYS[1], 'stage')
if not stage or not string.find(',' .. ARGV[1] .. ',', ',' .. stage .. ',', 1, true) then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""

# KEYS[1] flow; ARGV: allowed stages joined by ',', counter field, limit.
SPEND_SCRIPT = """
local stage = redis.call('HGET', KEYS[1], 'stage')
if not stage or not string.find(',' .. ARGV[1] .. ',', ',' .. stage .. ',', 1, true) then
  return -1
end
if tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
return 1
"""

# KEYS[1] per-address counter; ARGV: window seconds.
COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return {n, redis.call('TTL', KEYS[1])}
"""

# KEYS[1] an address's start cooldown; ARGV: the value this start set. Given back only
# by the start that took it (one that expired meanwhile may belong to a later start).
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] counter. Takes back one count, never below zero and never on a key that
# expired meanwhile (a DECR there would leave a counter without expiry).
REFUND_SCRIPT = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
"""


# Queues the mail of an issued code (raises if it cannot be queued).
Deliver = Callable[["CodeIssued"], Awaitable[None]]


class FlowNotFound(Exception):
    """Unknown, expired, completed, burnt, or not at the stage this step needs."""


class RateLimitExceeded(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class WrongCode(Exception):
    """A code that did not verify; `capped` when the address was past its cap of wrong
    codes (the code was not looked at, the client is told nothing different)."""

    def __init__(self, attempts_left: int, *, capped: bool = False) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left
        self.capped = capped


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
        secret: bytes,
        code_length: int,
        code_ttl_seconds: int,
        max_attempts: int,
        resend_cooldown_seconds: int,
        codes_per_address_per_hour: int,
        code_failures_per_address_per_day: int,
        mails_per_hour: int,
        mails_per_client_per_hour: int,
        flow_ttl_seconds: int,
        start_cooldown: bool = False,
    ) -> None:
        """`start_cooldown`: a flow without a resend (sign-in by code, email change) starts
        at most once per address and resend cooldown, so a new start is its resend."""
        self._redis = redis
        self._prefix = prefix
        self._secret = hmac.new(secret, b"authql one-time codes", hashlib.sha256).digest()
        self.code_length = code_length
        self._code_ttl_ms = code_ttl_seconds * 1000
        self._max_attempts = max_attempts
        self._cooldown_ms = resend_cooldown_seconds * 1000
        self._per_address = codes_per_address_per_hour
        self._failures_per_address = code_failures_per_address_per_day
        self._mails_per_hour = mails_per_hour
        self._mails_per_client = mails_per_client_per_hour
        self._flow_ttl_ms = flow_ttl_seconds * 1000
        self._start_cooldown = start_cooldown
        self._verify = redis.register_script(VERIFY_SCRIPT)
        self._resend = redis.register_script(RESEND_SCRIPT)
        self._update = redis.register_script(UPDATE_SCRIPT)
        self._promote = redis.register_script(PROMOTE_SCRIPT)
        self._abandon = redis.register_script(ABANDON_SCRIPT)
        self._spend = redis.register_script(SPEND_SCRIPT)
        self._count = redis.register_script(COUNT_SCRIPT)
        self._refund = redis.register_script(REFUND_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)

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

        The address's start cooldown (if this machinery has one) and the quota come
        first, so past them nothing else is asked (`deliverable` may look up the
        account: a refused caller learns nothing from its timing). A flow whose mail
        cannot be queued is removed, its mail refunded and its cooldown given back.
        `fields` are kept in the flow (who started it, say) and read back by `peek`.
        """
        cooldown = await self._take_start_cooldown(email)
        try:
            await self._take_mail_quota(email, client)
        except BaseException:
            await self._release_start_cooldown(email, cooldown)
            raise
        flow_id = secrets.token_urlsafe(32)
        try:
            issued = await self._open(flow_id, email, await deliverable(), fields or {})
            await deliver(issued)
        except BaseException:
            await self._redis.delete(self._key(flow_id))
            await self._refund_mail_quota(email, client)
            await self._release_start_cooldown(email, cooldown)
            raise
        return issued

    async def resend(self, flow_id: str, *, client: str | None, deliver: Deliver) -> CodeIssued:
        """Queue a new code's mail; the attempt count stays, so a resend buys no extra guesses.

        The earlier code keeps working until the outbox delivers the new one's mail and
        calls `promote`. If the mail cannot be queued, the new code is dropped, the mail
        refunded and the cooldown undone.
        """
        fields = await self._load(flow_id)
        if fields.get("stage") != CODE_SENT:
            raise FlowNotFound()
        email = fields["email"]
        deliverable = fields.get("deliverable") == "1"
        await self._take_mail_quota(email, client)
        code = self._new_code()
        mac = self._stored_mac(flow_id, code, deliverable)
        now = _now_ms()
        resend_at = now + self._cooldown_ms
        key = self._key(flow_id)
        status, value = await self._resend(keys=[key], args=[mac, now + self._code_ttl_ms, now, resend_at])
        if status != b"ok":
            await self._refund_mail_quota(email, client)
            if status == b"wait":
                raise RateLimitExceeded(_ceil_seconds(int(value)))
            raise FlowNotFound()
        issued = self._issued(flow_id, email, code if deliverable else None, now, pending_mac=mac)
        try:
            await deliver(issued)
        except BaseException:
            await self._abandon(keys=[key], args=[mac, resend_at, int(value)])
            await self._refund_mail_quota(email, client)
            raise
        return issued

    async def promote(self, flow_id: str, pending_mac: str) -> None:
        """The resent code's mail was delivered: it replaces the earlier code, which stops working."""
        await self._promote(keys=[self._key(flow_id)], args=[pending_mac])

    async def drop_pending(self, flow_id: str, pending_mac: str) -> None:
        """The resent code's mail was given up: its code stops working, the earlier one stays."""
        await self._abandon(keys=[self._key(flow_id)], args=[pending_mac])

    @property
    def prefix(self) -> str:
        return self._prefix

    async def pending(self, flow_id: str) -> str:
        """The email of a flow still waiting for its code, without spending an attempt."""
        fields = await self._load(flow_id)
        if fields.get("stage") != CODE_SENT:
            raise FlowNotFound()
        return fields["email"]

    async def peek(self, flow_id: str) -> dict[str, str]:
        """The fields of a flow still waiting for its code (its email and what `start` was
        given), without spending an attempt."""
        fields = await self._load(flow_id)
        if fields.get("stage") != CODE_SENT:
            raise FlowNotFound()
        return fields

    async def verify(self, flow_id: str, code: str) -> tuple[str, Flow]:
        """Check `code`; on success return a secret flow token and the verified flow.

        From here on the flow id alone opens nothing: later steps need the token.
        """
        if not FLOW_ID_PATTERN.match(flow_id):
            raise FlowNotFound()
        email = await self._redis.hget(self._key(flow_id), "email")
        if email is None:
            raise FlowNotFound()
        # Counted as wrong before the compare, refunded if right: parallel guesses all count.
        failures_key = self._failures_key(email.decode())
        failures, _ = await self._count(keys=[failures_key], args=[FAILURE_WINDOW_SECONDS])
        capped = int(failures) > self._failures_per_address
        token = f"{flow_id}.{secrets.token_urlsafe(32)}"
        status, attempts_left = await self._verify(
            keys=[self._key(flow_id)],
            args=[
                self._code_mac(flow_id, code[:64]),
                _now_ms(),
                self._max_attempts,
                self._token_mac(token),
                "1" if capped else "0",
            ],
        )
        if status in (b"ok", b"expired"):
            await self._refund(keys=[failures_key])
        if status == b"expired":
            raise FlowNotFound()
        if status != b"ok":
            raise WrongCode(int(attempts_left), capped=capped)
        return token, await self.authorize(token, stages=(VERIFIED,))

    async def authorize(self, token: str, *, stages: tuple[str, ...]) -> Flow:
        """The flow a token opens, if it is at one of `stages`."""
        flow_id, _, _ = token.partition(".")
        fields = await self._load(flow_id)
        token_mac = fields.get("token_mac", "")
        if not hmac.compare_digest(token_mac.encode(), self._token_mac(token).encode()):
            raise FlowNotFound()
        if fields.get("stage") not in stages:
            raise FlowNotFound()
        return Flow(
            flow_id=flow_id,
            email=fields["email"],
            expires_at=_datetime(int(fields["expires_ms"])),
            fields=fields,
        )

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
        now = _now_ms()
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            self._key(flow_id),
            mapping={
                **fields,
                "email": email,
                "stage": CODE_SENT,
                "deliverable": "1" if deliverable else "0",
                "attempts": 0,
                "code_mac": self._stored_mac(flow_id, code, deliverable),
                "code_expires_ms": now + self._code_ttl_ms,
                "resend_at_ms": now + self._cooldown_ms,
                "expires_ms": now + self._flow_ttl_ms,
            },
        )
        pipe.pexpireat(self._key(flow_id), now + self._flow_ttl_ms)
        await pipe.execute()
        return self._issued(flow_id, email, code if deliverable else None, now)

    async def _take_start_cooldown(self, email: str) -> str | None:
        """Claim the address's start cooldown (None when this machinery has none); a start
        inside it is refused with the time left. Kept per address whether or not it has an
        account, and asked before anything about the account, so it tells nothing."""
        if not self._start_cooldown:
            return None
        claim = secrets.token_hex(8)
        key = self.start_cooldown_key(email)
        if await self._redis.set(key, claim, nx=True, px=self._cooldown_ms):
            return claim
        left = await self._redis.pttl(key)
        raise RateLimitExceeded(_ceil_seconds(max(int(left), 1)))

    async def _release_start_cooldown(self, email: str, claim: str | None) -> None:
        """A start that mailed nothing gives its cooldown back."""
        if claim is not None:
            await self._release(keys=[self.start_cooldown_key(email)], args=[claim])

    def start_cooldown_key(self, email: str) -> str:
        """Where an address's start cooldown lives (tests end it by deleting the key)."""
        return f"{self._prefix}:cooldown:{{{self._address_digest(email)}}}"

    async def _take_mail_quota(self, email: str, client: str | None) -> None:
        """One mail from the address's hourly quota, the client's and the global one.

        The global cap is a circuit breaker: whoever drives authql to mail strangers
        stops every mail for the hour rather than making it a spam cannon. The client's
        budget, well below it, keeps one client alone from tripping it for everyone.
        A refused mail is taken back from every count, so it costs nobody anything.
        """
        taken: list[str] = []
        for key, limit in self._mail_budgets(email, client):
            count, ttl = await self._count(keys=[key], args=[ADDRESS_WINDOW_SECONDS])
            taken.append(key)
            if int(count) > limit:
                for counted in taken:
                    await self._refund(keys=[counted])
                raise RateLimitExceeded(max(int(ttl), 1))

    async def _refund_mail_quota(self, email: str, client: str | None) -> None:
        for key, _ in self._mail_budgets(email, client):
            await self._refund(keys=[key])

    def _mail_budgets(self, email: str, client: str | None) -> tuple[tuple[str, int], ...]:
        """Every hourly mail count a mail takes from, with its limit: the address's, the
        client's and the global one."""
        return (
            (self._address_key(email), self._per_address),
            (self._client_key(client), self._mails_per_client),
            (GLOBAL_MAIL_KEY, self._mails_per_hour),
        )

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
        return hmac.new(self._secret, f"code:{flow_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def _token_mac(self, token: str) -> str:
        return hmac.new(self._secret, f"token:{token}".encode(), hashlib.sha256).hexdigest()

    def _key(self, flow_id: str) -> str:
        return f"{self._prefix}:{{{flow_id}}}"

    def _address_key(self, email: str) -> str:
        return f"{self._prefix}:address:{{{self._address_digest(email)}}}"

    def _failures_key(self, email: str) -> str:
        """Wrong codes of an address, one count for every kind of flow (no prefix)."""
        return f"{FAILURES_PREFIX}:{{{self._address_digest(email)}}}"

    def _address_digest(self, email: str) -> str:
        return hmac.new(self._secret, email.encode(), hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def _client_key(client: str | None) -> str:
        return f"{CLIENT_MAIL_PREFIX}:{{{client or 'unknown'}}}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _datetime(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _ceil_seconds(milliseconds: int) -> int:
    return max(1, -(-milliseconds // 1000))
