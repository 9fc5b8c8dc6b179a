"""Two-factor authentication: TOTP (RFC 6238, by pyotp), recovery codes, and the
second-factor challenge a sign-in answers while it waits for one.

- The TOTP secret is stored sealed (security/keyring.py, its own label) and bound to the
  user's id: the database alone never yields it. One sealed under an older data key is
  resealed under the current one when it is next used (resolvers/two_factor.py).
- A code is checked against the current 30-second step and one step either way (drift);
  the step that matched is returned, so the caller can accept each step once per
  account (documents/user.py keeps the last one used, written conditionally).
- Recovery codes: 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L, U),
  about 59 bits each, so a fast keyed hash is enough: HMAC-SHA256 under a key derived
  from a data key, over the user's id and the code. Only the hashes are stored, each as
  `<data key id>:<hex>` (no id: the `legacy` key), so a rotation leaves them working for as
  long as their key stays in the ring.
- A challenge is one Redis hash keyed by a digest of its id: it lives a few minutes and
  counts each attempt before the code is compared, in one script, so parallel guesses
  cannot exceed the attempts allowed; its end (success or last attempt) deletes it, and
  only the request whose delete removed it may open a session.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno
from redis.asyncio import Redis

from security import clock, lua
from security.counters import WindowedCounters
from security.keyring import RECOVERY_CODES, TOTP_SECRETS, KeyRing, split_sealed

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
# One step of clock drift either way.
TOTP_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_CODE_LENGTH = 12
RECOVERY_GROUP = 4
# Tries at one challenge (TOTP or recovery codes alike) before it is gone.
SECOND_FACTOR_ATTEMPTS = 5
# A TOTP enrolment not confirmed within this long must start again; also the window in
# which an enrolment may try SECOND_FACTOR_ATTEMPTS codes (CodeTries).
ENROLLMENT_TTL_SECONDS = 600


class TotpSecrets:
    """New secrets, their URI and QR code, sealing, and checking a code."""

    def __init__(self, ring: KeyRing, issuer: str) -> None:
        self._ring = ring
        self._issuer = issuer

    @staticmethod
    def new_secret() -> str:
        return pyotp.random_base32()  # 32 base32 characters: 160 bits, RFC 4226's advice

    def uri(self, secret: str, account: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=self._issuer)

    @staticmethod
    def qr_svg(uri: str) -> str:
        out = io.BytesIO()
        segno.make(uri, error="m").save(out, kind="svg", xmldecl=False, scale=4)
        return out.getvalue().decode()

    def seal(self, user_id: str, secret: str) -> str:
        return self._ring.seal(TOTP_SECRETS, secret.encode(), user_id.encode())

    def open(self, user_id: str, sealed: str) -> str:
        """Raises security.keyring.Unsealable when its data key has left the ring."""
        return self._ring.open(TOTP_SECRETS, sealed, user_id.encode()).decode()

    def stale(self, sealed: str) -> bool:
        """Sealed under a data key other than the current one: reseal it once opened."""
        return not self._ring.is_current(sealed)

    @staticmethod
    def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
        """The time step whose code `code` is (the current one or one either side), or None."""
        if not looks_like_totp(code):
            return None
        code = code.strip()
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
        current = totp.timecode(datetime.fromtimestamp(clock.now() if now is None else now, UTC))
        found = None
        for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
            # Bytes: compare_digest refuses non-ASCII str (looks_like_totp already did too).
            if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):  # no early exit
                found = step
        return found


def looks_like_totp(code: str) -> bool:
    """A 6-digit code is a TOTP; anything else is taken for a recovery code. ASCII digits
    only: `str.isdigit` also takes fullwidth or Arabic-Indic ones, which the comparison
    below cannot take (compare_digest refuses non-ASCII str) and no authenticator shows."""
    code = code.strip()
    return len(code) == TOTP_DIGITS and code.isascii() and code.isdigit()


class RecoveryCodes:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    @staticmethod
    def generate() -> list[str]:
        return [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]

    def digest(self, user_id: str, code: str) -> str:
        """The stored form of `code` under the current data key; dashes, spaces and case do
        not matter."""
        kid = self._ring.current_id
        return f"{kid}:{self._hex(kid, user_id, code)}"

    def match(self, user_id: str, code: str, stored: list[str]) -> str | None:
        """The stored digest `code` is, under whichever data key made it; None if none is.
        One HMAC per data key the stored digests name (a handful at most)."""
        by_key: dict[str, str] = {}
        for each in stored:
            kid, _ = split_sealed(each)
            if kid in self._ring.ids and kid not in by_key:
                by_key[kid] = self._hex(kid, user_id, code)
        for each in stored:
            kid, digest = split_sealed(each)
            if kid in by_key and hmac.compare_digest(digest, by_key[kid]):
                return each
        return None

    def _hex(self, kid: str, user_id: str, code: str) -> str:
        canonical = "".join(code.split()).replace("-", "").upper()
        key = self._ring.derive(RECOVERY_CODES, kid)
        return hmac.new(key, f"{user_id}:{canonical}".encode(), hashlib.sha256).hexdigest()


def _recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i : i + RECOVERY_GROUP] for i in range(0, RECOVERY_CODE_LENGTH, RECOVERY_GROUP))


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Attempt:
    """One counted attempt at a challenge: whose it is and what the first factor was."""

    user_id: str
    amr: tuple[str, ...]
    credential_version: int
    attempts_left: int


class Challenges:
    def __init__(self, redis: Redis, *, ttl_seconds: int, max_attempts: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._max_attempts = max_attempts
        self._attempt = lua.register(redis, "two_factor/attempt")

    async def open(self, user_id: str, amr: tuple[str, ...], credential_version: int) -> Challenge:
        challenge_id = secrets.token_urlsafe(32)
        key = _key(challenge_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "user": user_id,
                "amr": ",".join(amr),
                "cv": credential_version,
                "left": self._max_attempts,
            },
        )
        pipe.expire(key, self._ttl)
        await pipe.execute()
        return Challenge(challenge_id, datetime.fromtimestamp(int(clock.now()) + self._ttl, UTC))

    async def attempt(self, challenge_id: str) -> Attempt | None:
        """Count one attempt; None when the challenge is unknown, expired or used up."""
        if len(challenge_id) > 64:
            return None
        found = await self._attempt(keys=[_key(challenge_id)])
        if found is None:
            return None
        user, amr, cv, left = (value.decode() if isinstance(value, bytes) else value for value in found)
        return Attempt(str(user), tuple(part for part in str(amr).split(",") if part), int(cv), int(left))

    async def end(self, challenge_id: str) -> bool:
        """Delete the challenge; True for the one caller that removed it."""
        return bool(await self._redis.delete(_key(challenge_id)))


def _key(challenge_id: str) -> str:
    digest = hashlib.sha256(challenge_id.encode()).hexdigest()[:32]
    return f"2fa-challenge:{{{digest}}}"


class CodeTries:
    """Codes an account may try in a window, per purpose (today: confirming an enrolment,
    whose secret the caller was just shown), counted before the code is compared and
    reset by a right one: a windowed counter (security/counters.py) per purpose and
    account. The account's own second factor has its one budget instead
    (SecondFactorBudget)."""

    def __init__(self, redis: Redis, *, tries: int, window_seconds: int) -> None:
        self._counters = WindowedCounters(redis)
        self._tries = tries
        self._window = window_seconds

    async def take(self, purpose: str, user_id: str) -> tuple[int, int]:
        """One try: (tries left after this one, or -1 if none was left; seconds the window lasts)."""
        count = await self._counters.take(
            _tries_key(purpose, user_id), self._window
        )  # opens at the first try
        return self._tries - count.value, count.ttl_seconds

    async def reset(self, purpose: str, user_id: str) -> None:
        await self._counters.clear(_tries_key(purpose, user_id))


def _tries_key(purpose: str, user_id: str) -> str:
    return f"2fa-tries:{purpose}:{{{user_id}}}"


# One budget per account for every check of its second factor (answering a challenge,
# turning two-factor off, new recovery codes, and the second factor asked again before a
# password change, an email change or a deletion): SECOND_FACTOR_ATTEMPTS tries in a
# window that opens at the first try and lasts BUDGET_WINDOW_SECONDS, twice as long
# after each window that was used up (up to a day), and at most SECOND_FACTOR_TRIES_PER_DAY
# in a day. Tries are counted before the code is compared. A right code ends the window
# and the doubling (and gives back the day's try it took); nothing else does, a correct
# password included.
BUDGET_WINDOW_SECONDS = 600
SECOND_FACTOR_TRIES_PER_DAY = 20
DAY_MS = 86_400_000

# The scripts: security/lua/two_factor/budget_take.lua and budget_reset.lua.


@dataclass(frozen=True)
class BudgetTry:
    """One try taken from an account's second-factor budget."""

    left: int  # tries left after this one; -1: refused, nothing may be compared
    wait_seconds: int  # when refused, how long until the next try is allowed


class SecondFactorBudget:
    """The account's one budget of second-factor tries (see BUDGET_WINDOW_SECONDS); and,
    once a window is used up, whether the owner was already told today."""

    def __init__(
        self,
        redis: Redis,
        *,
        tries: int = SECOND_FACTOR_ATTEMPTS,
        window_seconds: int = BUDGET_WINDOW_SECONDS,
        tries_per_day: int = SECOND_FACTOR_TRIES_PER_DAY,
    ) -> None:
        self._redis = redis
        self._tries = tries
        self._window_ms = window_seconds * 1000
        self._daily = tries_per_day
        self._take = lua.register(redis, "two_factor/budget_take")
        self._reset = lua.register(redis, "two_factor/budget_reset")

    async def take(self, user_id: str) -> BudgetTry:
        now = clock.now_ms()
        left, wait_ms = await self._take(
            keys=[budget_key(user_id)], args=[now, self._tries, self._window_ms, self._daily, DAY_MS]
        )
        return BudgetTry(int(left), max(1, -(-int(wait_ms) // 1000)))

    async def reset(self, user_id: str) -> None:
        await self._reset(keys=[budget_key(user_id)])

    async def first_warning(self, user_id: str) -> bool:
        """True once a day per account: the first window used up today, when the owner is
        mailed (a notice per window would let a guesser flood the owner's inbox)."""
        return bool(await self._redis.set(f"2fa-warned:{{{user_id}}}", 1, ex=DAY_MS // 1000, nx=True))


def budget_key(user_id: str) -> str:
    return f"2fa-budget:{{{user_id}}}"
