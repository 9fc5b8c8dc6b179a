"""Sign-in by emailed code (account.graphql), seen from the client's side: the code
mailed to the account's address opens a session; an address without an account gets
the same answer, in comparable time, and a mail without a code; and the code rules of
registration hold (cooldown, attempts per flow, the cross-flow cap of wrong codes)."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import ASGI_CLIENT_IP, serve, text_of
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import ME, PASSWORD, data, new_email, register, wrong_codes
from redis_client import redis_client

from services import code_flows
from settings import Settings

LOGIN_SUBJECT = "Your authql sign-in code"
CODE_LINE = re.compile(r"^\s*(\d{6,10})\s*$", re.MULTILINE)

PROBLEM = "... on Problem { message }"
RATE = "... on RateLimited { retryAfterSeconds }"
AUTH = "... on AuthPayload { accessToken refreshToken sessionId user { id email } }"
START_CODE_LOGIN = f"""mutation($email: String!) {{ startCodeLogin(email: $email) {{ __typename
  ... on CodeLoginStarted {{ loginId expiresAt resendAvailableAt codeLength }}
  ... on InvalidInput {{ fields {{ field message }} }} {PROBLEM} {RATE} }} }}"""
COMPLETE_CODE_LOGIN = f"""mutation($id: ID!, $code: String!) {{
  completeCodeLogin(loginId: $id, code: $code) {{ __typename {AUTH}
  ... on InvalidCode {{ attemptsLeft }} {PROBLEM} {RATE} }} }}"""
START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) {
  __typename ... on PasswordResetStarted { resetId } } }"""
COMPLETE_RESET = """mutation($id: ID!, $code: String!, $password: String!) {
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {
  __typename ... on InvalidCode { attemptsLeft } } }"""


async def start_code_login(client, email: str) -> dict[str, Any]:
    return await data(client, START_CODE_LOGIN, {"email": email})


async def complete_code_login(client, login_id: str, code: str) -> dict[str, Any]:
    return await data(client, COMPLETE_CODE_LOGIN, {"id": login_id, "code": code})


def login_mails(mailbox, email: str) -> list:
    return [message for message in mailbox.received(email) if message["Subject"] == LOGIN_SUBJECT]


async def login_mail(mailbox, email: str, count: int = 1):
    """The `count`-th sign-in mail to `email` (other mails, such as a registration's
    notice still on its way, arrive in any order around it)."""
    deadline = time.monotonic() + 10
    while len(login_mails(mailbox, email)) < count:
        assert time.monotonic() < deadline, f"no sign-in mail #{count} for {email}"
        await asyncio.sleep(0.02)
    return login_mails(mailbox, email)[count - 1]


async def login_code(mailbox, email: str, count: int = 1) -> str:
    match = CODE_LINE.search(text_of(await login_mail(mailbox, email, count)))
    assert match, "the sign-in mail holds no code"
    return match.group(1)


async def end_start_cooldown(settings: Settings, email: str) -> None:
    """As if the address's start cooldown had passed: its key in Redis goes."""
    redis = redis_client(settings)
    try:
        flows = code_flows(redis, settings, "login", settings.code_ttl_seconds)
        key = flows.start_cooldown_key(email, ASGI_CLIENT_IP)
        assert await redis.delete(key) == 1, "no cooldown to end"
    finally:
        await redis.aclose()


# ---------------------------------------------------------------- the whole sign-in


async def test_the_mailed_code_signs_in(client, mailbox):
    registered = await register(client, mailbox)
    email = registered["user"]["email"]

    started = await start_code_login(client, email)
    assert started["__typename"] == "CodeLoginStarted", started
    assert started["codeLength"] == 6
    assert datetime.fromisoformat(started["expiresAt"]) > datetime.now(UTC)
    code = await login_code(mailbox, email)

    payload = await complete_code_login(client, started["loginId"], code)
    assert payload["__typename"] == "AuthPayload", payload
    assert payload["user"] == {"id": registered["user"]["id"], "email": email}
    assert payload["sessionId"] != registered["sessionId"]
    me = await data(client, ME, token=payload["accessToken"])
    assert me["id"] == registered["user"]["id"]

    # Once: the code is spent with the flow.
    again = await complete_code_login(client, started["loginId"], code)
    assert again["__typename"] == "FlowExpired", again


async def test_a_malformed_address_is_invalid_input(client):
    result = await start_code_login(client, "not an address")
    assert result["__typename"] == "InvalidInput", result
    assert [problem["field"] for problem in result["fields"]] == ["email"]


# ---------------------------------------------------------------- enumeration


async def test_an_unknown_address_answers_alike_and_gets_a_mail_without_code(client, mailbox):
    known = (await register(client, mailbox))["user"]["email"]
    unknown = new_email()

    for_known = await start_code_login(client, known)
    for_unknown = await start_code_login(client, unknown)
    assert for_known["__typename"] == for_unknown["__typename"] == "CodeLoginStarted", for_unknown
    assert for_known.keys() == for_unknown.keys()
    assert for_known["codeLength"] == for_unknown["codeLength"]
    assert len(for_known["loginId"]) == len(for_unknown["loginId"])

    code_mail = await login_mail(mailbox, known)
    notice = await login_mail(mailbox, unknown)
    assert notice["Subject"] == code_mail["Subject"] == LOGIN_SUBJECT
    assert CODE_LINE.search(text_of(code_mail))
    assert not CODE_LINE.search(text_of(notice)), text_of(notice)
    assert "no authql account" in text_of(notice)
    assert len(mailbox.received(unknown)) == 1

    # Nothing opens the unknown address's flow, not even a real code of another flow.
    known_code = await login_code(mailbox, known)
    left = []
    for guess in (known_code, "000000", "123456", "999999", "111111"):
        result = await complete_code_login(client, for_unknown["loginId"], guess)
        assert result["__typename"] == "InvalidCode", (guess, result)
        left.append(result["attemptsLeft"])
    assert left == [4, 3, 2, 1, 0]


@pytest.mark.serial
async def test_an_unknown_address_takes_comparable_time(backend_urls, mailbox, settings):
    async with serve(settings_with(backend_urls, mailbox, codes_per_address_per_hour=50)) as client:
        known = (await register(client, mailbox))["user"]["email"]

        async def timed(address: str) -> float:
            began = time.perf_counter()
            result = await start_code_login(client, address)
            elapsed = time.perf_counter() - began
            assert result["__typename"] == "CodeLoginStarted", result
            return elapsed

        for_known, for_unknown = [], []
        for _ in range(7):
            # A fresh known address each round would need a registration; a fresh
            # cooldown is as good (the flows of the known address stay open).
            for_known.append(await timed(known))
            await end_start_cooldown(settings, known)
            for_unknown.append(await timed(new_email()))
        ratio = statistics.median(for_known) / statistics.median(for_unknown)
        assert 1 / 3 < ratio < 3, (for_known, for_unknown)


# ---------------------------------------------------------------- the code rules


async def test_a_new_start_within_the_cooldown_is_rate_limited_for_any_address(client, mailbox, settings):
    known = (await register(client, mailbox))["user"]["email"]
    unknown = new_email()
    first = {email: await start_code_login(client, email) for email in (known, unknown)}
    await login_mail(mailbox, known)
    await login_mail(mailbox, unknown)

    for email in (known, unknown):
        early = await start_code_login(client, email)
        assert early["__typename"] == "RateLimited", early
        assert 1 <= early["retryAfterSeconds"] <= 60, early
    assert len(login_mails(mailbox, known)) == 1
    assert len(mailbox.received(unknown)) == 1

    # The first flow still works; after the cooldown a new start mails a new code.
    await end_start_cooldown(settings, known)
    second = await start_code_login(client, known)
    assert second["__typename"] == "CodeLoginStarted", second
    new_code = await login_code(mailbox, known, 2)
    old_code = await login_code(mailbox, known, 1)
    assert (await complete_code_login(client, first[known]["loginId"], old_code))[
        "__typename"
    ] == "AuthPayload"
    assert (await complete_code_login(client, second["loginId"], new_code))["__typename"] == "AuthPayload"


async def test_wrong_codes_burn_the_flow(client, mailbox):
    email = (await register(client, mailbox))["user"]["email"]
    started = await start_code_login(client, email)
    code = await login_code(mailbox, email)

    left = []
    for guess in wrong_codes(code, 5):
        result = await complete_code_login(client, started["loginId"], guess)
        assert result["__typename"] == "InvalidCode", result
        left.append(result["attemptsLeft"])
    assert left == [4, 3, 2, 1, 0]
    late = await complete_code_login(client, started["loginId"], code)
    assert late["__typename"] == "FlowExpired", late


async def test_wrong_codes_of_other_flows_count_into_the_clients_cap_at_the_address(backend_urls, mailbox):
    overrides = {"code_failures_per_address_per_day": 5, "codes_per_address_per_hour": 50}
    async with serve(settings_with(backend_urls, mailbox, **overrides)) as client:
        email = (await register(client, mailbox))["user"]["email"]
        # Five wrong codes in a password reset of the address: this client's cap is reached.
        reset = await data(client, START_RESET, {"email": email})
        for guess in ("000000", "000001", "000002", "000003", "000004"):
            await data(client, COMPLETE_RESET, {"id": reset["resetId"], "code": guess, "password": PASSWORD})

        # This client starts no sign-in by code for the address (and is told so, honestly).
        capped = await start_code_login(client, email)
        assert capped["__typename"] == "RateLimited", capped
        assert capped["retryAfterSeconds"] > 3600, capped


async def test_the_start_is_limited_per_client(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, rate_limit_start_code_login="2/minute")) as client:
        answers = [await start_code_login(client, new_email()) for _ in range(3)]
    assert [answer["__typename"] for answer in answers] == [
        "CodeLoginStarted",
        "CodeLoginStarted",
        "RateLimited",
    ]


async def test_the_per_address_mail_quota_holds(backend_urls, mailbox, settings):
    async with serve(settings_with(backend_urls, mailbox, codes_per_address_per_hour=2)) as client:
        email = new_email()
        answers = []
        for _ in range(3):
            answers.append(await start_code_login(client, email))
            if answers[-1]["__typename"] == "CodeLoginStarted":
                await end_start_cooldown(settings, email)
    assert [answer["__typename"] for answer in answers] == [
        "CodeLoginStarted",
        "CodeLoginStarted",
        "RateLimited",
    ]
    assert answers[-1]["retryAfterSeconds"] > 60, answers[-1]
