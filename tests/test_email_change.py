"""Changing the account's email (account.graphql), seen from the client's side: the
code mailed to the new address moves the account there, the old address no longer
signs in, the sessions go on, both addresses hear of it; a new address that has an
account answers alike and gets a mail without a code; the password counts into the
lockout; and two accounts racing for one address end with exactly one of them on it."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from typing import Any

import pytest
from conftest import ASGI_CLIENT_IP, captured_security_events, serve, text_of
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, ME, PASSWORD, data, gql, new_email, register
from redis_client import redis_client

from services import code_flows
from settings import Settings

CHANGE_SUBJECT = "Confirm your new authql address"
REQUESTED_SUBJECT = "A change of your authql address was asked for"
CHANGED_SUBJECT = "Your authql address was changed"
LOGIN_SUBJECT = "Your authql sign-in code"
CODE_LINE = re.compile(r"^\s*(\d{6,10})\s*$", re.MULTILINE)
ROUNDS = 5

PROBLEM = "... on Problem { message }"
RATE = "... on RateLimited { retryAfterSeconds }"
START_CHANGE = f"""mutation($email: String!, $password: String!) {{
  startEmailChange(newEmail: $email, password: $password) {{ __typename
  ... on EmailChangeStarted {{ changeId expiresAt resendAvailableAt codeLength }}
  ... on InvalidInput {{ fields {{ field message }} }} {PROBLEM} {RATE} }} }}"""
CONFIRM_CHANGE = f"""mutation($id: ID!, $code: String!) {{ confirmEmailChange(changeId: $id, code: $code) {{
  __typename ... on EmailChanged {{ user {{ id email }} }}
  ... on InvalidCode {{ attemptsLeft }} {PROBLEM} {RATE} }} }}"""
SESSIONS = "query { sessions { id current } }"
REFRESH = """mutation($token: String!) { refreshTokens(refreshToken: $token) {
  __typename ... on AuthPayload { accessToken } } }"""
START_CODE_LOGIN = """mutation($email: String!) { startCodeLogin(email: $email) { __typename
  ... on CodeLoginStarted { loginId } } }"""
COMPLETE_CODE_LOGIN = """mutation($id: ID!, $code: String!) { completeCodeLogin(loginId: $id, code: $code) {
  __typename } }"""

# What differs between any two starts by nature.
VOLATILE = {"changeId", "expiresAt", "resendAvailableAt"}


async def start_change(client, token: str, email: str, password: str = PASSWORD) -> dict[str, Any]:
    return await data(client, START_CHANGE, {"email": email, "password": password}, token=token)


async def confirm_change(client, token: str, change_id: str, code: str) -> dict[str, Any]:
    return await data(client, CONFIRM_CHANGE, {"id": change_id, "code": code}, token=token)


def with_subject(mailbox, email: str, subject: str) -> list:
    return [message for message in mailbox.received(email) if message["Subject"] == subject]


async def mail_with_subject(mailbox, email: str, subject: str, count: int = 1, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while len(with_subject(mailbox, email, subject)) < count:
        assert time.monotonic() < deadline, f"no mail #{count} '{subject}' for {email}"
        await asyncio.sleep(0.02)
    return with_subject(mailbox, email, subject)[count - 1]


async def change_code(mailbox, email: str, count: int = 1) -> str:
    match = CODE_LINE.search(text_of(await mail_with_subject(mailbox, email, CHANGE_SUBJECT, count)))
    assert match, "the mail holds no code"
    return match.group(1)


async def end_start_cooldown(settings: Settings, email: str, prefix: str = "email-change") -> None:
    """As if the address's start cooldown (of an email change, or of `prefix`) had passed:
    its key in Redis goes."""
    redis = redis_client(settings)
    try:
        flows = code_flows(redis, settings, prefix, settings.code_ttl_seconds)
        await redis.delete(flows.start_cooldown_key(email, ASGI_CLIENT_IP))
    finally:
        await redis.aclose()


async def login(client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    return await data(client, LOGIN, {"email": email, "password": password})


# ---------------------------------------------------------------- end to end


async def test_the_code_moves_the_account_and_keeps_its_sessions(client, mailbox, settings):
    registered = await register(client, mailbox)
    old = registered["user"]["email"]
    other_device = await login(client, old)
    assert other_device["__typename"] == "AuthPayload", other_device
    new = new_email()

    started = await start_change(client, registered["accessToken"], new)
    assert started["__typename"] == "EmailChangeStarted", started
    assert started["codeLength"] == 6
    code = await change_code(mailbox, new)
    requested = await mail_with_subject(mailbox, old, REQUESTED_SUBJECT)
    assert new in text_of(requested)
    assert not CODE_LINE.search(text_of(requested)), "the current address must not get the code"
    # Nothing has changed yet; a code sign-in for the old address is under way.
    assert (await login(client, old))["__typename"] == "AuthPayload"
    pending = await data(client, START_CODE_LOGIN, {"email": old})
    pending_code = CODE_LINE.search(text_of(await mail_with_subject(mailbox, old, LOGIN_SUBJECT)))
    assert pending_code, "the sign-in mail holds no code"

    with captured_security_events() as events:
        changed = await confirm_change(client, registered["accessToken"], started["changeId"], code)
    assert changed == {"__typename": "EmailChanged", "user": {"id": registered["user"]["id"], "email": new}}
    logged = [event for event in events if event["event"] == "email_changed"]
    assert len(logged) == 1 and logged[0]["user"] == registered["user"]["id"], events
    assert old not in str(events) and new not in str(events)

    notice = await mail_with_subject(mailbox, old, CHANGED_SUBJECT)
    assert new in text_of(notice)

    # The old address no longer signs in, nor gets a code; the new one does.
    refused = await login(client, old)
    assert refused["__typename"] == "InvalidCredentials", refused
    assert (await login(client, new))["__typename"] == "AuthPayload"
    late = await data(client, COMPLETE_CODE_LOGIN, {"id": pending["loginId"], "code": pending_code.group(1)})
    assert late["__typename"] == "FlowExpired", late
    await end_start_cooldown(settings, old, prefix="login")
    assert (await data(client, START_CODE_LOGIN, {"email": old}))["__typename"] == "CodeLoginStarted"
    no_account = await mail_with_subject(mailbox, old, LOGIN_SUBJECT, count=2)
    assert not CODE_LINE.search(text_of(no_account)) and "no authql account" in text_of(no_account)

    # Both earlier sessions go on, with the new address.
    for payload in (registered, other_device):
        me = await data(client, ME, token=payload["accessToken"])
        assert me["email"] == new, me
        refreshed = await data(client, REFRESH, {"token": payload["refreshToken"]})
        assert refreshed["__typename"] == "AuthPayload", refreshed
    live = {session["id"] for session in await data(client, SESSIONS, token=registered["accessToken"])}
    assert {registered["sessionId"], other_device["sessionId"]} <= live

    # The code is spent.
    again = await confirm_change(client, registered["accessToken"], started["changeId"], code)
    assert again["__typename"] == "FlowExpired", again


async def test_malformed_or_same_address_is_invalid_input(client, mailbox):
    registered = await register(client, mailbox)
    for address in ("not an address", registered["user"]["email"].upper()):
        result = await start_change(client, registered["accessToken"], address)
        assert result["__typename"] == "InvalidInput", (address, result)
        assert [problem["field"] for problem in result["fields"]] == ["newEmail"], result


async def test_signed_out_callers_get_unauthenticated(client):
    for query, variables in (
        (START_CHANGE, {"email": new_email(), "password": PASSWORD}),
        (CONFIRM_CHANGE, {"id": "x" * 43, "code": "123456"}),
    ):
        body = await gql(client, query, variables)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body


async def test_another_users_change_is_unknown_and_costs_its_owner_nothing(client, mailbox):
    owner = await register(client, mailbox)
    stranger = await register(client, mailbox)
    new = new_email()
    started = await start_change(client, owner["accessToken"], new)
    code = await change_code(mailbox, new)

    for guess in (code, "000000", "111111", "222222", "333333", "444444"):
        result = await confirm_change(client, stranger["accessToken"], started["changeId"], guess)
        assert result["__typename"] == "FlowExpired", result
    changed = await confirm_change(client, owner["accessToken"], started["changeId"], code)
    assert changed["__typename"] == "EmailChanged", changed
    assert (await data(client, ME, token=stranger["accessToken"]))["email"] == stranger["user"]["email"]


async def test_wrong_codes_burn_the_change(client, mailbox):
    registered = await register(client, mailbox)
    new = new_email()
    started = await start_change(client, registered["accessToken"], new)
    code = await change_code(mailbox, new)
    wrong = [guess for guess in (f"{n:06d}" for n in range(6)) if guess != code][:5]
    left = [
        (await confirm_change(client, registered["accessToken"], started["changeId"], guess))["attemptsLeft"]
        for guess in wrong
    ]
    assert left == [4, 3, 2, 1, 0]
    late = await confirm_change(client, registered["accessToken"], started["changeId"], code)
    assert late["__typename"] == "FlowExpired", late
    assert (await data(client, ME, token=registered["accessToken"]))["email"] == registered["user"]["email"]


# ---------------------------------------------------------------- a taken address


async def test_a_taken_address_answers_alike_and_gets_a_mail_without_code(client, mailbox, settings):
    registered = await register(client, mailbox)
    taken = (await register(client, mailbox))["user"]["email"]
    free = new_email()

    for_free = await start_change(client, registered["accessToken"], free)
    for_taken = await start_change(client, registered["accessToken"], taken)
    assert for_free["__typename"] == for_taken["__typename"] == "EmailChangeStarted", for_taken
    strip = lambda answer: {key: value for key, value in answer.items() if key not in VOLATILE}  # noqa: E731
    assert strip(for_free) == strip(for_taken)
    assert len(for_free["changeId"]) == len(for_taken["changeId"])

    code_mail = await mail_with_subject(mailbox, free, CHANGE_SUBJECT)
    notice = await mail_with_subject(mailbox, taken, CHANGE_SUBJECT)
    assert CODE_LINE.search(text_of(code_mail))
    assert not CODE_LINE.search(text_of(notice)), text_of(notice)
    assert "already has an account" in text_of(notice)
    # The current address hears of both.
    await mail_with_subject(mailbox, registered["user"]["email"], REQUESTED_SUBJECT, count=2)

    # No code opens the taken address's change, not even a real one of another change.
    real = await change_code(mailbox, free)
    left = []
    for guess in (real, "000000", "123456", "999999", "111111"):
        result = await confirm_change(client, registered["accessToken"], for_taken["changeId"], guess)
        assert result["__typename"] == "InvalidCode", (guess, result)
        left.append(result["attemptsLeft"])
    assert left == [4, 3, 2, 1, 0]
    assert (await data(client, ME, token=registered["accessToken"]))["email"] == registered["user"]["email"]


@pytest.mark.serial
async def test_a_taken_address_takes_comparable_time(backend_urls, mailbox, settings):
    async with serve(settings_with(backend_urls, mailbox, codes_per_address_per_hour=50)) as client:
        registered = await register(client, mailbox)
        taken = (await register(client, mailbox))["user"]["email"]

        async def timed(address: str) -> float:
            began = time.perf_counter()
            result = await start_change(client, registered["accessToken"], address)
            elapsed = time.perf_counter() - began
            assert result["__typename"] == "EmailChangeStarted", result
            return elapsed

        for_taken, for_free = [], []
        for _ in range(7):
            for_taken.append(await timed(taken))
            await end_start_cooldown(settings, taken)
            for_free.append(await timed(new_email()))
        ratio = statistics.median(for_taken) / statistics.median(for_free)
        assert 1 / 3 < ratio < 3, (for_taken, for_free)


async def test_a_new_start_to_the_same_address_within_the_cooldown_is_rate_limited(client, mailbox):
    registered = await register(client, mailbox)
    new = new_email()
    assert (await start_change(client, registered["accessToken"], new))["__typename"] == "EmailChangeStarted"
    early = await start_change(client, registered["accessToken"], new)
    assert early["__typename"] == "RateLimited", early
    assert 1 <= early["retryAfterSeconds"] <= 60, early


# ---------------------------------------------------------------- the password


async def test_wrong_passwords_count_into_the_login_lockout(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, login_lockout_threshold=3)) as client:
        registered = await register(client, mailbox)
        email = registered["user"]["email"]
        for _ in range(3):
            result = await start_change(client, registered["accessToken"], new_email(), "not my password")
            assert result["__typename"] == "InvalidCredentials", result
        # Locked: the right password is refused, here and at login, and nothing was mailed.
        locked = await start_change(client, registered["accessToken"], new_email())
        assert locked["__typename"] == "RateLimited", locked
        refused = await login(client, email)
        assert refused["__typename"] == "RateLimited", refused
        assert with_subject(mailbox, email, REQUESTED_SUBJECT) == []


# ---------------------------------------------------------------- the race


async def test_two_accounts_confirming_the_same_address_at_once_end_with_one_on_it(client, mailbox, settings):
    for _ in range(ROUNDS):
        first = await register(client, mailbox)
        second = await register(client, mailbox)
        target = new_email()
        changes = []
        for number, account in enumerate((first, second), start=1):
            started = await start_change(client, account["accessToken"], target)
            assert started["__typename"] == "EmailChangeStarted", started
            changes.append((account, started["changeId"], await change_code(mailbox, target, number)))
            await end_start_cooldown(settings, target)

        answers = await asyncio.gather(
            *(
                confirm_change(client, account["accessToken"], change_id, code)
                for account, change_id, code in changes
            )
        )
        assert sorted(answer["__typename"] for answer in answers) == ["AccountExists", "EmailChanged"], (
            answers
        )
        emails = [
            (await data(client, ME, token=account["accessToken"]))["email"] for account, _, _ in changes
        ]
        assert emails.count(target) == 1, emails
        winner = next(
            account
            for (account, _, _), answer in zip(changes, answers, strict=True)
            if answer["__typename"] == "EmailChanged"
        )
        signed_in = await login(client, target)
        assert signed_in["__typename"] == "AuthPayload" and signed_in["user"]["id"] == winner["user"]["id"]
