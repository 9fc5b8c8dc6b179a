"""authql on a Redis Cluster (REDIS_CLUSTER=true, REDIS_URL naming one seed node): a local
cluster of 3 primaries and 3 replicas (tests/redis_cluster.py), shared by this module.

The core, session, lockout, code and two-factor flows are the other modules' own tests,
run here again against the cluster (imported below: pytest runs them with this module's
fixtures). Redis Cluster refuses a script or transaction whose keys are in several slots
(CROSSSLOT), so each of them passing is a proof for the scripts it runs; the last test
lists the key families authql writes and finds every key the run left in one of them.
Then a primary is killed mid-run: requests fail fast with SERVICE_UNAVAILABLE, work
again once its replica takes over, and signed-in users stay signed in."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import Mailbox, serve, serve_app
from conftest import test_settings as settings_with
from flows import LOGIN, ME, PASSWORD, data, gql, new_email, register
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ClusterDownError, RedisClusterException
from redis_client import redis_client
from redis_cluster import RedisClusterNodes

# The other modules' flows, on the cluster.
from test_code_login import test_the_mailed_code_signs_in, test_wrong_codes_burn_the_flow  # noqa: F401
from test_lockout import (  # noqa: F401
    test_a_completed_password_reset_lifts_the_lockout,
    test_concurrent_wrong_guesses_verify_at_most_the_threshold,
)
from test_login_and_profile import (  # noqa: F401
    test_login_with_right_password_returns_auth_payload,
    test_me_accepts_only_valid_access_tokens,
    test_update_profile_changes_only_the_fields_sent,
)
from test_sessions import (  # noqa: F401
    test_change_password_keeps_only_the_current_session,
    test_logout_current_others_and_all,
    test_refresh_rotates_the_token_and_keeps_the_session,
    test_revoke_session_ends_own_sessions_and_hides_others,
)
from test_social_sign_in import (  # noqa: F401
    app,
    test_a_state_is_consumed_once,
    test_a_ticket_is_used_once,
)
from test_two_factor import (  # noqa: F401
    test_a_challenge_allows_five_attempts,
    test_enrol_confirm_login_verify_disable_cycle,
)

from schema.errors import failure_answer
from security.known_clients import KnownClients
from security.redis_epoch import RedisEpoch

pytestmark = pytest.mark.subprocess

LOGOUT = "mutation { logout { revokedSessions } }"
REFRESH = """mutation($token: String!) { refreshTokens(refreshToken: $token) {
  __typename ... on AuthPayload { accessToken refreshToken } } }"""

# Every key family authql writes in Redis, with the part in braces (the hash tag) that
# decides its slot. A script or transaction only ever names keys of one family's tag:
# `live-session` is under the user's tag, like `user-cache`, as the signed-in check reads both.
KEY_FAMILIES = {
    "user-cache": r"user-cache:\{(?P<tag>[0-9a-f]{24})\}",
    "live-session": r"live-session:\{(?P<tag>[0-9a-f]{24})\}:[0-9a-f]{24}",
    "code flow": r"(reg|reset|login|email-change):\{(?P<tag>[\w-]+)\}",
    "code start cooldown": r"(reg|reset|login|email-change):cooldown:\{(?P<tag>[0-9a-f]+)\}:[\w.:]+",
    "mails to an address": r"(reg|reset|login|email-change):address:\{(?P<tag>[0-9a-f]+)\}(:[\w.:]+)?",
    "mails from a client": r"mail-quota:client:\{(?P<tag>[\w.:]+)\}",
    "mails overall": r"mail-quota:\{(?P<tag>all)\}",
    "wrong codes": r"code-failures:(client:)?\{(?P<tag>[\w.:]+)\}(:[\w.:]+)?",
    "notices": r"notice-quota:\{(?P<tag>[0-9a-f]{24})\}",
    "notices sent once": r"notice-once:\{(?P<tag>[0-9a-f]{64})\}",
    "lockout": r"lockout:\{(?P<tag>[0-9a-f]+)\}(:.+)?",
    "second-factor challenge": r"2fa-challenge:\{(?P<tag>[0-9a-f]+)\}",
    "second-factor tries": r"2fa-tries:\w+:\{(?P<tag>[0-9a-f]{24})\}",
    "second-factor budget": r"2fa-(budget|warned):\{(?P<tag>[0-9a-f]{24})\}",
    "known clients": r"known-clients:\{(?P<tag>[0-9a-f]{24})\}",
    "social sign-in flow": r"social-flow:\{(?P<tag>[\w-]+)\}",
    "social sign-in ticket": r"social-ticket:\{(?P<tag>[0-9a-f]{64})\}",
    "passkey challenge": r"passkey-challenge:\{(?P<tag>[\w-]+)\}",
    "health probe": r"authql:health",
    "epoch marker (when Redis's data began), one per primary": r"authql:epoch:\{(?P<tag>\d+)\}",
    "per-IP limits (the limits library: one key per limit)": r"LIMITS:LIMITER/.+",
}


@pytest.fixture(scope="module")
def backend_urls(backend_urls: dict[str, str], redis_cluster: RedisClusterNodes) -> dict[str, str]:
    """The session's MongoDB and the cluster, as every test of this module sees them."""
    return {**backend_urls, "redis_url": redis_cluster.url, "redis_cluster": "true"}


@pytest.fixture(scope="module")
def settings(backend_urls: dict[str, str], mailbox: Mailbox):
    return settings_with(backend_urls, mailbox)


@pytest.fixture(scope="module")
async def client(settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client


def service_unavailable(body: dict[str, Any]) -> bool:
    errors = body.get("errors") or []
    return bool(errors) and all(error["extensions"]["code"] == "SERVICE_UNAVAILABLE" for error in errors)


async def test_two_workers_on_the_cluster_see_one_logout_at_once(settings, mailbox):
    async with serve(settings) as one, serve(settings) as two:
        signed_in = await register(one, mailbox)
        token = signed_in["accessToken"]
        assert (await data(two, ME, token=token))["id"] == signed_in["user"]["id"]
        assert (await data(one, LOGOUT, token=token))["revokedSessions"] == 1
        assert (await gql(two, ME, token=token))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_per_ip_limits_count_on_the_cluster(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, rate_limit_login="2/minute")) as client:
        email = new_email()
        answers = [await data(client, LOGIN, {"email": email, "password": PASSWORD}) for _ in range(3)]
        assert [answer["__typename"] for answer in answers] == ["InvalidCredentials"] * 2 + ["RateLimited"]


async def test_scripts_unknown_to_every_node_are_sent_again(client, mailbox, redis_cluster):
    """What a promoted replica or a restarted node is like: an empty script cache."""
    signed_in = await register(client, mailbox)
    cluster = RedisCluster.from_url(redis_cluster.url)
    try:
        await cluster.execute_command("SCRIPT", "FLUSH", target_nodes=RedisCluster.ALL_NODES)
    finally:
        await cluster.aclose()
    assert (await data(client, ME, token=signed_in["accessToken"]))["id"] == signed_in["user"]["id"]
    again = await data(client, LOGIN, {"email": signed_in["user"]["email"], "password": PASSWORD})
    assert again["__typename"] == "AuthPayload"


def test_cluster_errors_are_outages_and_a_cross_slot_call_is_a_bug():
    assert failure_answer(ClusterDownError("CLUSTERDOWN The cluster is down"))[0] == "SERVICE_UNAVAILABLE"
    assert failure_answer(RedisClusterException("No cluster node reachable"))[0] == "SERVICE_UNAVAILABLE"
    crossed = RedisClusterException("Keys in request don't hash to the same slot")
    assert failure_answer(crossed)[0] == "INTERNAL_SERVER_ERROR"


async def test_a_killed_primary_is_an_outage_then_over_and_nobody_is_signed_out(
    settings, mailbox, redis_cluster
):
    async with serve_app(settings) as (client, server):
        signed_in = await register(client, mailbox)
        token, user_id = signed_in["accessToken"], signed_in["user"]["id"]
        others = [await register(client, mailbox) for _ in range(3)]
        cluster: RedisCluster = server.state.services.redis  # type: ignore[assignment]
        victim = cluster.get_node_from_key(f"user-cache:{{{user_id}}}")
        redis_cluster.kill(victim.port)
        killed = time.monotonic()

        answers: list[str] = []
        while True:
            started = time.monotonic()
            body = await gql(client, ME, token=token)
            took = time.monotonic() - started
            assert took < 2 * settings.backend_timeout_seconds + 1, f"an answer took {took:.1f} s"
            if not body.get("errors"):
                break
            assert service_unavailable(body), body  # never INTERNAL_SERVER_ERROR
            answers.append("unavailable")
            ready = await client.get("/health/ready")
            assert ready.status_code in (200, 503)
            assert time.monotonic() - killed < 20, "the replica never took over"
            await asyncio.sleep(0.1)
        recovered = time.monotonic() - killed

        # Signed in throughout: the replica had the session's key and the user's stamp.
        assert body["data"]["me"]["id"] == user_id
        for other in others:
            assert (await data(client, ME, token=other["accessToken"]))["id"] == other["user"]["id"]
        refreshed = await data(client, REFRESH, {"token": signed_in["refreshToken"]})
        assert refreshed["__typename"] == "AuthPayload"
        again = await data(client, LOGIN, {"email": signed_in["user"]["email"], "password": PASSWORD})
        assert again["__typename"] == "AuthPayload"
        await wait_ready(client)
        print(f"primary killed: {len(answers)} SERVICE_UNAVAILABLE answers, served after {recovered:.1f} s")

    await asyncio.to_thread(redis_cluster.rejoin, victim.port)


async def test_a_slot_moved_mid_run_is_followed_and_nobody_is_signed_out(settings, mailbox, redis_cluster):
    """Resharding: the slot of a signed-in user's keys moves to another primary while the
    user keeps calling (ASK redirects while it moves, MOVED after). Every answer is the
    user, or at worst SERVICE_UNAVAILABLE while a script's keys are split (TRYAGAIN)."""
    async with serve_app(settings) as (client, served):
        signed_in = await register(client, mailbox)
        token, user_id = signed_in["accessToken"], signed_in["user"]["id"]
        cluster: RedisCluster = served.state.services.redis  # type: ignore[assignment]
        slot = cluster.keyslot(f"user-cache:{{{user_id}}}")
        source = cluster.get_node_from_key(f"user-cache:{{{user_id}}}")
        target = next(node for node in cluster.get_primaries() if node.name != source.name)
        async with (
            Redis(host=source.host, port=source.port) as from_node,
            Redis(host=target.host, port=target.port) as to_node,
        ):
            source_id = (await from_node.execute_command("CLUSTER", "MYID")).decode()
            target_id = (await to_node.execute_command("CLUSTER", "MYID")).decode()
            await to_node.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            await from_node.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            answers = [await gql(client, ME, token=token)]
            while keys := await from_node.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1):
                await from_node.execute_command(
                    "MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys
                )
                answers.append(await gql(client, ME, token=token))
            for node in cluster.get_primaries():
                async with Redis(host=node.host, port=node.port) as primary:
                    await primary.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        answers += [await gql(client, ME, token=token) for _ in range(3)]

        for body in answers:
            assert not body.get("errors") or service_unavailable(body), body
        assert answers[-1]["data"]["me"]["id"] == user_id
        assert cluster.get_node_from_key(f"user-cache:{{{user_id}}}").name == target.name
        refreshed = await data(client, REFRESH, {"token": signed_in["refreshToken"]})
        assert (await data(client, ME, token=refreshed["accessToken"]))["id"] == user_id
        assert (await data(client, LOGOUT, token=refreshed["accessToken"]))["revokedSessions"] == 1
        assert (await gql(client, ME, token=refreshed["accessToken"]))["errors"][0]["extensions"]["code"] == (
            "UNAUTHENTICATED"
        )


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 10
    while (await client.get("/health/ready")).status_code != 200:
        assert time.monotonic() < deadline, "/health/ready never came back"
        await asyncio.sleep(0.1)


async def test_a_transaction_first_leaves_the_client_working(backend_urls):
    """A client whose first command is a transaction (a process started while the cluster
    was unreachable; or any client after a failover flagged its slot map for a rebuild):
    redis-py would build the slot map on a loop that dies at once, and every command after
    would fail (security/cluster_client.py)."""
    redis = redis_client(backend_urls)
    try:
        user = secrets.token_hex(12)
        assert await KnownClients(redis, key=b"k" * 32).remember(user, "198.51.100.7") is True
        keys = [f"known-clients:{{{secrets.token_hex(12)}}}" for _ in range(12)]  # on every primary
        for key in keys:
            await redis.sadd(key, "x")
        assert await redis.delete(*keys) == len(keys)
        assert await KnownClients(redis, key=b"k" * 32).remember(user, "198.51.100.7") is False
    finally:
        await redis.aclose()


async def test_a_new_process_answers_its_first_burst_of_requests(settings):
    """Thirty requests at once on a process just started, each counted by the per-IP
    document limit: every one answered as usual (the limits' cluster client is ready
    before the first: security/rate_limits.py)."""
    async with serve(settings) as client:
        answers = await asyncio.gather(*(gql(client, ME, token="not-a-token") for _ in range(30)))
    assert [answer["errors"][0]["extensions"]["code"] for answer in answers] == ["UNAUTHENTICATED"] * 30


async def test_every_key_written_is_in_a_listed_family(redis_cluster):
    """Runs after the flows: every flow above has written its keys by now."""
    families = [re.compile(pattern) for pattern in KEY_FAMILIES.values()]
    cluster = RedisCluster.from_url(redis_cluster.url, decode_responses=True)
    try:
        keys = [key async for key in cluster.scan_iter(count=1000)]
    finally:
        await cluster.aclose()
    assert len(keys) > 20
    strays = [key for key in keys if not any(family.fullmatch(key) for family in families)]
    assert strays == []
    for name in ("user-cache", "live-session", "lockout", "mails to an address", "wrong codes"):
        assert any(re.fullmatch(KEY_FAMILIES[name], key) for key in keys), f"no {name} key was written"


async def test_a_shard_that_lost_its_data_alone_gives_no_fresh_guesses(backend_urls, mailbox):
    """Last: it empties a shard, after the key census above. One primary's data lost
    (FLUSHALL on it, its replica following), the other shards' kept: that shard's own epoch
    marker went with it, so the lockout it held is rebuilt from MongoDB. A single marker on
    another shard would not have told (security/redis_epoch.py)."""
    redis = redis_client(backend_urls)
    try:
        markers = await RedisEpoch(redis, horizon_seconds=86_400, recheck_seconds=1).markers()
        primaries = {node.name for node in redis.get_primaries()}
        assert {redis.get_node_from_key(key).name for key in markers} == primaries  # one each
        for key in markers:  # Redis's data began two days ago: trusted alone, MongoDB not read
            await redis.set(key, repr(time.time() - 2 * 86_400))
        settings = settings_with(backend_urls, mailbox, login_lockout_threshold=5, redis_watch_seconds=0.5)
        async with serve(settings) as client:
            email = (await register(client, mailbox))["user"]["email"]
            before = {key async for key in redis.scan_iter(match="lockout:*")}
            answers = [
                (await data(client, LOGIN, {"email": email, "password": f"wrong {n}"}))["__typename"]
                for n in range(6)
            ]
            assert answers == ["InvalidCredentials"] * 5 + ["RateLimited"]
            locks = {key async for key in redis.scan_iter(match="lockout:*")} - before
            (shard,) = {redis.get_node_from_key(key) for key in locks}  # one hash tag: one shard
            async with Redis(host=shard.host, port=shard.port) as primary:
                await primary.flushall()
            assert not [key async for key in redis.scan_iter(match="lockout:*") if key in locks]
            await asyncio.sleep(0.6)  # the app reads the markers again within REDIS_WATCH_SECONDS
            for password in ("wrong again", PASSWORD):
                answer = await data(client, LOGIN, {"email": email, "password": password})
                assert answer["__typename"] == "RateLimited", answer
    finally:
        await redis.aclose()
