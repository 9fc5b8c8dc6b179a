"""The admin API's accounts over HTTP: invite and create, find (keyset pages stable under
inserts, each filter), update (verified email, notices to both addresses, no overwrite of
the person's concurrent change), roles and app metadata in the next token and in `me`,
disable / enable / disable until, AccountDisabled only after the person proved themselves
(on every sign-in path), sessions ended, two-factor reset, deletion."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pymongo
import pytest
from admin import ADMIN_KEY as KEY
from admin import (
    CREATE_USER,
    DELETE_USER,
    DISABLE_USER,
    ENABLE_USER,
    RESET_TWO_FACTOR,
    REVOKE_SESSIONS,
    UPDATE_USER,
    USER_BY_EMAIL,
    USER_BY_ID,
    USERS,
    admin_call,
    admin_data,
    codes,
)
from conftest import Mailbox, serve_app, text_of
from conftest import test_settings as settings_with
from flows import LOGIN, ME, PASSWORD, UPDATE_PROFILE, data, gql, new_email, register
from test_code_login import COMPLETE_CODE_LOGIN, START_CODE_LOGIN, end_start_cooldown, login_code
from test_two_factor import CONFIRM, VERIFY, enroll

from settings import Settings

REFRESH = """mutation($token: String!) { refreshTokens(refreshToken: $token) { __typename
  ... on AuthPayload { accessToken refreshToken } ... on Problem { message } } }"""
DISABLED = "... on AccountDisabled { until }"
LOGIN_DISABLED = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{
  __typename ... on AuthPayload {{ accessToken }} ... on SecondFactorRequired {{ challengeId }}
  ... on Problem {{ message }} {DISABLED} }} }}"""
VERIFY_DISABLED = f"""mutation($id: ID!, $code: String!) {{
  verifySecondFactor(challengeId: $id, code: $code) {{
  __typename ... on AuthPayload {{ accessToken }} ... on Problem {{ message }} {DISABLED} }} }}"""
CODE_LOGIN_DISABLED = f"""mutation($id: ID!, $code: String!) {{
  completeCodeLogin(loginId: $id, code: $code) {{
  __typename ... on AuthPayload {{ accessToken }} ... on Problem {{ message }} {DISABLED} }} }}"""
START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) { __typename
  ... on PasswordResetStarted { resetId } } }"""
RESET_DISABLED = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{ __typename
  ... on AuthPayload {{ accessToken }} ... on Problem {{ message }} {DISABLED} }} }}"""
ME_ROLES = "query { me { id roles } }"
NEW_PASSWORD = "a brand new horse battery"


@pytest.fixture(scope="module")
def admin_settings(backend_urls: dict[str, str], mailbox: Mailbox) -> Settings:
    return settings_with(backend_urls, mailbox, admin_api_key=KEY)


@pytest.fixture(scope="module")
async def client(admin_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(admin_settings) as (client, _):
        yield client


async def stored(settings: Settings, email: str, **changes: Any) -> dict[str, Any]:
    """The stored account, after `$set`ting `changes` into it (state written, not waited for)."""
    mongo: pymongo.AsyncMongoClient[Any] = pymongo.AsyncMongoClient(settings.mongo_url)
    try:
        users = mongo[settings.mongo_db]["users"]
        if changes:
            await users.update_one({"email": email}, {"$set": changes})
        document = await users.find_one({"email": email})
    finally:
        await mongo.close()
    assert document is not None
    return document


async def user_id_of(client: httpx.AsyncClient, email: str) -> str:
    found = await admin_data(client, USER_BY_EMAIL, {"email": email})
    assert found is not None
    return str(found["id"])


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def profile(email: str, **more: Any) -> dict[str, Any]:
    return {"email": email, "firstName": "Grace", "lastName": "Hopper", **more}


# ---------------------------------------------------------------- create and invite


async def test_an_invited_account_signs_in_with_the_mailed_code_and_its_address_is_then_proven(
    client, mailbox
):
    email = new_email()
    created = await admin_data(client, CREATE_USER, {"input": profile(email, roles=["staff"])})
    assert created["__typename"] == "UserResult", created
    user = created["user"]
    assert (user["email"], user["status"], user["roles"]) == (email, "ACTIVE", ["staff"])
    assert user["emailVerified"] is False and user["lastSignInAt"] is None
    assert user["signInMethods"] == ["EMAIL_CODE"]
    mail = text_of(await mailbox.wait_for(email))
    code = re.search(r"^\s*(\d{6,10})\s*$", mail, re.MULTILINE)
    login_id = re.search(r"sign-in id is (\S+) ", mail)
    assert code and login_id, mail
    signed_in = await data(client, COMPLETE_CODE_LOGIN, {"id": login_id.group(1), "code": code.group(1)})
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert claims(signed_in["accessToken"])["roles"] == ["staff"]
    after = await admin_data(client, USER_BY_ID, {"id": user["id"]})
    assert after["emailVerified"] is True and after["lastSignInAt"] is not None
    assert [session["ipAddress"] for session in after["sessions"]] == ["203.0.113.7"]
    # No password was given: a login with any password is the usual InvalidCredentials.
    refused = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    assert refused["__typename"] == "InvalidCredentials"


async def test_create_refuses_a_taken_address_and_invalid_fields(client, mailbox):
    taken = (await register(client, mailbox))["user"]["email"]
    again = await admin_data(client, CREATE_USER, {"input": profile(taken.upper(), invite=False)})
    assert again["__typename"] == "AccountExists"
    bad = await admin_data(
        client,
        CREATE_USER,
        {
            "input": profile(
                "not an address",
                firstName="",
                phone="12",
                roles=["ok", "no spaces allowed"],
                appMetadata={"blob": "x" * 4096},
                password="short",
            )
        },
    )
    assert bad["__typename"] == "InvalidInput"
    assert {field["field"] for field in bad["fields"]} == {
        "email",
        "firstName",
        "phone",
        "roles",
        "appMetadata",
    }
    weak = await admin_data(
        client, CREATE_USER, {"input": profile(new_email(), password="short", invite=False)}
    )
    assert [field["field"] for field in weak["fields"]] == ["password"]
    many = await admin_data(
        client, CREATE_USER, {"input": profile(new_email(), roles=[f"r{n}" for n in range(33)], invite=False)}
    )
    assert [field["field"] for field in many["fields"]] == ["roles"]
    not_object = await admin_data(
        client, CREATE_USER, {"input": profile(new_email(), appMetadata=[1], invite=False)}
    )
    assert [field["field"] for field in not_object["fields"]] == ["appMetadata"]


async def test_a_created_account_with_a_password_logs_in(client):
    email = new_email()
    created = await admin_data(
        client, CREATE_USER, {"input": profile(email, password=PASSWORD, invite=False)}
    )
    assert created["user"]["signInMethods"] == ["PASSWORD", "EMAIL_CODE"]
    assert (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- find


async def test_user_by_id_or_email_and_null_when_there_is_none(client, mailbox):
    registered = await register(client, mailbox)
    by_email = await admin_data(client, USER_BY_EMAIL, {"email": registered["user"]["email"].upper()})
    assert by_email["id"] == registered["user"]["id"]
    assert await admin_data(client, USER_BY_EMAIL, {"email": new_email()}) is None
    assert await admin_data(client, USER_BY_ID, {"id": "64b000000000000000000000"}) is None
    assert await admin_data(client, USER_BY_ID, {"id": "not-an-id"}) is None
    body = await admin_call(client, "{ user { id } }")
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_pages_are_stable_under_inserts_between_them(client):
    role = "batch-" + new_email().split("@")[0]

    async def create(count: int) -> list[str]:
        made = []
        for _ in range(count):
            email = new_email()
            result = await admin_data(
                client, CREATE_USER, {"input": profile(email, roles=[role], invite=False)}
            )
            made.append(result["user"]["id"])
        return made

    before = await create(5)
    seen: list[str] = []
    inserted: list[str] = []
    after = None
    while True:
        page = await admin_data(client, USERS, {"filter": {"role": role}, "first": 2, "after": after})
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        assert all(edge["node"]["roles"] == [role] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        if len(inserted) < 4:
            inserted.extend(await create(2))  # new accounts between pages
    assert len(seen) == len(set(seen)), "an account came twice"
    assert seen[: len(before)] == before, "accounts that existed were skipped or reordered"
    assert set(seen) == set(before) | set(inserted)


async def test_each_filter_and_the_bounds_of_first(client):
    prefix = "pre-" + new_email().split("@")[0]
    first, second = f"{prefix}-a@example.com", f"{prefix}-b@example.com"
    for email in (first, second):
        await admin_data(client, CREATE_USER, {"input": profile(email, invite=False)})
    by_prefix = await admin_data(client, USERS, {"filter": {"emailPrefix": prefix.upper()}, "first": 10})
    assert [edge["node"]["email"] for edge in by_prefix["edges"]] == [first, second]
    disabled_id = by_prefix["edges"][1]["node"]["id"]
    await admin_data(client, DISABLE_USER, {"id": disabled_id})
    for status, expected in (("DISABLED", [second]), ("ACTIVE", [first])):
        page = await admin_data(
            client, USERS, {"filter": {"emailPrefix": prefix, "status": status}, "first": 10}
        )
        assert [edge["node"]["email"] for edge in page["edges"]] == expected
    now = datetime.now(UTC)
    recent = await admin_data(
        client,
        USERS,
        {
            "filter": {"emailPrefix": prefix, "createdAfter": (now - timedelta(minutes=5)).isoformat()},
            "first": 10,
        },
    )
    assert len(recent["edges"]) == 2
    old = await admin_data(
        client,
        USERS,
        {
            "filter": {"emailPrefix": prefix, "createdBefore": (now - timedelta(minutes=5)).isoformat()},
            "first": 10,
        },
    )
    assert old["edges"] == []
    for first_value in (0, 201):
        assert codes(await admin_call(client, USERS, {"first": first_value})) == ["BAD_USER_INPUT"]
    assert codes(await admin_call(client, USERS, {"first": 1, "after": "!!"})) == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------- update, roles, app metadata


async def test_roles_and_app_metadata_reach_the_next_token_after_a_refresh_and_me(client, mailbox):
    registered = await register(client, mailbox)
    user_id = registered["user"]["id"]
    assert claims(registered["accessToken"])["roles"] == []
    metadata = {"plan": "pro", "limits": {"seats": 5}}
    updated = await admin_data(
        client,
        UPDATE_USER,
        {"id": user_id, "input": {"roles": ["admin", "billing"], "appMetadata": metadata}},
    )
    assert updated["user"]["roles"] == ["admin", "billing"]
    # The signed-in copy of the user is stale at once: `me` shows the roles.
    me = await data(client, ME_ROLES, token=registered["accessToken"])
    assert me["roles"] == ["admin", "billing"]
    refreshed = await data(client, REFRESH, {"token": registered["refreshToken"]})
    token = claims(refreshed["accessToken"])
    assert (token["roles"], token["app_metadata"]) == (["admin", "billing"], metadata)
    too_big = {"blob": "x" * 4100}
    refused = await admin_data(client, UPDATE_USER, {"id": user_id, "input": {"appMetadata": too_big}})
    assert refused["__typename"] == "InvalidInput"
    assert refused["fields"][0]["field"] == "appMetadata"
    just_fits = {"blob": "x" * (4096 - len('{"blob":""}'))}
    fits = await admin_data(client, UPDATE_USER, {"id": user_id, "input": {"appMetadata": just_fits}})
    assert fits["__typename"] == "UserResult"


async def test_an_email_changed_by_the_operator_is_verified_and_both_addresses_hear_of_it(client, mailbox):
    registered = await register(client, mailbox)
    old, new = registered["user"]["email"], new_email()
    updated = await admin_data(client, UPDATE_USER, {"id": registered["user"]["id"], "input": {"email": new}})
    assert (updated["user"]["email"], updated["user"]["emailVerified"]) == (new, True)
    assert "changed" in text_of(await mailbox.wait_for(old, 2))  # after the registration's mail
    assert old in text_of(await mailbox.wait_for(new))
    assert (await data(client, LOGIN, {"email": new, "password": PASSWORD}))["__typename"] == "AuthPayload"
    taken = (await register(client, mailbox))["user"]["email"]
    clash = await admin_data(client, UPDATE_USER, {"id": registered["user"]["id"], "input": {"email": taken}})
    assert clash["__typename"] == "AccountExists"
    unknown = await admin_data(
        client, UPDATE_USER, {"id": "64b000000000000000000000", "input": {"firstName": "X"}}
    )
    assert unknown["__typename"] == "NotFound"


async def test_an_admin_edit_never_overwrites_the_persons_concurrent_change(client, mailbox, monkeypatch):
    registered = await register(client, mailbox)
    token, user_id = registered["accessToken"], registered["user"]["id"]
    # Different fields, raced: both changes stay.
    await asyncio.gather(
        data(client, UPDATE_PROFILE, {"input": {"lastName": "Person"}}, token=token),
        admin_data(client, UPDATE_USER, {"id": user_id, "input": {"firstName": "Operator", "roles": ["x"]}}),
    )
    both = await data(client, ME, token=token)
    assert (both["firstName"], both["lastName"]) == ("Operator", "Person")
    # The same field, changed by the person after the operator's change was decided on
    # (forced between the admin's read and write): the operator is told, nothing is overwritten.
    from resolvers.admin import users as admin_users

    read = admin_users._by_id

    async def read_then_the_person_writes(id: str) -> Any:
        found = await read(id)
        await data(client, UPDATE_PROFILE, {"input": {"firstName": "Personal"}}, token=token)
        return found

    monkeypatch.setattr(admin_users, "_by_id", read_then_the_person_writes)
    answer = await admin_data(client, UPDATE_USER, {"id": user_id, "input": {"firstName": "Overwrite"}})
    monkeypatch.undo()
    assert answer["__typename"] == "InvalidInput"
    assert answer["fields"][0]["field"] == "firstName"
    assert (await data(client, ME, token=token))["firstName"] == "Personal"


# ---------------------------------------------------------------- disabled accounts


async def test_disabling_ends_every_session_at_once_and_refresh_fails(client, mailbox):
    registered = await register(client, mailbox)
    email, user_id = registered["user"]["email"], registered["user"]["id"]
    second = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    disabled = await admin_data(client, DISABLE_USER, {"id": user_id, "reason": "chargeback"})
    assert (disabled["user"]["status"], disabled["user"]["disabledReason"]) == ("DISABLED", "chargeback")
    assert disabled["user"]["disabledUntil"] is None
    for payload in (registered, second):
        assert codes(await gql(client, ME, token=payload["accessToken"])) == ["UNAUTHENTICATED"]
        refreshed = await data(client, REFRESH, {"token": payload["refreshToken"]})
        assert refreshed["__typename"] == "InvalidRefreshToken"
    answer = await data(client, LOGIN_DISABLED, {"email": email, "password": PASSWORD})
    assert answer == {"__typename": "AccountDisabled", "message": "This account is disabled.", "until": None}
    enabled = await admin_data(client, ENABLE_USER, {"id": user_id})
    assert (enabled["user"]["status"], enabled["user"]["disabledReason"]) == ("ACTIVE", None)
    assert (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["__typename"] == "AuthPayload"


async def test_a_disable_until_a_time_opens_by_itself(client, mailbox, admin_settings):
    registered = await register(client, mailbox)
    email, user_id = registered["user"]["email"], registered["user"]["id"]
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    disabled = await admin_data(client, DISABLE_USER, {"id": user_id, "until": until.isoformat()})
    assert datetime.fromisoformat(disabled["user"]["disabledUntil"]) == until
    answer = await data(client, LOGIN_DISABLED, {"email": email, "password": PASSWORD})
    assert answer["__typename"] == "AccountDisabled"
    assert datetime.fromisoformat(answer["until"]) == until
    # The time passes (written into the store, not waited for): the account opens by itself.
    await stored(admin_settings, email, disabled_until=int(datetime.now(UTC).timestamp()) - 1)
    assert (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["__typename"] == "AuthPayload"
    assert (await admin_data(client, USER_BY_ID, {"id": user_id}))["status"] == "ACTIVE"
    past = await admin_data(client, DISABLE_USER, {"id": user_id, "until": "2020-01-01T00:00:00Z"})
    assert past["__typename"] == "InvalidInput"


async def test_account_disabled_tells_nobody_without_the_password_that_the_account_exists(client, mailbox):
    registered = await register(client, mailbox)
    email = registered["user"]["email"]
    await admin_data(client, DISABLE_USER, {"id": registered["user"]["id"]})
    wrong_on_disabled = await gql(client, LOGIN_DISABLED, {"email": email, "password": "wrong password 123"})
    wrong_on_nobody = await gql(
        client, LOGIN_DISABLED, {"email": new_email(), "password": "wrong password 123"}
    )
    assert wrong_on_disabled == wrong_on_nobody
    assert wrong_on_disabled["data"]["login"]["__typename"] == "InvalidCredentials"
    right = await data(client, LOGIN_DISABLED, {"email": email, "password": PASSWORD})
    assert right["__typename"] == "AccountDisabled"


async def test_code_sign_in_and_password_reset_answer_account_disabled_after_the_code(
    client, mailbox, admin_settings
):
    registered = await register(client, mailbox)
    email = registered["user"]["email"]
    await admin_data(client, DISABLE_USER, {"id": registered["user"]["id"]})
    started = await data(client, START_CODE_LOGIN, {"email": email})
    wrong = await data(client, CODE_LOGIN_DISABLED, {"id": started["loginId"], "code": "000000"})
    assert wrong["__typename"] == "InvalidCode"
    answer = await data(
        client, CODE_LOGIN_DISABLED, {"id": started["loginId"], "code": await login_code(mailbox, email)}
    )
    assert answer["__typename"] == "AccountDisabled"
    hash_before = (await stored(admin_settings, email))["password_hash"]
    reset = await data(client, START_RESET, {"email": email})
    code = re.search(r"^\s*(\d{6})\s*$", text_of(await mailbox.wait_for(email, 3)), re.MULTILINE)
    assert code
    answer = await data(
        client, RESET_DISABLED, {"id": reset["resetId"], "code": code.group(1), "password": NEW_PASSWORD}
    )
    assert answer["__typename"] == "AccountDisabled"
    assert (await stored(admin_settings, email))["password_hash"] == hash_before
    await end_start_cooldown(admin_settings, email)


async def test_the_second_factor_answers_account_disabled_for_an_account_disabled_meanwhile(client, mailbox):
    registered = await register(client, mailbox)
    email, token = registered["user"]["email"], registered["accessToken"]
    totp = await enroll(client, token)
    from conftest import TOTP_NOW

    confirmed = await data(client, CONFIRM, {"code": totp.at(TOTP_NOW - 30)}, token=token)
    assert confirmed["__typename"] == "TotpEnabled"
    challenge = await data(client, LOGIN_DISABLED, {"email": email, "password": PASSWORD})
    assert challenge["__typename"] == "SecondFactorRequired"
    await admin_data(client, DISABLE_USER, {"id": registered["user"]["id"]})
    answer = await data(client, VERIFY_DISABLED, {"id": challenge["challengeId"], "code": totp.at(TOTP_NOW)})
    assert answer["__typename"] == "AccountDisabled"
    # Disabled before the first factor: the password alone gets the answer (no challenge).
    again = await data(client, LOGIN_DISABLED, {"email": email, "password": PASSWORD})
    assert again["__typename"] == "AccountDisabled"
    # The operator resets the lost authenticator and enables the account: the password signs in.
    reset = await admin_data(client, RESET_TWO_FACTOR, {"id": registered["user"]["id"]})
    assert "TOTP" not in reset["user"]["signInMethods"]
    await admin_data(client, ENABLE_USER, {"id": registered["user"]["id"]})
    assert (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["__typename"] == "AuthPayload"
    assert any("two-factor" in text_of(mail).lower() for mail in mailbox.received(email)[-2:])
    assert VERIFY  # the person's own verify operation, as test_two_factor sends it


# ---------------------------------------------------------------- sessions, deletion


async def test_revoke_user_sessions_ends_them_all_and_delete_removes_the_account(client, mailbox):
    registered = await register(client, mailbox)
    email, user_id = registered["user"]["email"], registered["user"]["id"]
    await data(client, LOGIN, {"email": email, "password": PASSWORD})
    revoked = await admin_data(client, REVOKE_SESSIONS, {"id": user_id})
    assert revoked == {"__typename": "SessionsRevoked", "revokedSessions": 2}
    assert codes(await gql(client, ME, token=registered["accessToken"])) == ["UNAUTHENTICATED"]
    fresh = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    deleted = await admin_data(client, DELETE_USER, {"id": user_id})
    assert deleted == {"__typename": "UserDeleted", "id": user_id}
    assert codes(await gql(client, ME, token=fresh["accessToken"])) == ["UNAUTHENTICATED"]
    assert (await data(client, LOGIN, {"email": email, "password": PASSWORD}))[
        "__typename"
    ] == "InvalidCredentials"
    for query in (DELETE_USER, REVOKE_SESSIONS, ENABLE_USER, RESET_TWO_FACTOR):
        assert (await admin_data(client, query, {"id": user_id}))["__typename"] == "NotFound"
