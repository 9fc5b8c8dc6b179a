"""One injectable clock (review part B): Python code reads the wall clock for security
decisions only through security/clock.py, so replacing `clock.now` moves every reader."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pyotp
from redis_client import redis_client

from security import clock
from security.two_factor import Challenges, SecondFactorBudget, TotpSecrets, budget_key

ROOT = Path(__file__).resolve().parent.parent
READS_THE_CLOCK = re.compile(r"\btime\.time\(|\btime_ns\(")
# rate_limits.py: the `limits` library's reset times are in its own clock (time.time), so
# the seconds left are measured in that clock too.
OWN_CLOCK = {"clock.py", "rate_limits.py"}


def test_no_module_reads_the_wall_clock_but_the_clock():
    modules = [path for folder in ("security", "mail", "resolvers") for path in (ROOT / folder).rglob("*.py")]
    reading = [
        str(path.relative_to(ROOT))
        for path in modules
        if path.name not in OWN_CLOCK and READS_THE_CLOCK.search(path.read_text(encoding="utf-8"))
    ]
    assert reading == [], reading


def test_a_totp_code_is_checked_at_the_clocks_time(monkeypatch):
    secret = pyotp.random_base32()
    then = 2_000_000_000.0  # in 2033: no code of today's steps is that step's
    code = pyotp.TOTP(secret).at(then)
    assert TotpSecrets.matching_step(secret, code) is None
    monkeypatch.setattr(clock, "now", lambda: then)
    assert TotpSecrets.matching_step(secret, code) == int(then) // 30


async def test_a_challenge_and_the_budget_run_on_the_clock(backend_urls, monkeypatch):
    then = 2_000_000_000.0
    monkeypatch.setattr(clock, "now", lambda: then)
    redis = redis_client(backend_urls)
    try:
        challenge = await Challenges(redis, ttl_seconds=300, max_attempts=5).open("u", ("pwd",), 1)
        assert challenge.expires_at == datetime.fromtimestamp(then + 300, UTC)
        user = secrets.token_hex(8)
        await SecondFactorBudget(redis).take(user)
        day_end = int(await redis.hget(budget_key(user), "day_end"))
        assert day_end == clock.now_ms() + 86_400_000
    finally:
        await redis.aclose()
