"""The user snapshot in Redis (security/user_snapshot.py, security/user_cache.py): a worker
that has not kept the user serves `me` from the session check's own script call, with no
MongoDB read, and never serves what a write on another worker made stale.

Two apps on one Redis and one MongoDB stand for two workers behind a load balancer without
sticky sessions: A signs the user in and reads (which leaves the snapshot), B has never
seen the user. MongoDB reads are counted by pymongo's command monitoring, per collection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jwt
import orjson
import pyotp
import pytest
from admin import ADMIN_KEY, DISABLE_USER, admin_data
from conftest import TOTP_NOW, serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import AUTH, LOGIN, PASSWORD, PROBLEM, UPDATE_PROFILE, data, gql, register
from pymongo import monitoring
from starlette.applications import Starlette

from documents.user import User
from embedded import start_mongo, start_redis
from security.user_cache import SNAPSHOT
from security.user_snapshot import MAX_BYTES, read_snapshot, snapshot_of

NEW_PASSWORD = "a brand new horse battery"
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{ __typename {AUTH} {PROBLEM} }} }}"""
LOGOUT_ALL = "mutation { logout(scope: ALL) { revokedSessions } }"
DELETE_ACCOUNT = """mutation($password: String!) { deleteAccount(password: $password) {
  __typename ... on AccountDeleted { id } } }"""
ENROLL = """mutation($password: String!) { enrollTotp(password: $password) { __typename
  ... on TotpEnrollment { secret } } }"""
CONFIRM = """mutation($code: String!) { confirmTotp(code: $code) { __typename
  ... on TotpEnabled { recoveryCodes } } }"""
DISABLE_TOTP = f"""mutation($password: String!, $code: String!) {{
  disableTotp(password: $password, code: $code) {{ __typename
  ... on TotpDisabled {{ user {{ twoFactorEnabled }} }} {PROBLEM} }} }}"""
REFRESH = f"""mutation($token: String!) {{ refreshTokens(refreshToken: $token) {{ __typename {AUTH} }} }}"""
ME_ALL = """query { me { id email firstName lastName phone createdAt updatedAt
  twoFactorEnabled recoveryCodesLeft hasPassword roles } }"""
# The collections the signed-in read would touch.
READ_BY_ME = ("users", "sessions")


class MongoCommands(monitoring.CommandListener):
    """Every command this process sends to the users and sessions collections."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if target in READ_BY_ME:
            self.seen.append((event.command_name, str(target)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    @contextmanager
    def counting(self) -> Iterator[list[tuple[str, str]]]:
        """The commands sent inside the block."""
        began = len(self.seen)
        found: list[tuple[str, str]] = []
        try:
            yield found
        finally:
            found.extend(self.seen[began:])


@pytest.fixture(scope="module")
def mongo_commands() -> MongoCommands:
    """Registered before the module's apps open their MongoDB clients (pymongo applies a
    listener to clients made afterwards)."""
    listener = MongoCommands()
    monitoring.register(listener)
    return listener


@pytest.fixture(scope="module")
async def workers(
    backend_urls: dict[str, str], mailbox: Any, mongo_commands: MongoCommands
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette, httpx.AsyncClient, Starlette]]:
    """Two apps serving one deployment: A's client and app, B's client and app."""
    settings = settings_with(backend_urls, mailbox, admin_api_key=ADMIN_KEY)
    async with serve_app(settings) as (a, app_a), serve_app(settings) as (b, app_b):
        yield a, app_a, b, app_b


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    return await gql(client, ME_ALL, token=token)


async def signed_in_on_a(a: httpx.AsyncClient, mailbox: Any) -> dict[str, Any]:
    """A new account, read on A until A has left its snapshot (the stamp is set by the first
    read, the snapshot by the first read under it)."""
    registered = await register(a, mailbox)
    for _ in range(3):
        assert not (await me(a, registered["accessToken"])).get("errors")
    return registered


async def served_by_snapshot(
    b: httpx.AsyncClient, app_b: Starlette, token: str, commands: MongoCommands
) -> dict[str, Any]:
    """`me` on B, which keeps nothing of the user: answered with no MongoDB command."""
    app_b.state.services.users.forget_all()
    app_b.state.services.sessions.forget_confirmed()
    with commands.counting() as sent:
        body = await me(b, token)
    assert not body.get("errors"), body
    assert sent == [], f"B read MongoDB: {sent}"
    return body


def unauthenticated(body: dict[str, Any]) -> bool:
    return body.get("data") is None and [e["extensions"]["code"] for e in body.get("errors", [])] == [
        "UNAUTHENTICATED"
    ]


def stamp_key(user_id: str) -> str:
    return f"user-cache:{{{user_id}}}"


async def test_a_worker_that_never_saw_the_user_answers_me_with_no_mongodb_read(
    workers, mailbox, mongo_commands
):
    a, _, b, app_b = workers
    registered = await signed_in_on_a(a, mailbox)
    token = registered["accessToken"]
    on_a = await me(a, token)
    on_b = await served_by_snapshot(b, app_b, token, mongo_commands)
    assert on_b == on_a  # every field, the datetimes to the millisecond
    # A's mark on the session's key holds on B too, until it is as old as KEPT_TRUST_SECONDS:
    # B's next reads need not ask Redis's clock for it either.
    session_id = jwt.decode(token, options={"verify_signature": False})["sid"]
    assert app_b.state.services.sessions.confirmed_here(session_id)
    # B keeps what it was served: its next read needs no snapshot either.
    with mongo_commands.counting() as sent:
        assert await me(b, token) == on_a
    assert sent == []


async def test_mongodb_down_a_worker_that_never_saw_the_user_still_answers_me(
    backend_urls, mailbox, tmp_path
):
    """The plainest proof of no MongoDB round trip: MongoDB is not there at all."""
    mongo = start_mongo(tmp_path)
    port = int(mongo.url.rsplit(":", 1)[1])
    try:
        settings = settings_with(backend_urls, mailbox, mongo_url=mongo.url)
        async with serve_app(settings) as (a, _), serve_app(settings) as (b, _):
            registered = await signed_in_on_a(a, mailbox)
            token = registered["accessToken"]
            expected = await me(a, token)
            # Two apps in one process share Beanie's binding: B takes it back (endpoints/middleware.py
            # Front) with a request that reads nothing, while MongoDB is still there.
            assert (await gql(b, "{ __typename }"))["data"] == {"__typename": "Query"}
            mongo.stop()
            assert await me(b, token) == expected
            mongo = start_mongo(tmp_path, port=port)
    finally:
        mongo.stop()


async def test_a_profile_change_on_a_is_served_at_once_by_b(workers, mailbox, mongo_commands):
    a, _, b, app_b = workers
    token = (await signed_in_on_a(a, mailbox))["accessToken"]
    for round_ in range(5):
        await served_by_snapshot(b, app_b, token, mongo_commands)  # B's copy is the snapshot
        name = f"Snap{round_}"
        updated = await data(a, UPDATE_PROFILE, {"input": {"lastName": name}}, token=token)
        assert updated["user"]["lastName"] == name
        assert (await me(b, token))["data"]["me"]["lastName"] == name
        app_b.state.services.users.forget_all()
        assert (await me(b, token))["data"]["me"]["lastName"] == name


@pytest.mark.parametrize("change", ["password", "logout everywhere", "deletion", "disabled"])
async def test_a_revocation_on_a_refuses_at_once_on_b_serving_the_snapshot(
    workers, mailbox, mongo_commands, change
):
    a, _, b, app_b = workers
    registered = await signed_in_on_a(a, mailbox)
    token, user_id = registered["accessToken"], registered["user"]["id"]
    await served_by_snapshot(b, app_b, token, mongo_commands)
    if change == "password":
        changed = await data(a, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token=token)
        assert changed["__typename"] == "AuthPayload", changed
    elif change == "logout everywhere":
        assert (await data(a, LOGOUT_ALL, token=token))["revokedSessions"] >= 1
    elif change == "deletion":
        deleted = await data(a, DELETE_ACCOUNT, {"password": PASSWORD}, token=token)
        assert deleted["__typename"] == "AccountDeleted", deleted
    else:
        disabled = await admin_data(a, DISABLE_USER, {"id": user_id})
        assert disabled["__typename"] == "UserResult", disabled
    assert unauthenticated(await me(b, token))
    app_b.state.services.users.forget_all()  # and a worker with nothing kept: no snapshot to serve
    assert unauthenticated(await me(b, token))
    if change == "password":  # the new token is served, with the new stamp
        assert not (await me(b, changed["accessToken"])).get("errors")


async def test_a_snapshot_loaded_before_a_write_is_never_written_nor_served(workers, mailbox):
    """The reader's side of the race, step by step on the real Redis: B reads the stamp and
    loads the user, A writes, then B leaves its snapshot: refused, and never served."""
    a, app_a, b, app_b = workers
    registered = await register(a, mailbox)
    token, user_id = registered["accessToken"], registered["user"]["id"]
    assert not (await me(a, token)).get("errors")  # the stamp is set
    claims = jwt.decode(token, options={"verify_signature": False})
    users, sessions = app_b.state.services.users, app_b.state.services.sessions
    users.forget_all()
    live, stamp = await users.check(sessions.live_key(user_id, claims["sid"]), user_id)
    assert live and stamp.cacheable and stamp.snapshot is None
    loaded = await User.get(user_id)  # the reader's load
    updated = await data(a, UPDATE_PROFILE, {"input": {"lastName": "Written"}}, token=token)
    assert updated["user"]["lastName"] == "Written"
    await users.keep(user_id, stamp, loaded)  # too late: the token it read is gone
    redis = app_b.state.services.redis
    assert await redis.hget(stamp_key(user_id), SNAPSHOT) is None
    # An older version's write replaces the token only: a snapshot left under the old one
    # is not served either (the snapshot carries the token it was written under).
    assert not (await me(a, token)).get("errors")  # A leaves a snapshot under the new token
    assert await redis.hget(stamp_key(user_id), SNAPSHOT) is not None
    await redis.hset(stamp_key(user_id), "token", b"an old version's new token")
    users.forget_all()
    _, stamp = await users.check(sessions.live_key(user_id, claims["sid"]), user_id)
    assert stamp.snapshot is None
    assert (await me(b, token))["data"]["me"]["lastName"] == "Written"


async def test_readers_racing_writes_never_serve_a_stale_snapshot(workers, mailbox):
    """Over HTTP: cold readers on B (each loading from MongoDB and leaving its snapshot when
    it may) race profile writes on A; once a write has answered, neither B nor a worker with
    nothing kept serves the name before it."""
    a, _, b, app_b = workers
    registered = await signed_in_on_a(a, mailbox)
    token, user_id = registered["accessToken"], registered["user"]["id"]
    users, redis = app_b.state.services.users, app_b.state.services.redis

    async def cold_read(delay: int) -> None:
        for _ in range(delay):
            await asyncio.sleep(0)
        users.forget_all()
        body = await me(b, token)
        assert not body.get("errors"), body

    for round_ in range(15):
        name = f"Race{round_}"
        await redis.hdel(stamp_key(user_id), SNAPSHOT)  # as evicted: the readers load MongoDB
        readers = [asyncio.create_task(cold_read(delay)) for delay in range(0, 48, 3)]
        updated = await data(a, UPDATE_PROFILE, {"input": {"lastName": name}}, token=token)
        assert updated["user"]["lastName"] == name
        await asyncio.gather(*readers)
        for _ in range(3):
            assert (await me(b, token))["data"]["me"]["lastName"] == name
            users.forget_all()
            assert (await me(b, token))["data"]["me"]["lastName"] == name


async def test_no_secret_reaches_the_snapshot(workers, mailbox, backend_urls):
    """A user with a password and two-factor on (a sealed TOTP secret, recovery codes): the
    raw hash in Redis holds none of them, and the snapshot holds only what `me` shows."""
    a, app_a, b, app_b = workers
    registered = await register(a, mailbox)
    token, user_id = registered["accessToken"], registered["user"]["id"]
    secret = (await data(a, ENROLL, {"password": PASSWORD}, token=token))["secret"]
    enabled = await data(a, CONFIRM, {"code": pyotp.TOTP(secret).at(TOTP_NOW - 30)}, token=token)
    assert enabled["__typename"] == "TotpEnabled", enabled
    for _ in range(3):
        assert (await me(a, token))["data"]["me"]["twoFactorEnabled"] is True
    stored = await User.get(user_id)
    assert stored is not None and stored.totp_secret and stored.recovery_codes
    raw = await app_a.state.services.redis.hgetall(stamp_key(user_id))
    assert SNAPSHOT.encode() in raw
    everything = b"".join([*raw.keys(), *raw.values()])
    for kept_secret in (
        stored.password_hash,
        stored.totp_secret,
        secret,
        *stored.recovery_codes,
        *enabled["recoveryCodes"],
    ):
        assert kept_secret.encode() not in everything
    fields = orjson.loads(raw[SNAPSHOT.encode()])
    assert len(fields) == 13  # the layout's version and the 12 fields of UserSnapshot
    snapshot = read_snapshot(raw[SNAPSHOT.encode()])
    assert snapshot.two_factor_enabled and snapshot.recovery_codes_left == len(stored.recovery_codes)
    assert not hasattr(snapshot, "password_hash") and not hasattr(snapshot, "totp_secret")


async def test_password_and_two_factor_changes_work_for_a_user_served_from_the_snapshot(
    workers, mailbox, mongo_commands
):
    """B holds only the snapshot: a mutation that checks the password or a TOTP code reads the
    whole account from MongoDB (schema/context.py `current_user`), and works."""
    a, _, b, app_b = workers
    registered = await register(a, mailbox)
    token, email = registered["accessToken"], registered["user"]["email"]
    secret = (await data(a, ENROLL, {"password": PASSWORD}, token=token))["secret"]
    totp = pyotp.TOTP(secret)
    assert (await data(a, CONFIRM, {"code": totp.at(TOTP_NOW - 30)}, token=token))[
        "__typename"
    ] == "TotpEnabled"
    for _ in range(3):
        assert not (await me(a, token)).get("errors")
    await served_by_snapshot(b, app_b, token, mongo_commands)

    disabled = await data(b, DISABLE_TOTP, {"password": PASSWORD, "code": totp.at(TOTP_NOW)}, token=token)
    assert disabled == {"__typename": "TotpDisabled", "user": {"twoFactorEnabled": False}}, disabled
    assert (await me(b, token))["data"]["me"]["twoFactorEnabled"] is False

    # B serves from a snapshot again (A read after the change), then changes the password.
    for _ in range(2):
        assert not (await me(a, token)).get("errors")
    await served_by_snapshot(b, app_b, token, mongo_commands)
    wrong = await data(
        b, CHANGE_PASSWORD, {"current": "not the password at all", "new": NEW_PASSWORD}, token=token
    )
    assert wrong["__typename"] != "AuthPayload", wrong
    await served_by_snapshot(b, app_b, token, mongo_commands)
    changed = await data(b, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token=token)
    assert changed["__typename"] == "AuthPayload", changed
    signed_in = await data(a, LOGIN, {"email": email, "password": NEW_PASSWORD})
    assert signed_in["__typename"] == "AuthPayload", signed_in


async def test_redis_losing_its_data_falls_back_to_mongodb(backend_urls, mailbox, tmp_path, mongo_commands):
    """The snapshot gone (evicted, or Redis flushed: the sessions' keys with it): B reads
    MongoDB, answers right, and leaves a new snapshot behind."""
    redis = start_redis(tmp_path)
    try:
        settings = settings_with(backend_urls, mailbox, redis_url=redis.url)
        async with serve_app(settings) as (a, _), serve_app(settings) as (b, app_b):
            registered = await signed_in_on_a(a, mailbox)
            token, user_id = registered["accessToken"], registered["user"]["id"]
            expected = await me(a, token)
            raw = app_b.state.services.redis
            await raw.delete(stamp_key(user_id))
            app_b.state.services.users.forget_all()
            with mongo_commands.counting() as sent:
                assert await me(b, token) == expected
            assert ("find", "users") in sent
            assert not (await me(b, token)).get("errors")  # the stamp set again, then the snapshot
            assert await raw.hget(stamp_key(user_id), SNAPSHOT) is not None

            await raw.flushall()
            assert unauthenticated(await me(b, token))  # the session's key went too: refresh
            renewed = await data(b, REFRESH, {"token": registered["refreshToken"]})
            assert renewed["__typename"] == "AuthPayload", renewed
            app_b.state.services.users.forget_all()
            body = await me(b, renewed["accessToken"])
            assert body["data"]["me"]["id"] == user_id and body["data"]["me"]["lastName"] == "Lovelace"
    finally:
        redis.stop()


def test_a_snapshot_is_bounded_in_size():
    """A user whose snapshot would be large (many roles) gets none: read from MongoDB as before."""
    from datetime import UTC, datetime

    from beanie import PydanticObjectId

    now = datetime.now(UTC)
    user = User.model_construct(
        id=PydanticObjectId(),
        email="a@example.com",
        password_hash="x",
        first_name="A",
        last_name="B",
        created_at=now,
        updated_at=now,
        roles=[],
    )
    assert snapshot_of(user) is not None
    user.roles = [f"role-{n}" for n in range(MAX_BYTES // 8)]
    assert snapshot_of(user) is None
