"""authql behind Redis Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_MASTER): a primary, a
replica and three sentinels (tests/redis_sentinel.py), shared by this module. The core,
session, lockout, code and two-factor flows are the other modules' own tests, run here
again; then the primary is killed: requests fail fast with SERVICE_UNAVAILABLE until the
sentinels promote the replica, then work, and signed-in users stay signed in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import Mailbox, serve, serve_app
from conftest import test_settings as settings_with
from flows import LOGIN, ME, PASSWORD, data, gql, register
from redis_sentinel import MASTER, RedisSentinels
from test_code_login import test_the_mailed_code_signs_in  # noqa: F401
from test_lockout import test_concurrent_wrong_guesses_verify_at_most_the_threshold  # noqa: F401
from test_login_and_profile import test_me_accepts_only_valid_access_tokens  # noqa: F401
from test_redis_cluster import REFRESH, service_unavailable, wait_ready
from test_sessions import (  # noqa: F401
    test_logout_current_others_and_all,
    test_refresh_rotates_the_token_and_keeps_the_session,
)
from test_two_factor import test_enrol_confirm_login_verify_disable_cycle  # noqa: F401

pytestmark = pytest.mark.subprocess


@pytest.fixture(scope="module")
def backend_urls(backend_urls: dict[str, str], redis_sentinel: RedisSentinels) -> dict[str, str]:
    return {
        **backend_urls,
        "redis_url": redis_sentinel.url,
        "redis_cluster": False,  # a cluster run too: this module's Redis is its own
        "redis_sentinels": redis_sentinel.sentinels,
        "redis_sentinel_master": MASTER,
    }


@pytest.fixture(scope="module")
def settings(backend_urls: dict[str, str], mailbox: Mailbox):
    return settings_with(backend_urls, mailbox)


@pytest.fixture(scope="module")
async def client(settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client


async def test_the_primary_fails_over_and_nobody_is_signed_out(settings, mailbox, redis_sentinel):
    async with serve_app(settings) as (client, _):
        signed_in = await register(client, mailbox)
        token = signed_in["accessToken"]
        old_primary = redis_sentinel.primary()
        redis_sentinel.kill(old_primary)
        killed = time.monotonic()

        unavailable = 0
        while True:
            started = time.monotonic()
            body = await gql(client, ME, token=token)
            took = time.monotonic() - started
            assert took < 2 * settings.backend_timeout_seconds + 1, f"an answer took {took:.1f} s"
            if not body.get("errors"):
                break
            assert service_unavailable(body), body  # never INTERNAL_SERVER_ERROR
            unavailable += 1
            assert time.monotonic() - killed < 30, "the sentinels never promoted the replica"
            await asyncio.sleep(0.1)
        recovered = time.monotonic() - killed
        assert redis_sentinel.primary() != old_primary

        assert body["data"]["me"]["id"] == signed_in["user"]["id"]
        assert (await data(client, REFRESH, {"token": signed_in["refreshToken"]}))[
            "__typename"
        ] == "AuthPayload"
        again = await data(client, LOGIN, {"email": signed_in["user"]["email"], "password": PASSWORD})
        assert again["__typename"] == "AuthPayload"
        await wait_ready(client)
        print(f"primary killed: {unavailable} answers SERVICE_UNAVAILABLE, served after {recovered:.1f} s")

    await asyncio.to_thread(redis_sentinel.rejoin, old_primary)


def test_sentinels_need_their_primary_name_and_exclude_a_cluster(backend_urls, mailbox):
    with pytest.raises(ValueError, match="go together"):
        settings_with(backend_urls, mailbox, redis_sentinel_master=None)
    with pytest.raises(ValueError, match="not both"):
        settings_with(backend_urls, mailbox, redis_cluster=True)
    with pytest.raises(ValueError, match="redis_sentinels"):
        settings_with(backend_urls, mailbox, redis_sentinels="no-port-here")
