"""The password policy as a person meets it: common passwords are refused wherever a
new password is set, and a password matches however the keyboard composed it (NFKC),
old hashes of the raw form included."""

from __future__ import annotations

import unicodedata

import pymongo
import pytest
from argon2 import PasswordHasher
from conftest import CHEAP_ARGON2
from flows import LOGIN, PASSWORD, SET_PASSWORD, data, new_email, register, verified
from test_lockout import CHANGE_PASSWORD, COMPLETE_RESET, DELETE_ACCOUNT, START_RESET, reset_code

COMMON = ["password1", "qwertyuiop", "iloveyou", "Trustno1", "PASSWORD123"]
COMMON_REASON = "most common passwords"
# The same password as a Mac (NFD) and a Windows (NFC) keyboard send it, and full-width.
COMPOSED = unicodedata.normalize("NFC", "Crème brûlée à 1984")
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)
FULL_WIDTH = "Crème brûlée à １９８４"


def weak_because_common(result: dict) -> bool:
    return result["__typename"] == "WeakPassword" and any(
        COMMON_REASON in reason for reason in result["reasons"]
    )


@pytest.mark.parametrize("password", COMMON)
async def test_common_passwords_are_refused_at_registration(client, mailbox, password):
    token = await verified(client, mailbox, new_email())
    result = await data(client, SET_PASSWORD, {"token": token, "password": password})
    assert weak_because_common(result), result


async def test_common_passwords_are_refused_by_change_password(client, mailbox):
    token = (await register(client, mailbox))["accessToken"]
    for password in COMMON:
        result = await data(client, CHANGE_PASSWORD, {"current": PASSWORD, "new": password}, token)
        assert weak_because_common(result), result


async def test_common_passwords_are_refused_by_password_reset(client, mailbox):
    email = new_email()
    await register(client, mailbox, email)
    started = await data(client, START_RESET, {"email": email})
    code = await reset_code(mailbox, email)
    for password in COMMON:
        result = await data(
            client, COMPLETE_RESET, {"id": started["resetId"], "code": code, "password": password}
        )
        assert weak_because_common(result), result
    # The policy is checked before the code: the code still works for a good password.
    done = await data(
        client, COMPLETE_RESET, {"id": started["resetId"], "code": code, "password": PASSWORD + "!"}
    )
    assert done["__typename"] == "AuthPayload", done


async def test_a_password_matches_however_the_keyboard_composed_it(client, mailbox):
    email = new_email()
    payload = await register(client, mailbox, email, password=COMPOSED)
    for typed in (DECOMPOSED, FULL_WIDTH, COMPOSED):
        result = await data(client, LOGIN, {"email": email, "password": typed})
        assert result["__typename"] == "AuthPayload", (typed, result)
    # The same for the password change and the account deletion.
    new = "Ünïcödé horse 2"
    changed = await data(client, CHANGE_PASSWORD, {"current": DECOMPOSED, "new": new}, payload["accessToken"])
    assert changed["__typename"] == "AuthPayload", changed
    nfd = unicodedata.normalize("NFD", new)
    deleted = await data(client, DELETE_ACCOUNT, {"password": nfd}, changed["accessToken"])
    assert deleted["__typename"] == "AccountDeleted", deleted


async def test_a_hash_of_the_raw_form_still_matches_and_is_upgraded(client, mailbox, backend_urls, settings):
    email = new_email()
    await register(client, mailbox, email)
    # An account whose hash was made, before normalisation came in, of the decomposed form.
    legacy = PasswordHasher(
        time_cost=CHEAP_ARGON2["argon2_time_cost"],
        memory_cost=CHEAP_ARGON2["argon2_memory_kib"],
        parallelism=CHEAP_ARGON2["argon2_parallelism"],
    ).hash(DECOMPOSED)
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        users = mongo[settings.mongo_db]["users"]
        await users.update_one({"email": email}, {"$set": {"password_hash": legacy}})
        assert (await data(client, LOGIN, {"email": email, "password": COMPOSED}))["__typename"] == (
            "InvalidCredentials"
        )
        result = await data(client, LOGIN, {"email": email, "password": DECOMPOSED})
        assert result["__typename"] == "AuthPayload", result
        # Upgraded at that login: every form of the password matches from now on.
        assert (await users.find_one({"email": email}))["password_hash"] != legacy
    finally:
        await mongo.close()
    for typed in (COMPOSED, FULL_WIDTH, DECOMPOSED):
        assert (await data(client, LOGIN, {"email": email, "password": typed}))["__typename"] == "AuthPayload"
