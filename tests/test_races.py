"""Writes that race, raced over HTTP: a password change or reset while stale tabs edit the
profile, and logins with the old password in flight while the password changes.

Each scenario runs on a fresh account several times, with the racing requests spread
over the few tens of milliseconds a change takes (two argon2 runs at the cheap test cost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from conftest import CHEAP_ARGON2, Mailbox, serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import ME, PASSWORD, PROBLEM, UPDATE_PROFILE, data, gql, new_email, register

NEW_PASSWORD = "an entirely different passphrase"
ROUNDS = 3

AUTH = "... on AuthPayload { accessToken refreshToken sessionId }"
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ __typename {AUTH} {PROBLEM} }} }}"""
REFRESH = f"""mutation($token: String!) {{
  refreshTokens(refreshToken: $token) {{ __typename {AUTH} {PROBLEM} }} }}"""
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{ __typename {AUTH} {PROBLEM} }} }}"""
SESSIONS = "query { sessions { id } }"
START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) {
  __typename ... on PasswordResetStarted { resetId } } }"""
COMPLETE_RESET = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{
  __typename {AUTH} {PROBLEM} }} }}"""

# A password change as the race's pivot: given the account, it runs the change and
# answers the AuthPayload it returned.
Change = Callable[[httpx.AsyncClient, Mailbox, dict[str, Any]], Awaitable[dict[str, Any]]]


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    return await data(client, LOGIN, {"email": email, "password": password})


async def while_changing(
    change: Awaitable[dict[str, Any]], request: Callable[[int], Awaitable[dict[str, Any]]], chains: int = 3
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run `change` while `chains` clients send `request` back to back until it has
    returned, so requests land in every phase of it whatever the machine's speed;
    what the change answered, and every answer the requests got."""
    done = asyncio.Event()

    async def pivot() -> dict[str, Any]:
        try:
            return await change
        finally:
            done.set()

    async def chain(number: int) -> list[dict[str, Any]]:
        answers = []
        while not done.is_set():
            answers.append(await request(number))
        return answers

    changed, *answered = await asyncio.gather(pivot(), *(chain(number) for number in range(chains)))
    return changed, [answer for answers in answered for answer in answers]


async def by_change_password(
    client: httpx.AsyncClient, mailbox: Mailbox, account: dict[str, Any]
) -> dict[str, Any]:
    changed = await data(
        client, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token=account["accessToken"]
    )
    assert changed["__typename"] == "AuthPayload", changed
    return changed


async def by_password_reset(
    client: httpx.AsyncClient, mailbox: Mailbox, account: dict[str, Any]
) -> dict[str, Any]:
    """The reset's last step is the pivot; its first steps are done beforehand (see `prepare`)."""
    completed = await data(
        client,
        COMPLETE_RESET,
        {"id": account["resetId"], "code": account["resetCode"], "password": NEW_PASSWORD},
    )
    assert completed["__typename"] == "AuthPayload", completed
    return completed


async def prepare(client: httpx.AsyncClient, mailbox: Mailbox, change: Change) -> dict[str, Any]:
    """A fresh account; for a reset, also a started reset and its code."""
    email = new_email()
    account = await register(client, mailbox, email)
    account["email"] = email
    if change is by_password_reset:
        started = await data(client, START_RESET, {"email": email})
        account["resetId"] = started["resetId"]
        account["resetCode"] = await mailbox.code_for(email, 2)  # mail 1 was the registration's
    return account


async def assert_password_is(client: httpx.AsyncClient, email: str, current: str, former: str) -> None:
    assert (await login(client, email, current))["__typename"] == "AuthPayload", "the new password fails"
    assert (await login(client, email, former))["__typename"] == "InvalidCredentials", "the old one works"


# --- a stale whole-document write must not bring the old password back -------------------


async def race_profile_edits(client: httpx.AsyncClient, mailbox: Mailbox, change: Change) -> None:
    account = await prepare(client, mailbox, change)
    email = account["email"]
    # Tabs signed in before the change: each edits the profile while it runs.
    tabs = [(await login(client, email, PASSWORD))["accessToken"] for _ in range(4)]

    async def edit(chain: int) -> dict[str, Any]:
        return await gql(client, UPDATE_PROFILE, {"input": {"lastName": "Edited"}}, token=tabs[chain])

    _, answers = await while_changing(change(client, mailbox, account), edit, chains=len(tabs))

    await assert_password_is(client, email, NEW_PASSWORD, PASSWORD)
    saved = [
        a
        for a in answers
        if not a.get("errors") and a["data"]["updateProfile"]["__typename"] != "InvalidInput"
    ]
    fresh = (await login(client, email, NEW_PASSWORD))["accessToken"]
    if saved:
        assert (await data(client, ME, token=fresh))["lastName"] == "Edited", "a saved edit was lost"


async def test_stale_profile_edits_racing_a_password_change_keep_both(client, mailbox):
    for _ in range(ROUNDS):
        await race_profile_edits(client, mailbox, by_change_password)


async def test_stale_profile_edits_racing_a_password_reset_keep_both(client, mailbox):
    for _ in range(ROUNDS):
        await race_profile_edits(client, mailbox, by_password_reset)


# --- a login in flight with the old password must not outlive the change -------------------


async def race_old_password_logins(
    client: httpx.AsyncClient, mailbox: Mailbox, change: Change, on: httpx.AsyncClient | None = None
) -> int:
    """How many logins with the old password got tokens; asserts every one is refused.
    The account is made through `client`, the race is run through `on` (by default the same)."""
    account = await prepare(client, mailbox, change)
    email = account["email"]
    client = on or client
    changed, answers = await while_changing(
        change(client, mailbox, account), lambda _: login(client, email, PASSWORD)
    )

    signed_in = [answer for answer in answers if answer["__typename"] == "AuthPayload"]
    # None of their sessions is listed as the account's (before a refresh attempt below
    # could revoke it): the one the change answered is the only one.
    listed = await data(client, SESSIONS, token=changed["accessToken"])
    assert [session["id"] for session in listed] == [changed["sessionId"]], "a dead session is listed"
    for payload in signed_in:
        body = await gql(client, ME, token=payload["accessToken"])
        assert [e["extensions"]["code"] for e in body.get("errors", [])] == ["UNAUTHENTICATED"], (
            "an access token from a login with the old password outlived the change"
        )
        refreshed = await data(client, REFRESH, {"token": payload["refreshToken"]})
        assert refreshed["__typename"] == "InvalidRefreshToken", (
            "a refresh token from a login with the old password outlived the change"
        )
    await assert_password_is(client, email, NEW_PASSWORD, PASSWORD)
    return len(signed_in)


async def test_logins_with_the_old_password_in_flight_during_a_change_are_refused(client, mailbox):
    raced = [await race_old_password_logins(client, mailbox, by_change_password) for _ in range(ROUNDS)]
    assert sum(raced), "no login raced the change: the test proves nothing"


async def test_logins_with_the_old_password_in_flight_during_a_reset_are_refused(client, mailbox):
    raced = [await race_old_password_logins(client, mailbox, by_password_reset) for _ in range(ROUNDS)]
    assert sum(raced), "no login raced the reset: the test proves nothing"


async def test_a_rehash_on_login_racing_a_change_never_restores_the_old_password(
    client, mailbox, backend_urls
):
    """Accounts made at today's argon2 cost, logins on an instance configured dearer: each
    first login rehashes the password it verified, while the password changes."""
    dearer = settings_with(backend_urls, mailbox, argon2_time_cost=CHEAP_ARGON2["argon2_time_cost"] + 1)
    async with serve(dearer) as rehashing:
        for change in (by_change_password, by_password_reset):
            for _ in range(ROUNDS):
                await race_old_password_logins(client, mailbox, change, on=rehashing)
