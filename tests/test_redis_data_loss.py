"""Redis restarted empty (no persistence, a lost disk) in the middle of an attack: the
lockout, the per-address code quotas and refresh-token reuse detection go on as before,
from the counts kept in MongoDB (security/durable_counts.py) and the epoch marker that
says Redis's data is young (security/redis_epoch.py). And the start-up warning for a
Redis that would lose data or evict keys."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import serve
from conftest import test_settings as settings_with
from flows import LOGIN, PASSWORD, START, VERIFY, data, new_email, register
from pymongo import AsyncMongoClient

from embedded import EmbeddedService, start_redis
from security import clock
from security.durable_counts import DurableCounts

pytestmark = pytest.mark.subprocess

THRESHOLD = 5
REFRESH = """mutation($token: String!) { refreshTokens(refreshToken: $token) {
  __typename ... on AuthPayload { accessToken refreshToken } } }"""


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[list[EmbeddedService]]:
    """A redis-server of this test's own, in a list so a restart can replace it."""
    holder = [start_redis(tmp_path)]
    try:
        yield holder
    finally:
        holder[0].stop()


def restart_empty(holder: list[EmbeddedService]) -> None:
    """Stop Redis, lose its files, start it again on the same port: what a restart
    without persistence (or on a new disk) does."""
    service = holder[0]
    port = int(service.url.rsplit(":", 1)[1].split("/")[0])
    service.process.kill()
    service.process.wait()
    data_dir = Path(service.log_path).parent.parent
    shutil.rmtree(data_dir / "redis" / "redis", ignore_errors=True)
    holder[0] = start_redis(data_dir, port)


async def login(client: Any, email: str, password: str) -> str:
    return (await data(client, LOGIN, {"email": email, "password": password}))["__typename"]


async def test_a_redis_restarted_empty_mid_lockout_gives_no_fresh_guesses(
    backend_urls, mailbox, private_redis
):
    settings = settings_with(
        backend_urls, mailbox, redis_url=private_redis[0].url, login_lockout_threshold=THRESHOLD
    )
    async with serve(settings) as client:
        email = (await register(client, mailbox))["user"]["email"]
        guesses = [await login(client, email, f"wrong guess {n}") for n in range(THRESHOLD + 1)]
        assert guesses == ["InvalidCredentials"] * THRESHOLD + ["RateLimited"]

        restart_empty(private_redis)

        # Locked still: neither a guess nor the right password is checked.
        assert await login(client, email, "wrong guess again") == "RateLimited"
        assert await login(client, email, PASSWORD) == "RateLimited"


async def test_a_redis_restarted_empty_keeps_the_failures_short_of_a_lock(
    backend_urls, mailbox, private_redis
):
    settings = settings_with(
        backend_urls, mailbox, redis_url=private_redis[0].url, login_lockout_threshold=THRESHOLD
    )
    async with serve(settings) as client:
        email = (await register(client, mailbox))["user"]["email"]
        assert [await login(client, email, f"wrong {n}") for n in range(THRESHOLD - 1)] == [
            "InvalidCredentials"
        ] * (THRESHOLD - 1)
        restart_empty(private_redis)
        # One guess left before the lock, as before the restart.
        assert await login(client, email, "wrong once more") == "InvalidCredentials"
        assert await login(client, email, "and again") == "RateLimited"


async def test_a_redis_restarted_empty_keeps_the_per_address_mail_quota(backend_urls, mailbox, private_redis):
    settings = settings_with(
        backend_urls, mailbox, redis_url=private_redis[0].url, codes_per_address_per_hour=2
    )
    async with serve(settings) as client:
        email = new_email()
        answers = [(await data(client, START, {"email": email}))["__typename"] for _ in range(2)]
        assert answers == ["RegistrationStarted"] * 2
        restart_empty(private_redis)
        assert (await data(client, START, {"email": email}))["__typename"] == "RateLimited"
        assert (await data(client, START, {"email": new_email()}))["__typename"] == "RegistrationStarted"


async def test_a_redis_restarted_empty_still_catches_a_reused_refresh_token(
    backend_urls, mailbox, private_redis
):
    """Reuse detection lives in MongoDB (the session's token hashes): Redis holds none of it."""
    settings = settings_with(
        backend_urls, mailbox, redis_url=private_redis[0].url, refresh_reuse_grace_seconds=0
    )
    async with serve(settings) as client:
        signed_in = await register(client, mailbox)
        rotated = await data(client, REFRESH, {"token": signed_in["refreshToken"]})
        assert rotated["__typename"] == "AuthPayload"
        restart_empty(private_redis)
        assert (await data(client, REFRESH, {"token": signed_in["refreshToken"]}))[
            "__typename"
        ] != "AuthPayload"
        # The reuse ended the session: the thief's copy and the owner's current token both.
        assert (await data(client, REFRESH, {"token": rotated["refreshToken"]}))[
            "__typename"
        ] != "AuthPayload"


async def test_a_redis_that_may_lose_data_is_named_at_start(backend_urls, mailbox, tmp_path, caplog):
    forgetful = start_redis(tmp_path)
    try:
        settings = settings_with(backend_urls, mailbox, redis_url=forgetful.url)
        async with serve(settings):
            pass
        assert not [record for record in caplog.records if "Redis" in record.getMessage()]

        caplog.clear()
        from redis.asyncio import Redis  # noqa: PLC0415

        async with Redis.from_url(forgetful.url) as redis:
            await redis.config_set("appendonly", "no")
            await redis.config_set("maxmemory-policy", "allkeys-lru")
        with caplog.at_level(logging.WARNING, logger="authql"):
            async with serve(settings):
                pass
        warnings = " ".join(
            record.getMessage() for record in caplog.records if record.levelno == logging.WARNING
        )
        assert "no persistence" in warnings
        assert "allkeys-lru" in warnings
    finally:
        forgetful.stop()


async def test_a_redis_whose_data_began_over_a_day_ago_is_not_young(private_redis):
    """Past the longest window, Redis holds every count there is: MongoDB's are not read."""
    import time  # noqa: PLC0415

    from redis.asyncio import Redis  # noqa: PLC0415

    from security.redis_epoch import EPOCH_KEY, RedisEpoch  # noqa: PLC0415

    async with Redis.from_url(private_redis[0].url) as redis:
        epoch = RedisEpoch(redis, horizon_seconds=86_400, recheck_seconds=5)
        assert await epoch.young()  # the marker was just written: a first day reads as young
        await redis.set(EPOCH_KEY, repr(time.time() - 86_401))
        epoch.forget()
        assert not await epoch.young()
        await redis.flushall()  # data lost without a restart: seen at the next read
        epoch.forget()
        assert await epoch.young()


async def test_a_redis_restarted_empty_keeps_the_wrong_codes_and_not_the_right_one(
    backend_urls, mailbox, private_redis
):
    """Wrong codes reach MongoDB after the compare (a right one writes nothing there): a
    Redis restarted empty still knows them, and the right code was not counted."""
    settings = settings_with(
        backend_urls, mailbox, redis_url=private_redis[0].url, code_failures_per_address_per_day=5
    )
    async with serve(settings) as client:
        email = new_email()
        first = (await data(client, START, {"email": email}))["registrationId"]
        code = await mailbox.code_for(email)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(3):
            answer = await data(client, VERIFY, {"id": first, "code": wrong})
            assert answer["__typename"] == "InvalidCode", answer
        assert (await data(client, VERIFY, {"id": first, "code": code}))[
            "__typename"
        ] == "RegistrationVerified"
        restart_empty(private_redis)
        # 3 wrong codes kept, the right one not counted: one more wrong code is allowed...
        second = (await data(client, START, {"email": email}))["registrationId"]
        assert (await data(client, VERIFY, {"id": second, "code": wrong}))["__typename"] == "InvalidCode"
        third = (await data(client, START, {"email": email}))["registrationId"]
        assert (await data(client, VERIFY, {"id": third, "code": wrong}))["__typename"] == "InvalidCode"
        # ...and with the fifth this client's wrong codes at the address are spent.
        assert (await data(client, START, {"email": email}))["__typename"] == "RateLimited"


async def test_a_durable_count_opens_counts_and_reopens_its_window(backend_urls):
    """The MongoDB copy of a count: made by the first count (one upsert), counted on in its
    window, started again once the window has closed, and refunded only within it."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"])
    collection = client["authql_durable_" + new_email().split("@")[0]]["counts"]
    counts = DurableCounts(collection)
    try:
        await counts.add("key", 60)
        await counts.add("key", 60, 2)
        [kept] = (await counts.read(["key"])).values()
        assert kept.count == 3 and kept.window_end_ms > clock.now_ms() + 50_000
        await collection.update_one({"_id": "key"}, {"$set": {"window_end_ms": clock.now_ms() - 1}})
        await counts.add("key", 0, -1)  # a refund after the window: nothing to give back
        assert await counts.read(["key"]) == {}
        await counts.add("key", 60)
        [kept] = (await counts.read(["key"])).values()
        assert kept.count == 1 and kept.window_end_ms > clock.now_ms() + 50_000
    finally:
        await collection.drop()
        await client.close()
