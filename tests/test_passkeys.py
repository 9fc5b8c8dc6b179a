"""Passkeys (passkeys.graphql) over HTTP with the real Redis, nx-27017 and SMTP sink, and
a software authenticator (tests/authenticator.py) in place of the browser: registration,
sign-in with and without an email, and each answer the server must refuse."""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pymongo
import pyotp
import pytest
from authenticator import Authenticator, b64url
from conftest import TOTP_NOW, captured_security_events, serve_app, text_of
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from cryptography.hazmat.primitives.asymmetric import ec
from flows import AUTH, PASSWORD, PROBLEM, RATE, data, new_email, register
from test_recent_sign_in import age_session

from settings import ConfigurationError, load_settings

OPTIONS = "... on PasskeyOptions { challengeId optionsJson expiresAt }"
PASSKEY = "id name createdAt lastUsedAt backedUp"
INVALID = "... on InvalidInput { fields { field message } }"
START_REGISTRATION = (
    f"""mutation {{ startPasskeyRegistration {{ __typename {OPTIONS} {PROBLEM} {RATE} }} }}"""
)
FINISH_REGISTRATION = f"""mutation($c: ID!, $j: String!, $n: String) {{
  finishPasskeyRegistration(challengeId: $c, credentialJson: $j, name: $n) {{ __typename
  ... on PasskeyAdded {{ passkey {{ {PASSKEY} }} }} {PROBLEM} {INVALID} {RATE} }} }}"""
START_SIGN_IN = (
    f"""mutation($e: String) {{ startPasskeySignIn(email: $e) {{ __typename {OPTIONS} {RATE} }} }}"""
)
FINISH_SIGN_IN = f"""mutation($c: ID!, $j: String!) {{
  finishPasskeySignIn(challengeId: $c, credentialJson: $j) {{ __typename
  {AUTH} {PROBLEM} {RATE} }} }}"""
RENAME = f"""mutation($id: ID!, $n: String!) {{ renamePasskey(id: $id, name: $n) {{ __typename
  ... on PasskeyRenamed {{ passkey {{ {PASSKEY} }} }} {PROBLEM} {INVALID} }} }}"""
REMOVE = f"""mutation($id: ID!) {{ removePasskey(id: $id) {{ __typename
  ... on PasskeyRemoved {{ user {{ id passkeys {{ id }} }} }} {PROBLEM} }} }}"""
MY_PASSKEYS = f"query {{ me {{ passkeys {{ {PASSKEY} }} }} }}"
ENROLL = (
    """mutation($p: String!) { enrollTotp(password: $p) { __typename ... on TotpEnrollment { secret } } }"""
)
CONFIRM = """mutation($c: String!) { confirmTotp(code: $c) { __typename } }"""
LOGIN = f"""mutation($email: String!, $password: String!) {{ login(email: $email, password: $password) {{
  __typename {AUTH} ... on SecondFactorRequired {{ challengeId }} {PROBLEM} }} }}"""
NOTICE_SUBJECT = "Security notice for your authql account"


@pytest.fixture(scope="module")
async def served(backend_urls, mailbox) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async with serve_app(settings_with(backend_urls, mailbox)) as (client, app):
        yield client, app


@pytest.fixture
def client(served) -> httpx.AsyncClient:
    return served[0]


@pytest.fixture
def origin(served) -> str:
    return served[1].state.services.settings.webauthn_rp[1][0]


def amr(access_token: str) -> list[str]:
    return list(jwt.decode(access_token, options={"verify_signature": False})["amr"])


async def add_passkey(
    client: httpx.AsyncClient, token: str, authenticator: Authenticator, name: str | None = None
) -> dict[str, Any]:
    started = await data(client, START_REGISTRATION, token=token)
    assert started["__typename"] == "PasskeyOptions", started
    credential = authenticator.create(started["optionsJson"])
    added = await data(
        client, FINISH_REGISTRATION, {"c": started["challengeId"], "j": credential, "n": name}, token=token
    )
    assert added["__typename"] == "PasskeyAdded", added
    return added["passkey"]


async def with_passkey(
    client: httpx.AsyncClient, mailbox: Any, origin: str, **knobs: Any
) -> tuple[dict[str, Any], Authenticator, dict[str, Any]]:
    """A registered account with one passkey: its AuthPayload, the authenticator, the passkey."""
    registered = await register(client, mailbox)
    authenticator = Authenticator(origin=origin, **knobs)
    passkey = await add_passkey(client, registered["accessToken"], authenticator)
    return registered, authenticator, passkey


async def sign_in_options(client: httpx.AsyncClient, email: str | None) -> dict[str, Any]:
    started = await data(client, START_SIGN_IN, {"e": email})
    assert started["__typename"] == "PasskeyOptions", started
    return started


async def finish(client: httpx.AsyncClient, challenge_id: str, credential: str) -> dict[str, Any]:
    return await data(client, FINISH_SIGN_IN, {"c": challenge_id, "j": credential})


async def sign_in(
    client: httpx.AsyncClient, authenticator: Authenticator, email: str | None, **knobs: Any
) -> dict[str, Any]:
    started = await sign_in_options(client, email)
    return await finish(client, started["challengeId"], authenticator.get(started["optionsJson"], **knobs))


def notices(mailbox: Any, email: str) -> list[str]:
    return [text_of(message) for message in mailbox.received(email) if message["Subject"] == NOTICE_SUBJECT]


async def wait_for_notices(mailbox: Any, email: str, count: int) -> list[str]:
    for _ in range(500):
        if len(notices(mailbox, email)) >= count:
            break
        await asyncio.sleep(0.02)
    return notices(mailbox, email)


def shape(value: Any) -> Any:
    """A JSON value with every string replaced by its length and every number by 0: what a
    client sees of it apart from the random bytes (challenge, ids)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, str):
        return len(value)
    return 0 if isinstance(value, int | float) else value


# ---------------------------------------------------------------- registration


async def test_registration_asks_for_a_discoverable_user_verifying_passkey_and_mails_a_notice(
    client, mailbox, origin
):
    registered = await register(client, mailbox)
    token, email = registered["accessToken"], registered["user"]["email"]
    started = await data(client, START_REGISTRATION, token=token)
    options = json.loads(started["optionsJson"])
    rp_id = origin.split("://")[1].split(":")[0]
    assert options["rp"] == {"id": rp_id, "name": "authql"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert [param["alg"] for param in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["excludeCredentials"] == []
    assert options["timeout"] == 120_000
    # The user handle is random: neither the address nor the account id.
    handle = options["user"]["id"]
    assert options["user"]["name"] == email
    assert len(handle) >= 43 and email not in handle and registered["user"]["id"] not in handle

    authenticator = Authenticator(origin=origin)
    credential = authenticator.create(started["optionsJson"])
    added = await data(
        client, FINISH_REGISTRATION, {"c": started["challengeId"], "j": credential}, token=token
    )
    assert added["__typename"] == "PasskeyAdded", added
    assert added["passkey"]["name"].startswith("Passkey 20")  # the kind and the date
    assert added["passkey"]["backedUp"] is False and added["passkey"]["lastUsedAt"] is None
    assert "a passkey was added" in (await wait_for_notices(mailbox, email, 1))[0]

    # The next registration excludes it, and keeps the account's handle.
    again = json.loads((await data(client, START_REGISTRATION, token=token))["optionsJson"])
    assert [each["id"] for each in again["excludeCredentials"]] == [json.loads(credential)["id"]]
    assert again["user"]["id"] == handle
    second = await add_passkey(client, token, Authenticator(origin=origin, synced=True), name="My phone")
    assert second["name"] == "My phone" and second["backedUp"] is True
    listed = (await data(client, MY_PASSKEYS, token=token))["passkeys"]
    assert [each["id"] for each in listed] == [added["passkey"]["id"], second["id"]]


async def test_a_registration_challenge_is_single_use_and_the_starting_accounts_own(client, mailbox, origin):
    registered = await register(client, mailbox)
    other = await register(client, mailbox)
    token = registered["accessToken"]
    started = await data(client, START_REGISTRATION, token=token)
    credential = Authenticator(origin=origin).create(started["optionsJson"])
    variables = {"c": started["challengeId"], "j": credential}
    # Another account cannot finish it (and does not spend it)... it does: GETDEL takes it first.
    stolen = await data(client, FINISH_REGISTRATION, variables, token=other["accessToken"])
    assert stolen["__typename"] == "FlowExpired", stolen
    started = await data(client, START_REGISTRATION, token=token)
    credential = Authenticator(origin=origin).create(started["optionsJson"])
    variables = {"c": started["challengeId"], "j": credential}
    assert (await data(client, FINISH_REGISTRATION, variables, token=token))["__typename"] == "PasskeyAdded"
    replayed = await data(client, FINISH_REGISTRATION, variables, token=token)
    assert replayed["__typename"] == "FlowExpired", replayed
    # A bad name is refused before the challenge is spent.
    started = await data(client, START_REGISTRATION, token=token)
    credential = Authenticator(origin=origin).create(started["optionsJson"])
    bad = await data(
        client, FINISH_REGISTRATION, {"c": started["challengeId"], "j": credential, "n": " \n"}, token=token
    )
    assert bad["__typename"] == "InvalidInput" and bad["fields"][0]["field"] == "name", bad
    good = await data(
        client, FINISH_REGISTRATION, {"c": started["challengeId"], "j": credential}, token=token
    )
    assert good["__typename"] == "PasskeyAdded", good


@pytest.mark.parametrize(
    "knobs",
    [
        {"origin": "https://evil.example"},
        {"rp_id": "evil.example"},
        {"user_verified": False},
    ],
    ids=["wrong origin", "wrong RP id hash", "no user verification"],
)
async def test_a_registration_that_does_not_verify_is_rejected(client, mailbox, origin, knobs):
    registered = await register(client, mailbox)
    token = registered["accessToken"]
    started = await data(client, START_REGISTRATION, token=token)
    credential = Authenticator(origin=origin).create(started["optionsJson"], **knobs)
    with captured_security_events() as events:
        rejected = await data(
            client, FINISH_REGISTRATION, {"c": started["challengeId"], "j": credential}, token=token
        )
    assert rejected["__typename"] == "PasskeyRejected", rejected
    assert any(event["event"] == "passkey_registration_rejected" for event in events)
    assert (await data(client, MY_PASSKEYS, token=token))["passkeys"] == []
    garbage = await data(client, START_REGISTRATION, token=token)
    for junk in ["{", "[]", json.dumps({"id": "x"}), "null"]:
        answer = await data(
            client, FINISH_REGISTRATION, {"c": garbage["challengeId"], "j": junk}, token=token
        )
        assert answer["__typename"] in {"PasskeyRejected", "FlowExpired"}, answer


async def test_registration_and_removal_need_a_recent_sign_in(backend_urls, client, mailbox, origin, served):
    registered, authenticator, passkey = await with_passkey(client, mailbox, origin)
    db = served[1].state.services.settings.mongo_db
    await age_session(backend_urls, db, registered["sessionId"], 3600)
    refreshed = await data(
        client,
        """mutation($t: String!) { refreshTokens(refreshToken: $t) {
          ... on AuthPayload { accessToken } } }""",
        {"t": registered["refreshToken"]},
    )
    stale = refreshed["accessToken"]
    assert (await data(client, START_REGISTRATION, token=stale))["__typename"] == "ReauthenticationRequired"
    assert (await data(client, REMOVE, {"id": passkey["id"]}, token=stale))["__typename"] == (
        "ReauthenticationRequired"
    )
    # Signing in again with the passkey is a recent sign-in.
    fresh = await sign_in(client, authenticator, None)
    assert (await data(client, START_REGISTRATION, token=fresh["accessToken"]))[
        "__typename"
    ] == "PasskeyOptions"
    body = await client.post("/graphql", json={"query": START_REGISTRATION})
    assert body.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------- signing in


async def test_sign_in_with_an_email_and_without_one_opens_a_multi_factor_session(client, mailbox, origin):
    registered, authenticator, passkey = await with_passkey(client, mailbox, origin)
    email = registered["user"]["email"]
    started = await sign_in_options(client, email)
    options = json.loads(started["optionsJson"])
    assert [each["id"] for each in options["allowCredentials"]] == [
        b64url(authenticator.credentials[0].credential_id)
    ]
    assert options["userVerification"] == "required"
    with captured_security_events() as events:
        signed = await finish(client, started["challengeId"], authenticator.get(started["optionsJson"]))
    assert signed["__typename"] == "AuthPayload", signed
    assert signed["user"]["email"] == email
    assert amr(signed["accessToken"]) == ["hwk", "user", "mfa"]
    assert any(event["event"] == "passkey_sign_in_succeeded" for event in events)

    # Usernameless: no list, the authenticator offers the discoverable credential it holds.
    started = await sign_in_options(client, None)
    assert (
        "allowCredentials" not in json.loads(started["optionsJson"])
        or not json.loads(started["optionsJson"])["allowCredentials"]
    )
    signed = await finish(client, started["challengeId"], authenticator.get(started["optionsJson"]))
    assert signed["__typename"] == "AuthPayload" and signed["user"]["id"] == registered["user"]["id"], signed
    listed = (await data(client, MY_PASSKEYS, token=signed["accessToken"]))["passkeys"]
    assert listed[0]["id"] == passkey["id"] and listed[0]["lastUsedAt"] is not None


async def test_a_synced_passkey_shows_backed_up_and_signs_in_as_a_software_key(client, mailbox, origin):
    registered, authenticator, passkey = await with_passkey(
        client, mailbox, origin, synced=True, counting=False
    )
    assert passkey["backedUp"] is True
    for _ in range(2):  # a counter that stays 0 is no clone
        signed = await sign_in(client, authenticator, None)
        assert signed["__typename"] == "AuthPayload", signed
        assert amr(signed["accessToken"]) == ["swk", "user", "mfa"]


async def test_a_two_factor_account_signs_in_by_passkey_without_a_second_step(client, mailbox, origin):
    registered, authenticator, _ = await with_passkey(client, mailbox, origin)
    token, email = registered["accessToken"], registered["user"]["email"]
    enrolled = await data(client, ENROLL, {"p": PASSWORD}, token=token)
    totp = pyotp.TOTP(enrolled["secret"])
    assert (await data(client, CONFIRM, {"c": totp.at(TOTP_NOW - 30)}, token=token))[
        "__typename"
    ] == "TotpEnabled"
    by_password = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    assert by_password["__typename"] == "SecondFactorRequired"
    for address in (email, None):
        signed = await sign_in(client, authenticator, address)
        assert signed["__typename"] == "AuthPayload", signed
        assert "mfa" in amr(signed["accessToken"])


async def test_a_challenge_is_single_use_even_when_raced(client, mailbox, origin):
    registered, authenticator, _ = await with_passkey(client, mailbox, origin)
    started = await sign_in_options(client, registered["user"]["email"])
    assertion = authenticator.get(started["optionsJson"])
    answers = await asyncio.gather(*(finish(client, started["challengeId"], assertion) for _ in range(5)))
    assert sorted(answer["__typename"] for answer in answers) == ["AuthPayload"] + ["FlowExpired"] * 4
    replayed = await finish(client, started["challengeId"], assertion)
    assert replayed["__typename"] == "FlowExpired"
    # An assertion made for one challenge does not answer another.
    other = await sign_in_options(client, registered["user"]["email"])
    assert (await finish(client, other["challengeId"], assertion))["__typename"] == "PasskeyRejected"


@pytest.mark.parametrize(
    "knobs",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://127.0.0.1:8001"},
        {"rp_id": "evil.example"},
        {"user_verified": False},
        {"user_present": False},
        {"signing_key": "another"},
        {"user_handle": b"someone else's handle"},
    ],
    ids=[
        "phishing origin",
        "another port",
        "wrong RP id hash",
        "no UV",
        "no UP",
        "another key",
        "user handle",
    ],
)
@pytest.mark.parametrize("with_email", [True, False], ids=["email", "usernameless"])
async def test_an_assertion_that_does_not_verify_is_rejected_and_spends_the_challenge(
    client, mailbox, origin, knobs, with_email
):
    registered, authenticator, _ = await with_passkey(client, mailbox, origin)
    email = registered["user"]["email"]
    if knobs.get("signing_key") == "another":
        knobs = {"signing_key": ec.generate_private_key(ec.SECP256R1())}
    started = await sign_in_options(client, email if with_email else None)
    with captured_security_events() as events:
        rejected = await finish(
            client, started["challengeId"], authenticator.get(started["optionsJson"], **knobs)
        )
    assert rejected == {"__typename": "PasskeyRejected", "message": "The passkey could not be verified."}
    failed = [event for event in events if event["event"] == "passkey_sign_in_failed"]
    assert len(failed) == 1 and failed[0]["user"] == registered["user"]["id"], events
    # The challenge is gone: even the right answer to it is refused now.
    retried = await finish(client, started["challengeId"], authenticator.get(started["optionsJson"]))
    assert retried["__typename"] == "FlowExpired"
    assert (await sign_in(client, authenticator, email))["__typename"] == "AuthPayload"


async def test_a_counter_that_goes_back_is_a_cloned_key_and_refused(client, mailbox, origin):
    registered, authenticator, _ = await with_passkey(client, mailbox, origin)
    email = registered["user"]["email"]
    assert (await sign_in(client, authenticator, email, sign_count=5))["__typename"] == "AuthPayload"
    for count in (3, 5, 0):
        with captured_security_events() as events:
            answer = await sign_in(client, authenticator, email, sign_count=count)
        assert answer["__typename"] == "PasskeyRejected", (count, answer)
        clone = [event for event in events if event["event"] == "passkey_clone_suspected"]
        assert clone and clone[0]["stored"] == 5 and clone[0]["presented"] == count, events
    assert (await sign_in(client, authenticator, email, sign_count=6))["__typename"] == "AuthPayload"


async def test_a_passkey_of_another_account_does_not_sign_into_the_typed_one(client, mailbox, origin):
    victim, _, _ = await with_passkey(client, mailbox, origin)
    _, attacker_key, _ = await with_passkey(client, mailbox, origin)
    started = await sign_in_options(client, victim["user"]["email"])
    assert json.loads(started["optionsJson"])["allowCredentials"]
    assertion = attacker_key.get(started["optionsJson"], credential=attacker_key.credentials[0])
    rejected = await finish(client, started["challengeId"], assertion)
    assert rejected["__typename"] == "PasskeyRejected", rejected


async def test_a_removed_passkey_no_longer_signs_in_and_the_owner_hears_of_it(client, mailbox, origin):
    registered, authenticator, passkey = await with_passkey(client, mailbox, origin)
    token, email = registered["accessToken"], registered["user"]["email"]
    await wait_for_notices(mailbox, email, 1)
    other = await register(client, mailbox)
    assert (await data(client, REMOVE, {"id": passkey["id"]}, token=other["accessToken"]))[
        "__typename"
    ] == "NotFound"
    assert (await data(client, REMOVE, {"id": "not-an-id"}, token=token))["__typename"] == "NotFound"
    removed = await data(client, REMOVE, {"id": passkey["id"]}, token=token)
    assert removed["__typename"] == "PasskeyRemoved" and removed["user"]["passkeys"] == [], removed
    assert "a passkey was removed" in (await wait_for_notices(mailbox, email, 2))[1]
    for address in (email, None):  # the browser still offers it
        answer = await sign_in(client, authenticator, address, credential=authenticator.credentials[0])
        assert answer["__typename"] == "PasskeyRejected", answer
    assert (await data(client, REMOVE, {"id": passkey["id"]}, token=token))["__typename"] == "NotFound"


async def test_rename(client, mailbox, origin):
    registered, _, passkey = await with_passkey(client, mailbox, origin)
    token = registered["accessToken"]
    renamed = await data(client, RENAME, {"id": passkey["id"], "n": "  Work laptop "}, token=token)
    assert renamed["__typename"] == "PasskeyRenamed" and renamed["passkey"]["name"] == "Work laptop", renamed
    assert (await data(client, MY_PASSKEYS, token=token))["passkeys"][0]["name"] == "Work laptop"
    bad = await data(client, RENAME, {"id": passkey["id"], "n": "\u0000"}, token=token)
    assert bad["__typename"] == "InvalidInput", bad
    other = await register(client, mailbox)
    stolen = await data(client, RENAME, {"id": passkey["id"], "n": "mine"}, token=other["accessToken"])
    assert stolen["__typename"] == "NotFound"


async def test_the_last_way_in_cannot_be_removed(backend_urls, client, mailbox, origin, served):
    registered, _, first = await with_passkey(client, mailbox, origin)
    token, email = registered["accessToken"], registered["user"]["email"]
    second = await add_passkey(client, token, Authenticator(origin=origin))
    # An account without a password (as social sign-in makes them): passkeys are its ways in.
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        db = served[1].state.services.settings.mongo_db
        await mongo[db]["users"].update_one({"email": email}, {"$set": {"password_hash": ""}})
    finally:
        await mongo.close()
    served[1].state.services.users.forget_all()
    assert (await data(client, REMOVE, {"id": first["id"]}, token=token))["__typename"] == "PasskeyRemoved"
    last = await data(client, REMOVE, {"id": second["id"]}, token=token)
    assert last["__typename"] == "LastSignInMethod", last
    assert [each["id"] for each in (await data(client, MY_PASSKEYS, token=token))["passkeys"]] == [
        second["id"]
    ]
    # A linked social identity is a way in too (as social sign-in stores one).
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"], tz_aware=True)
    try:
        await mongo[db]["identities"].insert_one(
            {
                "provider": "acme",
                "subject": new_email(),
                "user_id": registered["user"]["id"],
                "linked_at": datetime.now(UTC),
            }
        )
    finally:
        await mongo.close()
    removed = await data(client, REMOVE, {"id": second["id"]}, token=token)
    assert removed["__typename"] == "PasskeyRemoved", removed


# ---------------------------------------------------------------- no enumeration, lockout, limits


async def test_an_unknown_email_gets_options_of_the_same_shape(client, mailbox, origin):
    registered, _, _ = await with_passkey(client, mailbox, origin)
    known = await sign_in_options(client, registered["user"]["email"])
    without_passkey = (await register(client, mailbox))["user"]["email"]
    unknown_address = new_email()
    for other in (unknown_address, without_passkey, "not an address"):
        answer = await sign_in_options(client, other)
        assert answer.keys() == known.keys()
        first = json.loads(answer["optionsJson"])
        assert first.keys() == json.loads(known["optionsJson"]).keys()
        assert shape({**first, "allowCredentials": []}) == shape(
            {**json.loads(known["optionsJson"]), "allowCredentials": []}
        )
        listed = first["allowCredentials"]
        assert 1 <= len(listed) <= 2 and all(set(each) == {"id", "type", "transports"} for each in listed)
        # Asked again, the same decoys: no difference between asks gives it away.
        again = json.loads((await sign_in_options(client, other))["optionsJson"])["allowCredentials"]
        assert again == listed
    real = json.loads(known["optionsJson"])["allowCredentials"][0]
    assert set(real) == {"id", "type", "transports"}
    # Answering a decoy (with some other account's passkey) is a plain rejection.
    _, stranger, _ = await with_passkey(client, mailbox, origin)
    decoyed = await sign_in_options(client, unknown_address)
    assertion = stranger.get(decoyed["optionsJson"], credential=stranger.credentials[0])
    assert (await finish(client, decoyed["challengeId"], assertion))["__typename"] == "PasskeyRejected"


@pytest.mark.serial
async def test_known_and_unknown_emails_take_comparable_time(client, mailbox, origin):
    registered, _, _ = await with_passkey(client, mailbox, origin)
    known, unknown = registered["user"]["email"], new_email()
    times: dict[str, list[float]] = {known: [], unknown: []}
    for _ in range(15):
        for email in (known, unknown):
            began = time.perf_counter()
            await sign_in_options(client, email)
            times[email].append(time.perf_counter() - began)
    a, b = statistics.median(times[known]), statistics.median(times[unknown])
    # As the other enumeration tests (test_attacks.py): medians within a factor 3, plus 2 ms.
    assert max(a, b) <= 3 * min(a, b) + 0.002, (a, b)


async def test_failures_count_into_the_addresss_lockout(backend_urls, mailbox):
    settings = settings_with(backend_urls, mailbox, login_lockout_threshold=3)
    async with serve_app(settings) as (client, app):
        origin = app.state.services.settings.webauthn_rp[1][0]
        registered, authenticator, _ = await with_passkey(client, mailbox, origin)
        email = registered["user"]["email"]
        for _ in range(3):
            assert (await sign_in(client, authenticator, email, user_verified=False))["__typename"] == (
                "PasskeyRejected"
            )
        locked = await sign_in(client, authenticator, email)
        assert locked["__typename"] == "RateLimited", locked
        # An unknown address is counted alike (offering some credential for it).
        unknown = new_email()
        for _ in range(3):
            started = await sign_in_options(client, unknown)
            answer = await finish(
                client,
                started["challengeId"],
                authenticator.get(started["optionsJson"], credential=authenticator.credentials[0]),
            )
            assert answer["__typename"] == "PasskeyRejected"
        started = await sign_in_options(client, unknown)
        answer = await finish(
            client,
            started["challengeId"],
            authenticator.get(started["optionsJson"], credential=authenticator.credentials[0]),
        )
        assert answer["__typename"] == "RateLimited"


async def test_each_operation_is_limited_per_client_ip(backend_urls, mailbox):
    limits = {
        f"rate_limit_{operation}": "2/minute"
        for operation in (
            "start_passkey_registration",
            "finish_passkey_registration",
            "start_passkey_sign_in",
            "finish_passkey_sign_in",
        )
    }
    async with serve_app(settings_with(backend_urls, mailbox, **limits)) as (client, _):
        token = (await register(client, mailbox))["accessToken"]
        calls = [
            (START_REGISTRATION, {}),
            (FINISH_REGISTRATION, {"c": "x", "j": "{}"}),
            (START_SIGN_IN, {"e": None}),
            (FINISH_SIGN_IN, {"c": "x", "j": "{}"}),
        ]
        for query, variables in calls:
            answers = [await data(client, query, variables, token=token) for _ in range(3)]
            assert answers[0]["__typename"] != "RateLimited"
            assert answers[2]["__typename"] == "RateLimited", answers


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "bad",
    [
        {"webauthn_rp_id": "https://example.com"},
        {"webauthn_rp_id": "Example.com", "webauthn_origins": "https://example.com"},
        {"webauthn_rp_id": "example.com", "webauthn_origins": "https://example.org"},
        {"webauthn_rp_id": "example.com", "webauthn_origins": "http://example.com"},
        {"webauthn_rp_id": "example.com", "webauthn_origins": "https://example.com/login"},
        {"webauthn_rp_id": "example.com"},  # not the host of PUBLIC_URL, and no origins given
        {"public_url": "example.com"},
        {"webauthn_rp_name": ""},
    ],
)
def test_a_bad_relying_party_stops_the_start(bad):
    with pytest.raises(ConfigurationError):
        load_settings(_env_file=None, **bad)


def test_the_relying_party_defaults_to_public_url_and_cors_origins_on_it():
    settings = load_settings(
        _env_file=None,
        public_url="https://auth.example.com/",
        cors_origins="https://auth.example.com,https://elsewhere.org",
    )
    assert settings.webauthn_rp == ("auth.example.com", ("https://auth.example.com",))
    settings = load_settings(
        _env_file=None,
        public_url="https://auth.example.com",
        webauthn_rp_id="example.com",
        webauthn_origins="https://example.com, https://app.example.com",
    )
    assert settings.webauthn_rp == ("example.com", ("https://example.com", "https://app.example.com"))


async def test_deleting_the_account_deletes_its_passkeys(backend_urls, client, mailbox, origin, served):
    registered, authenticator, _ = await with_passkey(client, mailbox, origin)
    owner = {"user_id": registered["user"]["id"]}
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"], tz_aware=True)
    try:
        passkeys = mongo[served[1].state.services.settings.mongo_db]["passkeys"]
        kept = await passkeys.find_one(owner)
        deleted = await data(
            client,
            "mutation($p: String!) { deleteAccount(password: $p) { __typename } }",
            {"p": PASSWORD},
            token=registered["accessToken"],
        )
        assert deleted["__typename"] == "AccountDeleted", deleted
        assert await passkeys.count_documents(owner) == 0
        # One left behind (the process died between the two deletes) goes at its next use.
        await passkeys.insert_one(kept)
        answer = await sign_in(client, authenticator, None)
        assert answer["__typename"] == "PasskeyRejected", answer
        assert await passkeys.count_documents(owner) == 0
    finally:
        await mongo.close()


async def test_an_account_holds_at_most_20_passkeys(backend_urls, client, mailbox, origin, served):
    registered, _, first = await with_passkey(client, mailbox, origin)
    token = registered["accessToken"]
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"], tz_aware=True)
    try:
        db = served[1].state.services.settings.mongo_db
        stored = await mongo[db]["passkeys"].find_one({"user_id": registered["user"]["id"]})
        assert stored is not None
        copies = []
        for _ in range(19):
            copy = {key: value for key, value in stored.items() if key != "_id"}
            copies.append({**copy, "credential_id": b64url(secrets.token_bytes(16))})
        await mongo[db]["passkeys"].insert_many(copies)
    finally:
        await mongo.close()
    started = await data(client, START_REGISTRATION, token=token)
    credential = Authenticator(origin=origin).create(started["optionsJson"])
    refused = await data(
        client, FINISH_REGISTRATION, {"c": started["challengeId"], "j": credential}, token=token
    )
    assert refused["__typename"] == "PasskeyRejected" and "at most 20" in refused["message"], refused
    assert len((await data(client, MY_PASSKEYS, token=token))["passkeys"]) == 20
    assert (await data(client, REMOVE, {"id": first["id"]}, token=token))["__typename"] == "PasskeyRemoved"
    assert (await add_passkey(client, token, Authenticator(origin=origin)))["name"]
