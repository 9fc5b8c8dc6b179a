"""Emailed one-time codes and the flow state around them, held in Redis.

One flow is one Redis hash, `<prefix>:{<flow id>}`: the braces are a hash tag, so
everything a flow owns sits in one Cluster slot and every script touches one key.
Only an HMAC of the code is stored. Verification is one Lua script that counts the
attempt *before* comparing, compares in constant time and burns the flow after the
last allowed wrong code, so N guesses in one request (aliases, batches, parallel
requests) always count as N. Registration uses it now; password reset reuses it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

CODE_SENT = "CODE_SENT"
VERIFIED = "VERIFIED"
FLOW_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
ADDRESS_WINDOW_SECONDS = 3600
# Shared by every flow (registration, password reset): one budget of mails per hour.
GLOBAL_MAIL_KEY = "mail-quota:{all}"

# KEYS[1] flow; ARGV: candidate mac, now ms, max attempts, token mac.
VERIFY_SCRIPT = """
local stage = redis.call('HGET', KEYS[1], 'stage')
if stage ~= 'CODE_SENT' then return {'expired', 0} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local max = tonumber(ARGV[3])
local stored = redis.call('HGET', KEYS[1], 'code_mac') or ''
local candidate = ARGV[1]
local diff = 0
if #stored ~= #candidate then diff = 1 end
for i = 1, #candidate do
  diff = bit.bor(diff, bit.bxor(string.byte(candidate, i), string.byte(stored, i) or 0))
end
local fresh = tonumber(redis.call('HGET', KEYS[1], 'code_expires_ms') or '0') >= tonumber(ARGV[2])
if diff == 0 and fresh then
  redis.call('HSET', KEYS[1], 'stage', 'VERIFIED', 'token_mac', ARGV[4])
  redis.call('HDEL', KEYS[1], 'code_mac', 'code_expires_ms')
  return {'ok', max - attempts}
end
if attempts >= max then
  redis.call('DEL', KEYS[1])
  return {'burnt', 0}
end
return {'wrong', max - attempts}
"""

# KEYS[1] flow; ARGV: new code mac, code expiry ms, now ms, next resend ms.
RESEND_SCRIPT = """
if redis.call('HGET', KEYS[1], 'stage') ~= 'CODE_SENT' then return {'expired', 0} end
local resend_at = tonumber(redis.call('HGET', KEYS[1], 'resend_at_ms') or '0')
if resend_at > tonumber(ARGV[3]) then return {'wait', resend_at - tonumber(ARGV[3])} end
redis.call('HSET', KEYS[1], 'code_mac', ARGV[1], 'code_expires_ms', ARGV[2], 'resend_at_ms', ARGV[4])
return {'ok', 0}
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


class FlowNotFound(Exception):
    """Unknown, expired, completed, burnt, or not at the stage this step needs."""


class RateLimitExceeded(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class WrongCode(Exception):
    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left


@dataclass(frozen=True)
class CodeIssued:
    """What the caller mails and answers; `code` is None when no code may be mailed."""

    flow_id: str
    email: str
    code: str | None
    expires_at: datetime
    resend_available_at: datetime


@dataclass(frozen=True)
class Flow:
    flow_id: str
    email: str
    stage: str
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
        mails_per_hour: int,
        flow_ttl_seconds: int,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._secret = hmac.new(secret, b"authql one-time codes", hashlib.sha256).digest()
        self.code_length = code_length
        self._code_ttl_ms = code_ttl_seconds * 1000
        self._max_attempts = max_attempts
        self._cooldown_ms = resend_cooldown_seconds * 1000
        self._per_address = codes_per_address_per_hour
        self._mails_per_hour = mails_per_hour
        self._flow_ttl_ms = flow_ttl_seconds * 1000
        self._verify = redis.register_script(VERIFY_SCRIPT)
        self._resend = redis.register_script(RESEND_SCRIPT)
        self._update = redis.register_script(UPDATE_SCRIPT)
        self._spend = redis.register_script(SPEND_SCRIPT)
        self._count = redis.register_script(COUNT_SCRIPT)

    async def start(self, email: str, *, deliverable: bool) -> CodeIssued:
        """Open a flow for `email`. An undeliverable flow holds a code nobody knows."""
        await self._take_mail_quota(email)
        flow_id = secrets.token_urlsafe(32)
        code = self._new_code()
        now = _now_ms()
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            self._key(flow_id),
            mapping={
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

    async def resend(self, flow_id: str) -> CodeIssued:
        """Rotate the code; the attempt count stays, so a resend buys no extra guesses."""
        fields = await self._load(flow_id)
        if fields.get("stage") != CODE_SENT:
            raise FlowNotFound()
        email = fields["email"]
        deliverable = fields.get("deliverable") == "1"
        await self._take_mail_quota(email)
        code = self._new_code()
        now = _now_ms()
        status, wait_ms = await self._resend(
            keys=[self._key(flow_id)],
            args=[
                self._stored_mac(flow_id, code, deliverable),
                now + self._code_ttl_ms,
                now,
                now + self._cooldown_ms,
            ],
        )
        if status != b"ok":
            await self._refund_mail_quota(email)
            if status == b"wait":
                raise RateLimitExceeded(_ceil_seconds(int(wait_ms)))
            raise FlowNotFound()
        return self._issued(flow_id, email, code if deliverable else None, now)

    async def pending(self, flow_id: str) -> str:
        """The email of a flow still waiting for its code, without spending an attempt."""
        fields = await self._load(flow_id)
        if fields.get("stage") != CODE_SENT:
            raise FlowNotFound()
        return fields["email"]

    async def verify(self, flow_id: str, code: str) -> tuple[str, Flow]:
        """Check `code`; on success return a secret flow token and the verified flow.

        From here on the flow id alone opens nothing: later steps need the token.
        """
        if not FLOW_ID_PATTERN.match(flow_id):
            raise FlowNotFound()
        token = f"{flow_id}.{secrets.token_urlsafe(32)}"
        status, attempts_left = await self._verify(
            keys=[self._key(flow_id)],
            args=[self._code_mac(flow_id, code[:64]), _now_ms(), self._max_attempts, self._token_mac(token)],
        )
        if status == b"expired":
            raise FlowNotFound()
        if status != b"ok":
            raise WrongCode(int(attempts_left))
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
            stage=fields["stage"],
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

    async def _take_mail_quota(self, email: str) -> None:
        """One mail from the address's hourly quota and from the global one.

        The global cap is a circuit breaker: whoever drives authql to mail strangers
        stops every mail for the hour rather than making it a spam cannon.
        """
        count, ttl = await self._count(keys=[self._address_key(email)], args=[ADDRESS_WINDOW_SECONDS])
        if int(count) > self._per_address:
            raise RateLimitExceeded(max(int(ttl), 1))
        count, ttl = await self._count(keys=[GLOBAL_MAIL_KEY], args=[ADDRESS_WINDOW_SECONDS])
        if int(count) > self._mails_per_hour:
            await self._redis.decr(self._address_key(email))
            raise RateLimitExceeded(max(int(ttl), 1))

    async def _refund_mail_quota(self, email: str) -> None:
        await self._redis.decr(self._address_key(email))
        await self._redis.decr(GLOBAL_MAIL_KEY)

    def _issued(self, flow_id: str, email: str, code: str | None, now: int) -> CodeIssued:
        return CodeIssued(
            flow_id=flow_id,
            email=email,
            code=code,
            expires_at=_datetime(now + self._code_ttl_ms),
            resend_available_at=_datetime(now + self._cooldown_ms),
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
        digest = hmac.new(self._secret, email.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self._prefix}:address:{{{digest}}}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _datetime(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _ceil_seconds(milliseconds: int) -> int:
    return max(1, -(-milliseconds // 1000))
