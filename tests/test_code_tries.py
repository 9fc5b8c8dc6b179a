"""CodeTries (the codes a TOTP enrolment may try) is a windowed counter
(security/counters.py): counted before the compare, in a window opened by the first try
and never stretched by later ones, ended by a right code."""

from __future__ import annotations

import secrets

from redis_client import redis_client

from security.counters import WindowedCounters
from security.two_factor import CodeTries


async def test_tries_count_down_past_zero_in_one_window_the_first_try_opened(backend_urls):
    redis = redis_client(backend_urls)
    try:
        tries = CodeTries(redis, tries=5, window_seconds=600)
        user = secrets.token_hex(8)
        left, ttl = await tries.take("confirm", user)
        assert (left, 590 <= ttl <= 600) == (4, True)
        key = f"2fa-tries:confirm:{{{user}}}"
        await redis.expire(key, 7)  # the window is nearly over: later tries must not stretch it
        answers = [await tries.take("confirm", user) for _ in range(5)]
        assert [left for left, _ in answers] == [3, 2, 1, 0, -1]
        assert all(ttl <= 7 for _, ttl in answers), answers
        assert (await WindowedCounters(redis).peek(key)).value == 6
        assert (await tries.take("other", user))[0] == 4  # per purpose
    finally:
        await redis.aclose()


async def test_a_right_code_ends_the_window(backend_urls):
    redis = redis_client(backend_urls)
    try:
        tries = CodeTries(redis, tries=5, window_seconds=600)
        user = secrets.token_hex(8)
        for _ in range(6):
            await tries.take("confirm", user)
        await tries.reset("confirm", user)
        assert await redis.exists(f"2fa-tries:confirm:{{{user}}}") == 0
        left, ttl = await tries.take("confirm", user)
        assert (left, 590 <= ttl <= 600) == (4, True)
    finally:
        await redis.aclose()
