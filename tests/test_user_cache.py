"""The signed-in user kept in process (security/user_cache.py) never outlives a change.

Two real uvicorn processes on the same Redis and MongoDB stand for two workers: every
change is made through one and read through the other at once, with the reader's copy
warmed first. Outages on the hot path fail fast and heal; a user kept in process is
served while MongoDB is down, never while Redis is (Redis says whether it still holds).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from bson import ObjectId
from conftest import serve
from conftest import (
    test_settings as settings_with,  # renamed so pytest does not collect it
)
from flows import AUTH, ME, PASSWORD, UPDATE_PROFILE, data, gql, register
from pymongo import AsyncMongoClient
from redis_client import redis_client
from served import served, served_settings

from embedded import start_mongo, start_redis

pytestmark = pytest.mark.subprocess

NEW_PASSWORD = "a brand new horse battery"
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{ __typename {AUTH} }} }}"""
LOGOUT_ALL = "mutation { logout(scope: ALL) { revokedSessions } }"
DELETE_ACCOUNT = """mutation($password: String!) { deleteAccount(password: $password) {
  __typename ... on AccountDeleted { id } } }"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ __typename {AUTH} }} }}"""


@pytest.fixture(scope="module")
async def workers(
    backend_urls: dict[str, str], mailbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Clients of two processes serving one deployment (one Redis, one database)."""
    settings = settings_with(backend_urls, mailbox)
    logs = tmp_path_factory.mktemp("workers")
    async with (
        served(settings, logs / "a.log") as url_a,
        served(settings, logs / "b.log") as url_b,
        httpx.AsyncClient(base_url=url_a, timeout=10) as a,
        httpx.AsyncClient(base_url=url_b, timeout=10) as b,
    ):
        yield a, b


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    return await gql(client, ME, token=token)


async def warm(client: httpx.AsyncClient, token: str) -> None:
    """A few reads: the second and later are answered from the process's copy."""
    for _ in range(3):
        body = await me(client, token)
        assert not body.get("errors"), body


def unauthenticated(body: dict[str, Any]) -> bool:
    return body.get("data") is None and [e["extensions"]["code"] for e in body.get("errors", [])] == [
        "UNAUTHENTICATED"
    ]


async def test_a_profile_update_on_one_worker_shows_at_once_on_the_other(workers, mailbox):
    a, b = workers
    token = (await register(a, mailbox))["accessToken"]
    for round_ in range(15):
        await warm(b, token)
        name = f"King{round_}"
        # Readers on B race the update on A; once it has answered, B must show it.
        readers = [asyncio.create_task(me(b, token)) for _ in range(8)]
        updated = await data(a, UPDATE_PROFILE, {"input": {"lastName": name}}, token=token)
        assert updated["user"]["lastName"] == name
        await asyncio.gather(*readers)
        after = await asyncio.gather(*(me(b, token) for _ in range(4)))
        assert [body["data"]["me"]["lastName"] for body in after] == [name] * 4, after


async def test_a_password_change_on_one_worker_refuses_the_old_token_on_the_other(workers, mailbox):
    a, b = workers
    old = (await register(a, mailbox))["accessToken"]
    await warm(b, old)
    changed = await data(a, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token=old)
    assert changed["__typename"] == "AuthPayload", changed
    # The current session lives on (rotated): only the credential version refuses the old token.
    assert unauthenticated(await me(b, old))
    assert not (await me(b, changed["accessToken"])).get("errors")


async def test_logout_everywhere_and_deletion_on_one_worker_refuse_at_once_on_the_other(workers, mailbox):
    a, b = workers
    registered = await register(a, mailbox)
    token = registered["accessToken"]
    await warm(b, token)
    assert (await data(a, LOGOUT_ALL, token=token))["revokedSessions"] >= 1
    assert unauthenticated(await me(b, token))

    signed_in = await data(a, LOGIN, {"email": registered["user"]["email"], "password": PASSWORD})
    token = signed_in["accessToken"]
    await warm(b, token)
    deleted = await data(a, DELETE_ACCOUNT, {"password": PASSWORD}, token=token)
    assert deleted["__typename"] == "AccountDeleted", deleted
    assert unauthenticated(await me(b, token))


async def test_a_stamp_lost_by_redis_or_a_write_left_half_done_never_serves_an_old_copy(
    workers, mailbox, backend_urls
):
    """Redis drops the user's stamp (eviction), or a process dies between its MongoDB write
    and its second stamp: the copies kept so far must not be served."""
    a, b = workers
    registered = await register(a, mailbox)
    token, user_id = registered["accessToken"], registered["user"]["id"]
    settings = settings_with(backend_urls, mailbox)
    key = f"user-cache:{{{user_id}}}"
    async with redis_client(served_settings(settings)) as redis:
        await warm(b, token)
        await redis.delete(key)
        await data(a, UPDATE_PROFILE, {"input": {"lastName": "Evicted"}}, token=token)
        assert (await me(b, token))["data"]["me"]["lastName"] == "Evicted"

        await warm(b, token)
        # What a process that died mid-write leaves: its write counted in flight, the
        # document changed, no second stamp.
        await redis.hincrby(key, "pending", 1)
        mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"])
        try:
            users = mongo[settings.mongo_db]["users"]
            await users.update_one({"_id": ObjectId(user_id)}, {"$set": {"last_name": "Crashed"}})
        finally:
            await mongo.close()
        for _ in range(3):
            assert (await me(b, token))["data"]["me"]["lastName"] == "Crashed"


async def test_mongo_down_a_kept_user_is_still_served_and_others_fail_fast(backend_urls, mailbox, tmp_path):
    """No MongoDB round trip on the hot path: a signed-in user already kept is answered
    while MongoDB is down (Redis still vouches for the session and the copy); one not kept
    gets SERVICE_UNAVAILABLE at once; all heals when MongoDB is back."""
    mongo = start_mongo(tmp_path)
    port = int(mongo.url.rsplit(":", 1)[1])
    try:
        async with serve(settings_with(backend_urls, mailbox, mongo_url=mongo.url)) as client:
            kept = (await register(client, mailbox))["accessToken"]
            cold = (await register(client, mailbox))["accessToken"]
            await warm(client, kept)

            mongo.stop()
            began = asyncio.get_running_loop().time()
            assert (await me(client, kept))["data"]["me"]["lastName"] == "Lovelace"
            body = await me(client, cold)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
            assert asyncio.get_running_loop().time() - began < 8

            mongo = start_mongo(tmp_path, port=port)
            for _ in range(100):
                if not (await me(client, cold)).get("errors"):
                    break
                await asyncio.sleep(0.2)
            assert (await me(client, cold))["data"]["me"]["lastName"] == "Lovelace"
    finally:
        mongo.stop()


@pytest.mark.parametrize("kept", [True, False])
async def test_redis_down_the_hot_path_fails_fast_even_for_a_kept_user_and_recovers(
    backend_urls, mailbox, tmp_path, kept
):
    """Redis alone says whether a session is live and a copy current: with Redis down
    nothing is served from the process's copy."""
    redis = start_redis(tmp_path)
    port = int(redis.url.rsplit(":", 1)[1].split("/")[0])
    try:
        async with serve(settings_with(backend_urls, mailbox, redis_url=redis.url)) as client:
            token = (await register(client, mailbox, email=f"r-{secrets.token_hex(4)}@example.com"))[
                "accessToken"
            ]
            if kept:
                await warm(client, token)
            redis.stop()
            began = asyncio.get_running_loop().time()
            body = await me(client, token)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
            assert asyncio.get_running_loop().time() - began < 5

            # The embedded Redis keeps its data on disk: the session's key comes back with it.
            redis = start_redis(tmp_path, port=port)
            for _ in range(100):
                if not (await me(client, token)).get("errors"):
                    break
                await asyncio.sleep(0.1)
            assert (await me(client, token))["data"]["me"]["lastName"] == "Lovelace"
    finally:
        redis.stop()
