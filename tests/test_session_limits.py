"""The limits around tokens and sessions, over HTTP: clock skew allowed on access tokens,
the grace window answering a rotated refresh token once, the absolute session lifetime,
and "log out everywhere" ending sessions through the credential version."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from bson import ObjectId
from conftest import TEST_SECRET
from flows import ME, PROBLEM, data, gql, register
from pymongo import AsyncMongoClient

MAX_AGE = 7_776_000  # SESSION_MAX_AGE_SECONDS' default: 90 days

AUTH = "... on AuthPayload { accessToken refreshToken refreshExpiresIn sessionId }"
REFRESH = f"""mutation($token: String!) {{
  refreshTokens(refreshToken: $token) {{ __typename {AUTH} {PROBLEM} }} }}"""
SESSIONS = "query { sessions { id expiresAt } }"


@pytest.fixture
async def session_documents(backend_urls: dict[str, str], settings: Any) -> AsyncIterator[Any]:
    """The raw `sessions` collection, for what a client cannot do over HTTP (age)."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"], tz_aware=True)
    try:
        yield mongo[settings.mongo_db]["sessions"]
    finally:
        await mongo.close()


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    return await data(client, REFRESH, {"token": refresh_token})


async def signed_in(client: httpx.AsyncClient, access_token: str) -> bool:
    body = await gql(client, ME, token=access_token)
    if body.get("errors"):
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body
        return False
    return True


# --- JWT_LEEWAY_SECONDS ------------------------------------------------------------------


def shifted(access_token: str, seconds: int) -> str:
    """The same token as if minted by an instance whose clock is `seconds` ahead."""
    claims = jwt.decode(access_token, options={"verify_signature": False})
    for name in ("iat", "nbf", "exp"):
        claims[name] += seconds
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


async def test_access_tokens_from_a_clock_slightly_ahead_are_accepted(client, mailbox):
    token = (await register(client, mailbox))["accessToken"]

    assert await signed_in(client, shifted(token, 10)), "10 s of skew is within JWT_LEEWAY_SECONDS"
    assert not await signed_in(client, shifted(token, 200)), "200 s is not skew"


# --- the grace window answers a rotated refresh token once -------------------------------


async def test_a_rotated_refresh_token_is_answered_once_then_is_reuse(client, mailbox):
    opened = await register(client, mailbox)
    first = opened["refreshToken"]
    second = await refresh(client, first)
    assert second["__typename"] == "AuthPayload", second

    replayed = await refresh(client, first)  # a second tab, within the grace window
    assert replayed["__typename"] == "AuthPayload", replayed
    assert replayed["refreshToken"] == second["refreshToken"]
    assert replayed["sessionId"] == opened["sessionId"]

    again = await refresh(client, first)  # once more: someone holds a copy
    assert again["__typename"] == "InvalidRefreshToken", again
    assert (await refresh(client, second["refreshToken"]))["__typename"] == "InvalidRefreshToken"
    for payload in (opened, second, replayed):
        assert not await signed_in(client, payload["accessToken"]), "the session outlived reuse"


# --- SESSION_MAX_AGE_SECONDS -------------------------------------------------------------


async def age(session_documents: Any, session_id: str, seconds: float) -> datetime:
    """Pretend the session opened `seconds` ago; its new created_at.

    A whole-document replace: nx-27017 stores datetimes given to $set as strings."""
    document = await session_documents.find_one({"_id": ObjectId(session_id)})
    assert document is not None
    document["created_at"] = datetime.now(UTC) - timedelta(seconds=seconds)
    replaced = await session_documents.replace_one({"_id": document["_id"]}, document)
    assert replaced.matched_count == 1
    return document["created_at"]


async def test_refreshing_never_extends_a_session_past_its_maximum_age(client, mailbox, session_documents):
    opened = await register(client, mailbox)
    created_at = await age(session_documents, opened["sessionId"], MAX_AGE - 100)

    renewed = await refresh(client, opened["refreshToken"])

    assert renewed["__typename"] == "AuthPayload", renewed
    assert 0 < renewed["refreshExpiresIn"] <= 100, renewed
    stored = await session_documents.find_one({"_id": ObjectId(opened["sessionId"])})
    deadline = created_at + timedelta(seconds=MAX_AGE)
    # What the TTL index deletes by is the same deadline (stored to the millisecond).
    assert abs((stored["expires_at"] - deadline).total_seconds()) < 0.01, (stored["expires_at"], deadline)
    (listed,) = await data(client, SESSIONS, token=renewed["accessToken"])
    assert abs((datetime.fromisoformat(listed["expiresAt"]) - deadline).total_seconds()) < 0.01


async def test_a_session_past_its_maximum_age_is_over(client, mailbox, session_documents):
    opened = await register(client, mailbox)
    await age(session_documents, opened["sessionId"], MAX_AGE + 1)

    refused = await refresh(client, opened["refreshToken"])

    assert refused["__typename"] == "InvalidRefreshToken", refused


# --- logout(scope: ALL) ends sessions through the credential version ----------------------


async def test_logout_all_refuses_tokens_of_sessions_it_did_not_list(client, mailbox, session_documents):
    """A session opened by a login in flight is missed by the listing; here it is hidden
    from it by hand (another user id), as if it were inserted just after."""
    opened = await register(client, mailbox)
    hidden = await data(
        client,
        f"""mutation($email: String!, $password: String!) {{ login(email: $email, password: $password) {{
          __typename {AUTH} }} }}""",
        {"email": opened["user"]["email"], "password": "correct horse battery staple"},
    )
    document = await session_documents.find_one({"_id": ObjectId(hidden["sessionId"])})
    user_id = document["user_id"]
    await session_documents.update_one({"_id": document["_id"]}, {"$set": {"user_id": "someone-else"}})

    logged_out = await data(
        client, "mutation { logout(scope: ALL) { revokedSessions } }", token=opened["accessToken"]
    )
    assert logged_out["revokedSessions"] == 1
    await session_documents.update_one({"_id": document["_id"]}, {"$set": {"user_id": user_id}})

    assert not await signed_in(client, hidden["accessToken"])
    assert (await refresh(client, hidden["refreshToken"]))["__typename"] == "InvalidRefreshToken"


async def test_tokens_without_a_credential_version_are_refused(client, mailbox):
    token = (await register(client, mailbox))["accessToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    del claims["cv"]
    assert claims["exp"] > time.time()
    assert not await signed_in(client, jwt.encode(claims, TEST_SECRET, algorithm="HS256"))
