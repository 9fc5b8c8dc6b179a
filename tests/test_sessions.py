"""Sessions over HTTP: every sign-in opens one; refresh tokens rotate, and a rotated-away
token presented again revokes the session (except within the grace window); sessions
are listed, revoked, logged out; a password change keeps only the current session;
deleting the account ends every session. Revocation reaches access tokens at once, and
stays when Redis loses its data (a live session then needs one refresh)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from bson import ObjectId
from conftest import serve
from conftest import test_settings as settings_with
from flows import ME, PASSWORD, PROBLEM, PROFILE, SET_PASSWORD, VERIFY, data, new_email, start
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from embedded import EmbeddedService, start_redis

REFRESH_TTL = 2_592_000
SOCKET_IP = "203.0.113.7"  # the ASGI client address every test app sees
NEW_PASSWORD = "an entirely different passphrase"

# ---------------------------------------------------------------------------------------
# Operations, with the session fields flows.AUTH leaves out

AUTH = """... on AuthPayload { __typename accessToken tokenType expiresIn
  refreshToken refreshExpiresIn sessionId user { id email } }"""
COMPLETE = f"""mutation($token: String!, $profile: ProfileInput!) {{
  completeRegistration(registrationToken: $token, profile: $profile) {{ __typename {AUTH} {PROBLEM} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ __typename {AUTH} {PROBLEM} }} }}"""
REFRESH = f"""mutation($token: String!) {{
  refreshTokens(refreshToken: $token) {{ __typename {AUTH} {PROBLEM} }} }}"""
SESSIONS = "query { sessions { id createdAt lastUsedAt expiresAt userAgent ipAddress current } }"
LOGOUT = "mutation($scope: LogoutScope!) { logout(scope: $scope) { revokedSessions } }"
LOGOUT_DEFAULT = "mutation { logout { revokedSessions } }"
REVOKE = f"""mutation($id: ID!) {{
  revokeSession(id: $id) {{ __typename ... on SessionRevoked {{ id }} {PROBLEM} }} }}"""
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{
  __typename {AUTH} {PROBLEM} ... on WeakPassword {{ reasons }} }} }}"""
DELETE_ACCOUNT = f"""mutation($password: String!) {{
  deleteAccount(password: $password) {{ __typename ... on AccountDeleted {{ id }} {PROBLEM} }} }}"""

# ---------------------------------------------------------------------------------------
# Helpers


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST one operation with optional extra headers; the whole JSON body."""
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
    )
    assert response.status_code == 200, response.text
    return response.json()


async def field(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> Any:
    """The single root field's value, asserting no top-level error."""
    body = await post(client, query, variables, **kw)
    assert not body.get("errors"), body
    return next(iter(body["data"].values()))


async def sign_up(
    client: httpx.AsyncClient, mailbox: Any, email: str | None = None, *, mail_number: int = 1
) -> dict[str, Any]:
    """All four registration steps, reading the `mail_number`-th mail to `email` for the
    code; the AuthPayload with its session fields."""
    email = email or new_email()
    started = await start(client, email)
    code = await mailbox.code_for(email, mail_number)
    verified = await field(client, VERIFY, {"id": started["registrationId"], "code": code})
    assert verified["__typename"] == "RegistrationVerified", verified
    token = verified["registrationToken"]
    password_set = await field(client, SET_PASSWORD, {"token": token, "password": PASSWORD})
    assert password_set["__typename"] == "RegistrationPasswordSet", password_set
    result = await field(client, COMPLETE, {"token": token, "profile": PROFILE})
    assert result["__typename"] == "AuthPayload", result
    return result


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    result = await field(client, LOGIN, {"email": email, "password": password}, headers=headers)
    assert result["__typename"] == "AuthPayload", result
    return result


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    """refreshTokens' result, whichever member it is."""
    return await field(client, REFRESH, {"token": refresh_token})


async def refreshed(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    result = await refresh(client, refresh_token)
    assert result["__typename"] == "AuthPayload", result
    return result


async def assert_refresh_refused(client: httpx.AsyncClient, refresh_token: str) -> None:
    result = await refresh(client, refresh_token)
    assert result["__typename"] == "InvalidRefreshToken", (refresh_token, result)
    assert result["message"]


async def assert_signed_in(client: httpx.AsyncClient, access_token: str, user_id: str | None = None) -> None:
    me = await data(client, ME, token=access_token)
    if user_id is not None:
        assert me["id"] == user_id


async def assert_unauthenticated(client: httpx.AsyncClient, query: str, access_token: str | None) -> None:
    body = await post(client, query, token=access_token)
    assert body.get("data") is None, body
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"], body


async def assert_signed_out(client: httpx.AsyncClient, access_token: str) -> None:
    await assert_unauthenticated(client, ME, access_token)


async def list_sessions(client: httpx.AsyncClient, access_token: str) -> list[dict[str, Any]]:
    return await field(client, SESSIONS, token=access_token)


def claims_of(access_token: str) -> dict[str, Any]:
    return jwt.decode(access_token, options={"verify_signature": False})


def b64url_decode(text: str) -> bytes:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", text), text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
async def session_documents(backend_urls: dict[str, str], settings: Any) -> AsyncIterator[Any]:
    """The raw `sessions` collection, for what a client cannot do over HTTP (expiry)."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"], tz_aware=True)
    try:
        yield mongo[settings.mongo_db]["sessions"]
    finally:
        await mongo.close()


@pytest.fixture
async def no_grace_client(backend_urls: dict[str, str], mailbox: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings_with(backend_urls, mailbox, refresh_reuse_grace_seconds=0)) as client:
        yield client


# ---------------------------------------------------------------------------------------
# 1. Every sign-in opens a session


def assert_session_payload(payload: dict[str, Any]) -> None:
    assert payload["tokenType"] == "Bearer"
    session_id, secret, tag = payload["refreshToken"].split(".")
    assert session_id == payload["sessionId"]
    assert len(b64url_decode(secret)) >= 32, "a refresh token carries at least 256 random bits"
    assert b64url_decode(tag)
    assert abs(payload["refreshExpiresIn"] - REFRESH_TTL) <= 5
    claims = claims_of(payload["accessToken"])
    assert claims["sid"] == payload["sessionId"]
    assert claims["sub"] == payload["user"]["id"]


async def test_registration_and_login_open_sessions_with_refresh_tokens(client, mailbox):
    email = new_email()
    registered = await sign_up(client, mailbox, email)
    logged_in = await login(client, email)

    assert_session_payload(registered)
    assert_session_payload(logged_in)
    assert registered["sessionId"] != logged_in["sessionId"]
    assert registered["refreshToken"] != logged_in["refreshToken"]
    assert registered["user"]["id"] == logged_in["user"]["id"]


async def test_refresh_tokens_are_stored_only_as_a_hash(client, mailbox, session_documents):
    payload = await sign_up(client, mailbox)
    secret = payload["refreshToken"].split(".")[1]
    document = await session_documents.find_one({"_id": ObjectId(payload["sessionId"])})
    assert document is not None
    stored = repr(document)
    assert payload["refreshToken"] not in stored
    assert secret not in stored
    assert b64url_decode(secret).hex() not in stored


# ---------------------------------------------------------------------------------------
# 2. Rotation


async def test_refresh_rotates_the_token_and_keeps_the_session(client, mailbox):
    first = await sign_up(client, mailbox)
    before = {s["id"]: s for s in await list_sessions(client, first["accessToken"])}[first["sessionId"]]
    await asyncio.sleep(0.05)

    second = await refreshed(client, first["refreshToken"])

    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert second["sessionId"] == first["sessionId"]
    assert claims_of(second["accessToken"])["sid"] == first["sessionId"]
    assert abs(second["refreshExpiresIn"] - REFRESH_TTL) <= 5
    await assert_signed_in(client, second["accessToken"], first["user"]["id"])
    after = {s["id"]: s for s in await list_sessions(client, second["accessToken"])}[first["sessionId"]]
    assert parse_time(after["lastUsedAt"]) > parse_time(before["lastUsedAt"])
    assert after["createdAt"] == before["createdAt"]
    # The chain goes on.
    third = await refreshed(client, second["refreshToken"])
    assert third["sessionId"] == first["sessionId"]
    assert third["refreshToken"] not in (first["refreshToken"], second["refreshToken"])


# ---------------------------------------------------------------------------------------
# 3. Reuse outside the grace window revokes the session


async def test_reusing_a_rotated_token_revokes_the_session(no_grace_client, mailbox):
    client = no_grace_client
    email = new_email()
    await sign_up(client, mailbox, email)
    victim = await login(client, email)
    bystander = await login(client, email)

    rotated = await refreshed(client, victim["refreshToken"])
    await assert_refresh_refused(client, victim["refreshToken"])  # reuse

    await assert_refresh_refused(client, rotated["refreshToken"])
    await assert_signed_out(client, victim["accessToken"])
    await assert_signed_out(client, rotated["accessToken"])
    # The user's other session is not touched.
    await assert_signed_in(client, bystander["accessToken"])
    assert (await refreshed(client, bystander["refreshToken"]))["sessionId"] == bystander["sessionId"]
    listed = [s["id"] for s in await list_sessions(client, bystander["accessToken"])]
    assert victim["sessionId"] not in listed
    assert bystander["sessionId"] in listed


async def test_without_grace_even_simultaneous_refreshes_are_reuse(no_grace_client, mailbox):
    """REFRESH_REUSE_GRACE_SECONDS=0: no grace at all, so of two refreshes racing with one
    token, one wins and the other is reuse, which revokes the session. Repeated, since a
    race that lands both requests in the same millisecond is what used to slip through."""
    client = no_grace_client
    email = new_email()
    await sign_up(client, mailbox, email)
    for _ in range(20):
        session = await login(client, email)
        one, two = await asyncio.gather(
            refresh(client, session["refreshToken"]), refresh(client, session["refreshToken"])
        )
        assert sorted([one["__typename"], two["__typename"]]) == ["AuthPayload", "InvalidRefreshToken"], (
            one,
            two,
        )
        winner = one if one["__typename"] == "AuthPayload" else two
        await assert_refresh_refused(client, winner["refreshToken"])
        await assert_signed_out(client, winner["accessToken"])


# ---------------------------------------------------------------------------------------
# 4. Within the grace window, the previous token gets the same new pair


async def test_concurrent_and_repeated_refreshes_within_grace_share_one_new_token(client, mailbox):
    opened = await sign_up(client, mailbox)

    one, two = await asyncio.gather(
        refresh(client, opened["refreshToken"]), refresh(client, opened["refreshToken"])
    )

    assert one["__typename"] == two["__typename"] == "AuthPayload", (one, two)
    assert one["sessionId"] == two["sessionId"] == opened["sessionId"]
    assert one["refreshToken"] == two["refreshToken"] != opened["refreshToken"]
    await assert_signed_in(client, one["accessToken"])
    await assert_signed_in(client, two["accessToken"])
    following = await refreshed(client, one["refreshToken"])
    assert following["sessionId"] == opened["sessionId"]

    # Sequentially: B from A, then A again inside the window answers B once more.
    b = await refreshed(client, following["refreshToken"])
    again = await refreshed(client, following["refreshToken"])
    assert again["refreshToken"] == b["refreshToken"]
    assert again["sessionId"] == opened["sessionId"]
    # Nothing was revoked.
    await assert_signed_in(client, opened["accessToken"])
    await assert_signed_in(client, again["accessToken"])
    assert (await refreshed(client, b["refreshToken"]))["sessionId"] == opened["sessionId"]


# ---------------------------------------------------------------------------------------
# 5. After the grace window, the previous token is reuse


async def test_previous_token_after_the_grace_window_revokes_the_session(
    backend_urls, mailbox, session_documents
):
    async with serve(settings_with(backend_urls, mailbox, refresh_reuse_grace_seconds=1)) as client:
        opened = await sign_up(client, mailbox)
        rotated = await refreshed(client, opened["refreshToken"])

        # As if 1.3 s had passed since the rotation (a whole-document replace: see test 7).
        document = await session_documents.find_one({"_id": ObjectId(opened["sessionId"])})
        assert document is not None and document["rotated_at"] is not None
        document["rotated_at"] -= timedelta(seconds=1.3)
        assert (await session_documents.replace_one({"_id": document["_id"]}, document)).matched_count == 1
        await assert_refresh_refused(client, opened["refreshToken"])

        await assert_refresh_refused(client, rotated["refreshToken"])
        await assert_signed_out(client, rotated["accessToken"])
        await assert_signed_out(client, opened["accessToken"])


# ---------------------------------------------------------------------------------------
# 6. Garbage and forgeries are refused without harming the real session


async def test_garbage_and_forged_refresh_tokens_are_refused_without_revoking(client, mailbox):
    email = new_email()
    real = await sign_up(client, mailbox, email)
    other = await login(client, email)
    session_id, secret, tag = real["refreshToken"].split(".")
    _, other_secret, other_tag = other["refreshToken"].split(".")
    last = real["refreshToken"][-1]
    forgeries = [
        "",
        "x",
        "a.b.c",
        real["refreshToken"][:-1] + ("A" if last != "A" else "B"),
        f"{session_id}.{other_secret}.{other_tag}",
        f"{session_id}.{other_secret}.{tag}",
        f"{session_id}.{secret}.",
        f"{session_id}.{secret}",
        f"{str(ObjectId())}.{secret}.{tag}",
        real["refreshToken"] + ".extra",
    ]

    for forged in forgeries:
        await assert_refresh_refused(client, forged)

    await assert_signed_in(client, real["accessToken"])
    renewed = await refreshed(client, real["refreshToken"])
    assert renewed["sessionId"] == real["sessionId"]
    assert (await refreshed(client, other["refreshToken"]))["sessionId"] == other["sessionId"]


# ---------------------------------------------------------------------------------------
# 7. An expired session's refresh token is refused and the session is not listed


async def test_expired_refresh_token_is_refused(client, mailbox, session_documents):
    email = new_email()
    keeper = await sign_up(client, mailbox, email)
    expiring = await login(client, email)
    # A whole-document replace, not $set: nx-27017 stores datetimes given to $set as
    # strings. Its TTL monitor may delete the document at once; refused either way.
    document = await session_documents.find_one({"_id": ObjectId(expiring["sessionId"])})
    assert document is not None
    document["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)
    replaced = await session_documents.replace_one({"_id": document["_id"]}, document)
    assert replaced.matched_count == 1

    await assert_refresh_refused(client, expiring["refreshToken"])

    listed = [s["id"] for s in await list_sessions(client, keeper["accessToken"])]
    assert expiring["sessionId"] not in listed
    assert keeper["sessionId"] in listed


# ---------------------------------------------------------------------------------------
# 8. Listing sessions


async def test_sessions_lists_live_sessions_newest_first_with_the_current_one_marked(client, mailbox):
    email = new_email()
    registered = await sign_up(client, mailbox, email)
    logins = []
    for number in range(1, 4):
        logins.append(await login(client, email, headers={"User-Agent": f"authql-tests/{number} (device)"}))
        await asyncio.sleep(0.01)

    listed = await list_sessions(client, logins[1]["accessToken"])

    expected_ids = [payload["sessionId"] for payload in reversed([registered, *logins])]
    assert [s["id"] for s in listed] == expected_ids
    created = [parse_time(s["createdAt"]) for s in listed]
    assert created == sorted(created, reverse=True)
    assert [s["current"] for s in listed] == [False, True, False, False]
    assert [s["userAgent"] for s in listed[:3]] == [f"authql-tests/{n} (device)" for n in (3, 2, 1)]
    assert listed[3]["userAgent"]  # httpx's own user agent on registration
    assert {s["ipAddress"] for s in listed} == {SOCKET_IP}
    for s in listed:
        lifetime = parse_time(s["expiresAt"]) - parse_time(s["createdAt"])
        assert abs(lifetime.total_seconds() - REFRESH_TTL) <= 5
    # Another user's sessions are never listed.
    stranger = await sign_up(client, mailbox)
    assert [s["id"] for s in await list_sessions(client, stranger["accessToken"])] == [stranger["sessionId"]]
    await assert_unauthenticated(client, SESSIONS, None)


# ---------------------------------------------------------------------------------------
# 9. Client IP: X-Forwarded-For only from trusted proxies


async def current_ip(client: httpx.AsyncClient, email: str, forwarded_for: str) -> str:
    payload = await login(client, email, headers={"X-Forwarded-For": forwarded_for})
    current = [s for s in await list_sessions(client, payload["accessToken"]) if s["current"]]
    assert [s["id"] for s in current] == [payload["sessionId"]]
    return current[0]["ipAddress"]


async def test_client_ip_honours_forwarded_for_only_from_trusted_proxies(client, backend_urls, mailbox):
    email = new_email()
    await sign_up(client, mailbox, email)
    trusted = settings_with(backend_urls, mailbox, trusted_proxies="203.0.113.0/24")
    async with serve(trusted) as behind_proxy:
        assert await current_ip(behind_proxy, email, "198.51.100.9, 203.0.113.50") == "198.51.100.9"
        # Right-most untrusted address: whatever the client put further left is ignored.
        assert await current_ip(behind_proxy, email, "6.6.6.6, 198.51.100.9, 203.0.113.50") == "198.51.100.9"

    assert await current_ip(client, email, "198.51.100.9, 203.0.113.50") == SOCKET_IP


# ---------------------------------------------------------------------------------------
# 10. Logout scopes


async def test_logout_current_others_and_all(client, mailbox):
    email = new_email()
    registered = await sign_up(client, mailbox, email)
    first, second, third = [await login(client, email) for _ in range(3)]

    # CURRENT
    assert await field(client, LOGOUT, {"scope": "CURRENT"}, token=first["accessToken"]) == {
        "revokedSessions": 1
    }
    await assert_signed_out(client, first["accessToken"])
    await assert_refresh_refused(client, first["refreshToken"])
    for alive in (registered, second, third):
        await assert_signed_in(client, alive["accessToken"])

    # The default scope is CURRENT.
    assert await field(client, LOGOUT_DEFAULT, token=third["accessToken"]) == {"revokedSessions": 1}
    await assert_signed_out(client, third["accessToken"])
    await assert_signed_in(client, second["accessToken"])
    await assert_signed_in(client, registered["accessToken"])

    # OTHERS: only `registered` is left besides `second`.
    assert await field(client, LOGOUT, {"scope": "OTHERS"}, token=second["accessToken"]) == {
        "revokedSessions": 1
    }
    await assert_signed_in(client, second["accessToken"])
    await assert_signed_out(client, registered["accessToken"])
    await assert_refresh_refused(client, registered["refreshToken"])
    assert [s["id"] for s in await list_sessions(client, second["accessToken"])] == [second["sessionId"]]

    # ALL
    fourth = await login(client, email)
    assert await field(client, LOGOUT, {"scope": "ALL"}, token=second["accessToken"]) == {
        "revokedSessions": 2
    }
    for gone in (second, fourth):
        await assert_signed_out(client, gone["accessToken"])
        await assert_refresh_refused(client, gone["refreshToken"])

    await assert_unauthenticated(client, LOGOUT_DEFAULT, None)
    await assert_unauthenticated(client, LOGOUT_DEFAULT, second["accessToken"])


# ---------------------------------------------------------------------------------------
# 11. Revoking one session


async def test_revoke_session_ends_own_sessions_and_hides_others(client, mailbox):
    email = new_email()
    mine = await sign_up(client, mailbox, email)
    doomed = await login(client, email)
    stranger = await sign_up(client, mailbox)

    revoked = await field(client, REVOKE, {"id": doomed["sessionId"]}, token=mine["accessToken"])
    assert revoked == {"__typename": "SessionRevoked", "id": doomed["sessionId"]}
    await assert_signed_out(client, doomed["accessToken"])
    await assert_refresh_refused(client, doomed["refreshToken"])
    await assert_signed_in(client, mine["accessToken"])

    answers = [
        await post(client, REVOKE, {"id": session_id}, token=mine["accessToken"])
        for session_id in (stranger["sessionId"], str(ObjectId()), "nope", doomed["sessionId"])
    ]
    assert answers[0]["data"]["revokeSession"]["__typename"] == "NotFound", answers[0]
    for answer in answers[1:]:
        assert json.dumps(answer, sort_keys=True) == json.dumps(answers[0], sort_keys=True)

    await assert_signed_in(client, stranger["accessToken"])
    assert (await refreshed(client, stranger["refreshToken"]))["sessionId"] == stranger["sessionId"]
    await assert_unauthenticated(
        client, f'mutation {{ revokeSession(id: "{mine["sessionId"]}") {{ __typename }} }}', None
    )


# ---------------------------------------------------------------------------------------
# 12. Changing the password


async def test_change_password_keeps_only_the_current_session(client, mailbox):
    email = new_email()
    registered = await sign_up(client, mailbox, email)
    current = await login(client, email)
    other = await login(client, email)
    token = current["accessToken"]

    wrong = await field(
        client, CHANGE_PASSWORD, {"current": "not my password", "new": NEW_PASSWORD}, token=token
    )
    assert wrong["__typename"] == "InvalidCredentials", wrong
    for alive in (registered, current, other):
        await assert_signed_in(client, alive["accessToken"])
    for weak_password in ("short", PASSWORD):
        weak = await field(client, CHANGE_PASSWORD, {"current": PASSWORD, "new": weak_password}, token=token)
        assert weak["__typename"] == "WeakPassword", weak
        assert weak["reasons"]
    await login(client, email, PASSWORD)  # still the old password

    changed = await field(client, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token=token)

    assert changed["__typename"] == "AuthPayload", changed
    assert changed["sessionId"] == current["sessionId"]
    assert changed["refreshToken"] != current["refreshToken"]
    assert changed["accessToken"] != current["accessToken"]
    assert claims_of(changed["accessToken"])["sid"] == current["sessionId"]
    await assert_signed_in(client, changed["accessToken"])
    for ended in (registered, other):
        await assert_signed_out(client, ended["accessToken"])
        await assert_refresh_refused(client, ended["refreshToken"])
    listed = await list_sessions(client, changed["accessToken"])
    assert [(s["id"], s["current"]) for s in listed] == [(current["sessionId"], True)]
    # The new pair continues the session...
    renewed = await refreshed(client, changed["refreshToken"])
    assert renewed["sessionId"] == current["sessionId"]
    # ...and the refresh token from before the change is dead.
    await assert_refresh_refused(client, current["refreshToken"])

    bad_old = await field(client, LOGIN, {"email": email, "password": PASSWORD})
    assert bad_old["__typename"] == "InvalidCredentials", bad_old
    await login(client, email, NEW_PASSWORD)
    await assert_unauthenticated(
        client, 'mutation { changePassword(currentPassword: "a", newPassword: "b") { __typename } }', None
    )


# ---------------------------------------------------------------------------------------
# 13. Deleting the account


async def test_delete_account_removes_the_user_and_every_session(client, mailbox):
    email = new_email()
    registered = await sign_up(client, mailbox, email)
    logged_in = await login(client, email)
    user_id = registered["user"]["id"]

    wrong = await field(
        client, DELETE_ACCOUNT, {"password": "not my password"}, token=logged_in["accessToken"]
    )
    assert wrong["__typename"] == "InvalidCredentials", wrong
    await assert_signed_in(client, registered["accessToken"], user_id)

    deleted = await field(client, DELETE_ACCOUNT, {"password": PASSWORD}, token=logged_in["accessToken"])

    assert deleted == {"__typename": "AccountDeleted", "id": user_id}
    for session in (registered, logged_in):
        await assert_signed_out(client, session["accessToken"])
        await assert_refresh_refused(client, session["refreshToken"])
    gone = await field(client, LOGIN, {"email": email, "password": PASSWORD})
    assert gone["__typename"] == "InvalidCredentials", gone

    again = await sign_up(client, mailbox, email, mail_number=2)
    assert again["user"]["id"] != user_id
    assert again["user"]["email"] == email
    await assert_signed_in(client, again["accessToken"], again["user"]["id"])
    assert [s["id"] for s in await list_sessions(client, again["accessToken"])] == [again["sessionId"]]
    # The old tokens stay dead for the new account with the same email.
    await assert_signed_out(client, logged_in["accessToken"])


# ---------------------------------------------------------------------------------------
# 14. A day of refreshes


async def test_a_day_of_refreshes_then_an_old_token_revokes_the_session(no_grace_client, mailbox):
    client = no_grace_client
    opened = await sign_up(client, mailbox)
    chain = [opened["refreshToken"]]
    latest = opened

    for _ in range(96):  # every 15 minutes for a day
        latest = await refreshed(client, latest["refreshToken"])
        assert latest["sessionId"] == opened["sessionId"]
        assert latest["refreshToken"] not in chain
        chain.append(latest["refreshToken"])

    assert len(set(chain)) == 97
    await assert_signed_in(client, latest["accessToken"])

    await assert_refresh_refused(client, chain[48])

    await assert_refresh_refused(client, chain[-1])
    await assert_signed_out(client, latest["accessToken"])
    await assert_signed_out(client, opened["accessToken"])


# ---------------------------------------------------------------------------------------
# 15. Redis losing its data


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[EmbeddedService]:
    """A redis-server of this test's own, so flushing it touches no other test."""
    redis = start_redis(tmp_path)
    try:
        yield redis
    finally:
        redis.stop()


async def flush(redis: EmbeddedService) -> None:
    """What a restart without persistence, a FLUSHALL or an eviction does to the keys."""
    store = Redis.from_url(redis.url)
    try:
        await store.flushall()
    finally:
        await store.aclose()


async def test_ended_sessions_stay_refused_when_redis_loses_its_data(backend_urls, mailbox, private_redis):
    async with serve(settings_with(backend_urls, mailbox, redis_url=private_redis.url)) as client:
        email = new_email()
        keeper = await sign_up(client, mailbox, email)
        logged_out = await login(client, email)
        revoked = await login(client, email)
        assert await field(client, LOGOUT_DEFAULT, token=logged_out["accessToken"]) == {"revokedSessions": 1}
        answer = await field(client, REVOKE, {"id": revoked["sessionId"]}, token=keeper["accessToken"])
        assert answer["__typename"] == "SessionRevoked", answer

        await flush(private_redis)

        for ended in (logged_out, revoked):
            await assert_signed_out(client, ended["accessToken"])
            await assert_refresh_refused(client, ended["refreshToken"])
            await assert_signed_out(client, ended["accessToken"])


async def test_a_live_session_needs_one_refresh_after_redis_loses_its_data(
    backend_urls, mailbox, private_redis
):
    async with serve(settings_with(backend_urls, mailbox, redis_url=private_redis.url)) as client:
        opened = await sign_up(client, mailbox)
        await assert_signed_in(client, opened["accessToken"], opened["user"]["id"])

        await flush(private_redis)

        # Redis cannot tell a live session from an ended one any more: refused, until
        # the refresh, which asks MongoDB, vouches for the session again.
        await assert_signed_out(client, opened["accessToken"])
        renewed = await refreshed(client, opened["refreshToken"])
        assert renewed["sessionId"] == opened["sessionId"]
        await assert_signed_in(client, renewed["accessToken"], opened["user"]["id"])
        assert [s["id"] for s in await list_sessions(client, renewed["accessToken"])] == [opened["sessionId"]]


async def test_a_refresh_racing_a_revocation_never_brings_the_session_back(client, mailbox):
    email = new_email()
    keeper = await sign_up(client, mailbox, email)
    doomed = [await login(client, email) for _ in range(30)]

    async def revoke(session: dict[str, Any]) -> None:
        answer = await field(client, REVOKE, {"id": session["sessionId"]}, token=keeper["accessToken"])
        assert answer["__typename"] in ("SessionRevoked", "NotFound"), answer

    # Each session refreshed and revoked at once, in both starting orders.
    races = [
        (refresh(client, session["refreshToken"]), revoke(session))
        if number % 2
        else (revoke(session), refresh(client, session["refreshToken"]))
        for number, session in enumerate(doomed)
    ]
    answers = await asyncio.gather(*(coroutine for race in races for coroutine in race))
    renewed = [answer for answer in answers if answer and answer["__typename"] == "AuthPayload"]

    for session in [*doomed, *renewed]:
        await assert_signed_out(client, session["accessToken"])
        await assert_refresh_refused(client, session["refreshToken"])
    await assert_signed_in(client, keeper["accessToken"])
