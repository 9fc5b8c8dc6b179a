"""Recent sign-in: access tokens carry `auth_time`, the session's last sign-in, kept
across refreshes and reset only by signing in again; past REAUTHENTICATION_WINDOW_SECONDS
an operation marked "recent sign-in" answers ReauthenticationRequired (the social link
and unlink operations test that over GraphQL in tests/test_social_*.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from bson import ObjectId
from conftest import serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, PASSWORD, data, register
from pymongo import AsyncMongoClient

from resolvers.auth.reauthentication import signed_in_recently
from security.identity import Identity, identity_for_token

REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) {
  __typename ... on AuthPayload { accessToken refreshToken } } }"""


async def identity_of(services: Any, token: str) -> Identity | None:
    return await identity_for_token(services.tokens, services.sessions, services.users, token)


def auth_time(access_token: str) -> int:
    return jwt.decode(access_token, options={"verify_signature": False})["auth_time"]


async def age_session(backend_urls: dict[str, str], db: str, session_id: str, seconds: int) -> datetime:
    """Move the session's sign-in `seconds` into the past, as if that time had gone by."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"], tz_aware=True)
    try:
        sessions = mongo[db]["sessions"]
        stored = await sessions.find_one({"_id": ObjectId(session_id)})
        assert stored is not None
        earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds)
        stored["auth_time"] = earlier
        await sessions.replace_one({"_id": stored["_id"]}, stored)
        return earlier
    finally:
        await mongo.close()


async def test_a_refresh_keeps_auth_time_and_a_token_past_the_window_is_not_recent(
    backend_urls: dict[str, str], mailbox: Any
) -> None:
    settings = settings_with(backend_urls, mailbox, reauthentication_window_seconds=600)
    async with serve_app(settings) as (client, app):
        signed = await register(client, mailbox)
        first = auth_time(signed["accessToken"])
        assert abs(first - time.time()) < 5
        services = app.state.services
        fresh = await identity_for_token(
            services.tokens, services.sessions, services.users, signed["accessToken"]
        )
        assert fresh is not None and signed_in_recently(fresh.auth_time, 600)

        # 11 minutes after the sign-in, the session is refreshed: the new token says when
        # the person signed in, not when the token was refreshed.
        earlier = await age_session(backend_urls, settings.mongo_db, signed["sessionId"], 660)
        refreshed = await data(client, REFRESH, {"t": signed["refreshToken"]})
        assert refreshed["__typename"] == "AuthPayload"
        assert auth_time(refreshed["accessToken"]) == int(earlier.timestamp())
        again = await data(client, REFRESH, {"t": refreshed["refreshToken"]})
        assert auth_time(again["accessToken"]) == int(earlier.timestamp())

        stale = await identity_for_token(
            services.tokens, services.sessions, services.users, again["accessToken"]
        )
        assert stale is not None and stale.auth_time == int(earlier.timestamp())
        assert not signed_in_recently(stale.auth_time, settings.reauthentication_window_seconds)

        # Signing in again is a new session with a new auth_time.
        login = await data(client, LOGIN, {"email": signed["user"]["email"], "password": PASSWORD})
        assert login["__typename"] == "AuthPayload"
        assert abs(auth_time(login["accessToken"]) - time.time()) < 5


def test_the_window_bounds() -> None:
    now = time.time()
    assert signed_in_recently(int(now) - 599, 600)
    assert not signed_in_recently(int(now) - 601, 600)


@pytest.mark.parametrize("value", [0, 3601])
def test_the_window_is_bounded(backend_urls: dict[str, str], mailbox: Any, value: int) -> None:
    with pytest.raises(ValueError, match="reauthentication_window_seconds"):
        settings_with(backend_urls, mailbox, reauthentication_window_seconds=value)
