"""Login, access tokens, `me` and `updateProfile`, as a client sees them over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import statistics
import time
import warnings
from typing import Any

import jwt
import pymongo
import pytest
from bson import ObjectId
from conftest import TEST_SECRET, serve
from conftest import test_settings as make_settings
from flows import (
    LOGIN,
    ME,
    PASSWORD,
    PROFILE,
    UPDATE_PROFILE,
    data,
    gql,
    new_email,
    password_set,
    register,
)

import schema.context

TOKEN_TTL = 900


# --- helpers -------------------------------------------------------------------------


def claims_for(user_id: str, **overrides: Any) -> dict[str, Any]:
    """Every claim the server issues, right for `user_id`; overrides replace or (None) drop one."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "authql",
        "aud": "authql",
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_TTL,
        "jti": secrets.token_urlsafe(16),
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def forge(claims: dict[str, Any], secret: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():  # PyJWT warns that TEST_SECRET is short for HS512
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm)


def b64url(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` token: header and payload, empty signature."""
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}."


async def post_with_header(
    client, query: str, authorization: str | None, variables: dict | None = None
) -> dict:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_unauthenticated(body: dict[str, Any], label: str = "") -> None:
    assert body.get("data") is None, (label, body)
    errors = body.get("errors") or []
    assert errors, (label, body)
    assert [error.get("extensions", {}).get("code") for error in errors] == ["UNAUTHENTICATED"], (label, body)


async def login(client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    return await data(client, LOGIN, {"email": email, "password": password})


async def me(client, token: str) -> dict[str, Any]:
    return await data(client, ME, token=token)


async def update(client, token: str, **fields: Any) -> dict[str, Any]:
    return await data(client, UPDATE_PROFILE, {"input": fields}, token=token)


async def stored_password_hash(backend_urls: dict[str, str], database: str, email: str) -> str:
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        document = await mongo[database]["users"].find_one({"email": email})
    finally:
        await mongo.close()
    assert document is not None, email
    return document["password_hash"]


# --- login ---------------------------------------------------------------------------


async def test_login_with_right_password_returns_auth_payload(client, mailbox):
    registered = await register(client, mailbox)
    email = registered["user"]["email"]
    assert email == email.lower()

    for typed in (email, email.upper(), f"  {email}  ", f"\t{email.title()}\n"):
        payload = await login(client, typed)
        assert payload["__typename"] == "AuthPayload", (typed, payload)
        assert payload["tokenType"] == "Bearer"
        assert payload["expiresIn"] == TOKEN_TTL
        assert payload["user"] == registered["user"], typed
        assert await me(client, payload["accessToken"]) == registered["user"]


async def test_login_failures_are_indistinguishable(client, mailbox):
    registered = await register(client, mailbox)
    half_finished = new_email()
    await password_set(client, mailbox, half_finished)  # steps 1-3, never completed

    attempts = {
        "unknown email": {"email": new_email(), "password": PASSWORD},
        "wrong password": {"email": registered["user"]["email"], "password": PASSWORD + "!"},
        "half-finished registration": {"email": half_finished, "password": PASSWORD},
        "invalid email": {"email": "not-an-email", "password": PASSWORD},
    }
    bodies = {label: await gql(client, LOGIN, variables) for label, variables in attempts.items()}

    reference = bodies["unknown email"]
    assert not reference.get("errors"), reference
    assert reference["data"]["login"]["__typename"] == "InvalidCredentials", reference
    assert reference["data"]["login"]["message"]
    for label, body in bodies.items():
        assert body == reference, label


@pytest.mark.serial
async def test_login_costs_one_password_verify_either_way(client, mailbox):
    registered = await register(client, mailbox)
    known = registered["user"]["email"]

    async def timed(email: str) -> float:
        started = time.perf_counter()
        result = await login(client, email, "a wrong password")
        elapsed = time.perf_counter() - started
        assert result["__typename"] == "InvalidCredentials", result
        return elapsed

    await timed(new_email())  # warm-up
    unknown_times, known_times = [], []
    for _ in range(7):
        unknown_times.append(await timed(new_email()))
        known_times.append(await timed(known))
    unknown, wrong = statistics.median(unknown_times), statistics.median(known_times)

    assert unknown >= 0.3 * wrong, (
        f"unknown email {unknown * 1000:.1f} ms vs wrong password {wrong * 1000:.1f} ms"
    )
    assert unknown <= 3 * wrong and wrong <= 3 * unknown, (unknown, wrong)


async def test_login_rehashes_password_when_parameters_changed(client, mailbox, backend_urls, settings):
    email = new_email()
    async with serve(make_settings(backend_urls, mailbox, argon2_time_cost=3)) as old_app:
        await register(old_app, mailbox, email)
    assert "t=3" in await stored_password_hash(backend_urls, settings.mongo_db, email)

    # A failed login through the session's app (time cost 2) leaves the old hash alone.
    assert (await login(client, email, "not the password"))["__typename"] == "InvalidCredentials"
    before = await stored_password_hash(backend_urls, settings.mongo_db, email)
    assert "t=3" in before

    assert (await login(client, email))["__typename"] == "AuthPayload"
    rehashed = await stored_password_hash(backend_urls, settings.mongo_db, email)
    assert "t=2" in rehashed and "t=3" not in rehashed, rehashed

    payload = await login(client, email)
    assert payload["__typename"] == "AuthPayload", payload
    assert (await me(client, payload["accessToken"]))["email"] == email

    assert (await login(client, email, "still not the password"))["__typename"] == "InvalidCredentials"
    assert await stored_password_hash(backend_urls, settings.mongo_db, email) == rehashed


# --- tokens and `me` -----------------------------------------------------------------


async def test_me_accepts_only_valid_access_tokens(client, mailbox):
    registered = await register(client, mailbox)
    user = registered["user"]
    user_id = user["id"]
    now = int(time.time())

    assert await me(client, registered["accessToken"]) == user

    rejected = {
        "no header": None,
        "empty bearer": "Bearer ",
        "garbage": "Bearer garbage",
        "wrong scheme": "Basic xxx",
        "wrong scheme, valid token": f"Basic {registered['accessToken']}",
        "other secret": "Bearer " + forge(claims_for(user_id), secret="another-secret-" + "y" * 40),
        "expired": "Bearer "
        + forge(claims_for(user_id, iat=now - 2 * TOKEN_TTL, nbf=now - 2 * TOKEN_TTL, exp=now - TOKEN_TTL)),
        "wrong audience": "Bearer " + forge(claims_for(user_id, aud="someone-else")),
        "wrong issuer": "Bearer " + forge(claims_for(user_id, iss="someone-else")),
        "alg none": "Bearer " + unsigned(claims_for(user_id)),
        "HS512": "Bearer " + forge(claims_for(user_id), algorithm="HS512"),
        "no jti": "Bearer " + forge(claims_for(user_id, jti=None)),
        "no exp": "Bearer " + forge(claims_for(user_id, exp=None)),
        "sub not an ObjectId": "Bearer " + forge(claims_for("not-an-object-id")),
        "sub names no user": "Bearer " + forge(claims_for(str(ObjectId()))),
    }
    for label, authorization in rejected.items():
        assert_unauthenticated(await post_with_header(client, ME, authorization), label)


async def test_update_profile_requires_a_valid_token(client, mailbox):
    registered = await register(client, mailbox)
    token = registered["accessToken"]
    before = await me(client, token)

    for authorization in (None, "Bearer garbage"):
        body = await post_with_header(
            client, UPDATE_PROFILE, authorization, {"input": {"firstName": "Mallory"}}
        )
        assert_unauthenticated(body, authorization)
    assert await me(client, token) == before

    result = await update(client, token, firstName="Grace")
    assert result["__typename"] == "ProfileUpdated", result
    assert result["user"]["firstName"] == "Grace"
    assert (await me(client, token))["firstName"] == "Grace"


async def test_access_token_carries_every_registered_claim(client, mailbox):
    registered = await register(client, mailbox)
    user_id = registered["user"]["id"]

    first = await login(client, registered["user"]["email"])
    second = await login(client, registered["user"]["email"])
    decoded = [
        jwt.decode(
            payload["accessToken"], TEST_SECRET, algorithms=["HS256"], audience="authql", issuer="authql"
        )
        for payload in (registered, first, second)
    ]
    for claims in decoded:
        assert {"iss", "aud", "sub", "iat", "nbf", "exp", "jti"} <= claims.keys(), claims
        assert claims["iss"] == "authql"
        assert claims["aud"] == "authql"
        assert claims["sub"] == user_id
        assert claims["exp"] == claims["iat"] + TOKEN_TTL
        assert claims["nbf"] <= claims["iat"] + 1
        assert abs(claims["iat"] - time.time()) < 60
        assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert len({claims["jti"] for claims in decoded}) == 3
    assert jwt.get_unverified_header(first["accessToken"])["alg"] == "HS256"


async def test_context_loads_the_user_once_per_request(client, mailbox, monkeypatch):
    registered = await register(client, mailbox)
    user = registered["user"]

    calls = []
    real_identity_for_token = schema.context.identity_for_token

    async def counting_identity_for_token(tokens, sessions, users, token):  # type: ignore[no-untyped-def]
        calls.append(token)
        return await real_identity_for_token(tokens, sessions, users, token)

    monkeypatch.setattr(schema.context, "identity_for_token", counting_identity_for_token)

    body = await gql(
        client, "{ a: me { id } b: me { email } c: me { id firstName } }", token=registered["accessToken"]
    )
    assert not body.get("errors"), body
    assert body["data"] == {
        "a": {"id": user["id"]},
        "b": {"email": user["email"]},
        "c": {"id": user["id"], "firstName": user["firstName"]},
    }
    assert len(calls) == 1, calls


# --- updateProfile -------------------------------------------------------------------


async def test_update_profile_changes_only_the_fields_sent(client, mailbox):
    registered = await register(client, mailbox)
    token = registered["accessToken"]
    before = await me(client, token)
    await asyncio.sleep(0.01)

    result = await update(client, token, firstName="Grace")
    assert result["__typename"] == "ProfileUpdated", result
    after = result["user"]
    assert after["firstName"] == "Grace"
    assert {k: v for k, v in after.items() if k not in ("firstName", "updatedAt")} == {
        k: v for k, v in before.items() if k not in ("firstName", "updatedAt")
    }
    assert after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] > before["updatedAt"], (before, after)
    assert await me(client, token) == after


async def test_update_profile_clears_phone_with_empty_string(client, mailbox):
    registered = await register(client, mailbox)
    token = registered["accessToken"]
    assert (await me(client, token))["phone"] == "+442079460018"

    result = await update(client, token, phone="")
    assert result["__typename"] == "ProfileUpdated", result
    assert result["user"]["phone"] is None
    after = await me(client, token)
    assert after["phone"] is None
    assert after["firstName"] == PROFILE["firstName"] and after["lastName"] == PROFILE["lastName"]


async def test_update_profile_normalises_phone_to_e164(client, mailbox):
    registered = await register(client, mailbox)
    token = registered["accessToken"]

    result = await update(client, token, phone="  +1 (415) 555-0123 ")
    assert result["__typename"] == "ProfileUpdated", result
    assert result["user"]["phone"] == "+14155550123"
    assert (await me(client, token))["phone"] == "+14155550123"


async def test_update_profile_trims_names(client, mailbox):
    registered = await register(client, mailbox)
    token = registered["accessToken"]

    result = await update(client, token, firstName="  Grace ", lastName="\tHopper  ")
    assert result["__typename"] == "ProfileUpdated", result
    assert (result["user"]["firstName"], result["user"]["lastName"]) == ("Grace", "Hopper")
    after = await me(client, token)
    assert (after["firstName"], after["lastName"]) == ("Grace", "Hopper")


async def test_update_profile_rejects_invalid_input_and_changes_nothing(client, mailbox):
    registered = await register(client, mailbox)
    token = registered["accessToken"]
    before = await me(client, token)

    result = await update(client, token, firstName="   ", lastName="x" * 101, phone="12345")
    assert result["__typename"] == "InvalidInput", result
    assert result["message"]
    assert sorted(problem["field"] for problem in result["fields"]) == ["firstName", "lastName", "phone"]
    assert all(problem["message"] for problem in result["fields"])
    assert await me(client, token) == before


@pytest.mark.parametrize(
    ("valid", "invalid", "field"),
    [
        ({"lastName": "Hopper"}, {"phone": "12345"}, "phone"),
        ({"phone": "+14155550123"}, {"firstName": "   "}, "firstName"),
        ({"firstName": "Grace", "phone": ""}, {"lastName": "x" * 101}, "lastName"),
    ],
)
async def test_update_profile_is_all_or_nothing(client, mailbox, valid, invalid, field):
    registered = await register(client, mailbox)
    token = registered["accessToken"]
    before = await me(client, token)

    result = await update(client, token, **valid, **invalid)
    assert result["__typename"] == "InvalidInput", result
    assert [problem["field"] for problem in result["fields"]] == [field]
    assert await me(client, token) == before
