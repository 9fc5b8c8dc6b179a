"""The second factor against someone who already has the password (review N4, L2, L3;
black-box attacks 5, 6 and 7), over HTTP with the real Redis, nx-27017 and SMTP sink:

- one budget of tries per account over every place that checks the factor, which a
  correct password does not give back, growing windows and a daily cap (state written
  into Redis instead of waiting), and one mail to the owner when a window is used up;
- non-ASCII digits are a typed wrong code;
- turning two-factor on ends the sessions opened without it;
- a password change, an email change and a deletion ask for the factor too;
- a notice is queued before the change it reports.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyotp
from conftest import serve, serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import PASSWORD, PROBLEM, RATE, data, gql, new_email, register
from pymongo import AsyncMongoClient
from redis_client import redis_client
from test_two_factor import (
    CONFIRM,
    DISABLE,
    LOGIN,
    ME_2FA,
    REFRESH,
    REGENERATE,
    amr,
    challenge,
    enroll,
    notices,
    step_start,
    verify,
    wait_for_notices,
    with_two_factor,
)

from embedded import free_port
from security.two_factor import BUDGET_WINDOW_SECONDS, SECOND_FACTOR_TRIES_PER_DAY, budget_key

GUESSED = "second factor stopped whoever it was"  # words of the owner's mail when a window is used up
CHANGED = "password of your authql account was just changed"
NEW_PASSWORD = "a brand new horse battery"
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!, $code: String) {{
  changePassword(currentPassword: $current, newPassword: $new, code: $code) {{ __typename
  ... on AuthPayload {{ accessToken }} {PROBLEM} {RATE} }} }}"""
START_EMAIL_CHANGE = f"""mutation($email: String!, $password: String!, $code: String) {{
  startEmailChange(newEmail: $email, password: $password, code: $code) {{ __typename
  ... on EmailChangeStarted {{ changeId }} {PROBLEM} {RATE} }} }}"""
DELETE_ACCOUNT = f"""mutation($password: String!, $code: String) {{
  deleteAccount(password: $password, code: $code) {{ __typename {PROBLEM} {RATE} }} }}"""
NON_ASCII_CODES = ["１２３４５６", "١٢٣٤٥٦", "12345６", "۱۲۳۴۵۶"]


def wrong_for(totp: pyotp.TOTP, now: float) -> str:
    """A 6-digit code no step around `now` has."""
    near = {totp.at(now + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(
        code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in near
    )


async def budget(backend_urls: dict[str, str], user_id: str) -> dict[str, int]:
    redis = redis_client(backend_urls)
    try:
        stored = await redis.hgetall(budget_key(user_id))
    finally:
        await redis.aclose()
    return {key.decode(): int(float(value)) for key, value in stored.items()}


async def set_budget(backend_urls: dict[str, str], user_id: str, **fields: int) -> None:
    """Write the account's budget state, as if its windows had come and gone."""
    redis = redis_client(backend_urls)
    try:
        await redis.hset(budget_key(user_id), mapping=fields)  # type: ignore[arg-type]
        await redis.pexpire(budget_key(user_id), 86_400_000)
    finally:
        await redis.aclose()


def guessed_notices(mailbox, email: str) -> list[str]:
    return [text for text in notices(mailbox, email) if GUESSED in text]


# ---------------------------------------------------------------- N4, attack 6: one budget


async def test_wrong_codes_anywhere_spend_one_budget_that_a_correct_password_does_not_restore(
    client, mailbox, backend_urls
):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email, token, user_id = registered["user"]["email"], registered["accessToken"], registered["user"]["id"]
    wrong = wrong_for(totp, now)
    both = {"password": PASSWORD, "code": wrong}
    answers = [
        await verify(client, await challenge(client, email), wrong),
        await data(client, DISABLE, both, token=token),
        await data(client, REGENERATE, both, token=token),
        await verify(client, await challenge(client, email), wrong),
        await data(client, DISABLE, both, token=token),
    ]
    assert [answer["__typename"] for answer in answers] == ["InvalidCode"] * 5, answers
    assert [answer["attemptsLeft"] for answer in answers] == [4, 3, 2, 1, 0]
    # Used up everywhere at once; each correct password (a new challenge, or the password
    # these operations check first) gives nothing back, and the right code is not compared.
    right = {"password": PASSWORD, "code": totp.at(now)}
    for refused in [
        await verify(client, await challenge(client, email), totp.at(now)),
        await data(client, DISABLE, right, token=token),
        await data(client, REGENERATE, right, token=token),
        await verify(client, await challenge(client, email), totp.at(now)),
    ]:
        assert refused["__typename"] == "RateLimited", refused
        assert BUDGET_WINDOW_SECONDS - 60 <= refused["retryAfterSeconds"] <= BUDGET_WINDOW_SECONDS, refused
    assert (await data(client, ME_2FA, token=token))["twoFactorEnabled"] is True
    # The owner hears of it once: the password is known, and the factor held.
    (mail,) = [text for text in await wait_for_notices(mailbox, email, 2) if GUESSED in text]
    assert "change it now" in mail and totp.at(now) not in mail
    # The window over (written, not waited for): the next one is twice as long.
    await set_budget(backend_urls, user_id, window_end=0)
    assert (await verify(client, await challenge(client, email), totp.at(now)))["__typename"] == "AuthPayload"
    await asyncio.sleep(0.5)
    assert len(guessed_notices(mailbox, email)) == 1


async def test_used_up_windows_grow_longer_and_a_day_has_a_cap(client, mailbox, backend_urls):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email, user_id = registered["user"]["email"], registered["user"]["id"]
    wrong = wrong_for(totp, now)
    first = await challenge(client, email)
    assert [(await verify(client, first, wrong))["__typename"] for _ in range(5)] == ["InvalidCode"] * 5
    assert (await budget(backend_urls, user_id))["level"] == 1
    # The first window used up and over: the second is twice as long, the third four times.
    for level, factor in ((1, 2), (2, 4)):
        await set_budget(backend_urls, user_id, window_end=0, used=0, level=level, day_used=0)
        burnt = await challenge(client, email)
        assert [(await verify(client, burnt, wrong))["__typename"] for _ in range(5)] == ["InvalidCode"] * 5
        refused = await verify(client, await challenge(client, email), totp.at(now))
        assert refused["__typename"] == "RateLimited", refused
        window = factor * BUDGET_WINDOW_SECONDS
        assert window - 60 <= refused["retryAfterSeconds"] <= window, (factor, refused)
    # Whatever the windows, no more than the day's tries: then the rest of the day.
    day_end = int(time.time() * 1000) + 3 * 3600 * 1000
    await set_budget(
        backend_urls,
        user_id,
        window_end=0,
        used=0,
        level=0,
        day_used=SECOND_FACTOR_TRIES_PER_DAY - 1,
        day_end=day_end,
    )
    last = await verify(client, await challenge(client, email), wrong)
    assert last == {**last, "__typename": "InvalidCode", "attemptsLeft": 0}, last
    refused = await verify(client, await challenge(client, email), totp.at(now))
    assert refused["__typename"] == "RateLimited", refused
    assert 3 * 3600 - 60 <= refused["retryAfterSeconds"] <= 3 * 3600, refused


async def test_a_right_code_ends_the_window_and_its_growth(client, mailbox, backend_urls):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email, user_id = registered["user"]["email"], registered["user"]["id"]
    wrong = wrong_for(totp, now)
    challenge_id = await challenge(client, email)
    assert (await verify(client, challenge_id, wrong))["attemptsLeft"] == 4
    await set_budget(backend_urls, user_id, level=3)
    assert (await verify(client, challenge_id, totp.at(now)))["__typename"] == "AuthPayload"
    state = await budget(backend_urls, user_id)
    assert (state["used"], state["level"], state["day_used"]) == (0, 0, 1), state


# ---------------------------------------------------------------- attack 5: non-ASCII digits


async def test_non_ascii_digits_are_a_wrong_code_everywhere(client, mailbox):
    now = await step_start()
    # confirmTotp: an enrolment waiting for its first code.
    pending = await register(client, mailbox)
    totp = await enroll(client, pending["accessToken"])
    for left, code in enumerate(NON_ASCII_CODES[:3]):
        body = await gql(client, CONFIRM, {"code": code}, token=pending["accessToken"])
        assert not body.get("errors"), body
        assert body["data"]["confirmTotp"]["__typename"] == "InvalidCode", body
        assert body["data"]["confirmTotp"]["attemptsLeft"] == 4 - left
    confirmed = await data(client, CONFIRM, {"code": totp.at(now - 30)}, token=pending["accessToken"])
    assert confirmed["__typename"] == "TotpEnabled", confirmed

    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email, token = registered["user"]["email"], registered["accessToken"]
    challenge_id = await challenge(client, email)
    answers = [await verify(client, challenge_id, code) for code in NON_ASCII_CODES[:2]]
    answers += [await data(client, DISABLE, {"password": PASSWORD, "code": NON_ASCII_CODES[2]}, token=token)]
    answers += [
        await data(client, REGENERATE, {"password": PASSWORD, "code": NON_ASCII_CODES[3]}, token=token)
    ]
    assert [answer["__typename"] for answer in answers] == ["InvalidCode"] * 4, answers
    assert [answer["attemptsLeft"] for answer in answers] == [4, 3, 2, 1]
    # Counted like any wrong code, nothing else spent: the ASCII code still signs in.
    assert (await verify(client, challenge_id, totp.at(now)))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- attack 7: older sessions end


async def test_turning_two_factor_on_ends_every_other_session(client, mailbox):
    now = await step_start()
    registered = await register(client, mailbox)
    email, token = registered["user"]["email"], registered["accessToken"]
    older = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    assert older["__typename"] == "AuthPayload" and amr(older["accessToken"]) == ["pwd"]
    totp = await enroll(client, token)
    confirmed = await data(client, CONFIRM, {"code": totp.at(now - 30)}, token=token)
    assert confirmed["__typename"] == "TotpEnabled", confirmed
    # The older session's tokens stop at once: no access, no refresh.
    body = await gql(client, ME_2FA, token=older["accessToken"])
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    refreshed = await data(client, REFRESH, {"token": older["refreshToken"]})
    assert refreshed["__typename"] == "InvalidRefreshToken", refreshed
    # The session that turned it on goes on.
    assert (await data(client, ME_2FA, token=token))["twoFactorEnabled"] is True
    assert (await data(client, REFRESH, {"token": registered["refreshToken"]}))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- L2: the factor asked again


async def test_changes_to_the_account_ask_for_the_second_factor_unless_the_session_has_it(client, mailbox):
    now = await step_start()
    registered, totp, codes = await with_two_factor(client, mailbox, now)
    email, token = registered["user"]["email"], registered["accessToken"]  # opened by email alone
    wrong = wrong_for(totp, now)
    calls = {
        "changePassword": (CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}),
        "startEmailChange": (START_EMAIL_CHANGE, {"email": new_email(), "password": PASSWORD}),
        "deleteAccount": (DELETE_ACCOUNT, {"password": PASSWORD}),
    }
    for name, (query, variables) in calls.items():
        missing = await data(client, query, variables, token=token)
        assert missing["__typename"] == "InvalidCredentials", (name, missing)
        assert "two-factor" in missing["message"].lower(), missing
        wrong_code = await data(client, query, {**variables, "code": wrong}, token=token)
        assert wrong_code["__typename"] == "InvalidCredentials", (name, wrong_code)
        assert "code" in wrong_code["message"], wrong_code
    # Nothing changed: the password is the old one, the account is there.
    assert (await challenge(client, email)) and (await data(client, ME_2FA, token=token))["twoFactorEnabled"]
    assert notices(mailbox, email) and not [text for text in notices(mailbox, email) if CHANGED in text]

    # With the factor: a TOTP for one, a recovery code for another.
    started = await data(
        client, START_EMAIL_CHANGE, {**calls["startEmailChange"][1], "code": codes[0]}, token
    )
    assert started["__typename"] == "EmailChangeStarted", started
    changed = await data(client, CHANGE_PASSWORD, {**calls["changePassword"][1], "code": totp.at(now)}, token)
    assert changed["__typename"] == "AuthPayload", changed
    mail = next(text for text in await wait_for_notices(mailbox, email, 3) if CHANGED in text)
    assert NEW_PASSWORD not in mail

    # A session opened with the second factor is asked nothing more.
    signed_in = await verify(client, await challenge(client, email, NEW_PASSWORD), totp.at(now + 30))
    assert signed_in["__typename"] == "AuthPayload" and "mfa" in amr(signed_in["accessToken"])
    deleted = await data(client, DELETE_ACCOUNT, {"password": NEW_PASSWORD}, token=signed_in["accessToken"])
    assert deleted["__typename"] == "AccountDeleted", deleted


async def test_a_password_change_mails_a_notice_without_two_factor_too(client, mailbox):
    registered = await register(client, mailbox)
    email = registered["user"]["email"]
    variables = {"current": PASSWORD, "new": NEW_PASSWORD}
    changed = await data(client, CHANGE_PASSWORD, variables, token=registered["accessToken"])
    assert changed["__typename"] == "AuthPayload", changed
    (mail,) = [text for text in await wait_for_notices(mailbox, email, 1) if CHANGED in text]
    assert NEW_PASSWORD not in mail and PASSWORD not in mail


# ---------------------------------------------------------------- L3: the notice before the change


async def test_no_change_happens_when_its_notice_cannot_be_queued(backend_urls, mailbox):
    """MongoDB refuses the outbox (a collection on a server that is not there): the
    change a notice would report is not made either."""
    async with serve_app(settings_with(backend_urls, mailbox)) as (client, app):
        now = await step_start()
        registered, totp, codes = await with_two_factor(client, mailbox, now)
        email, token = registered["user"]["email"], registered["accessToken"]
        outbox = app.state.services.outbox
        working = outbox._collection
        gone: AsyncMongoClient[Any] = AsyncMongoClient(
            f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=200, connectTimeoutMS=200
        )
        outbox._collection = gone["authql"]["outbox"]
        try:
            attempts: list[tuple[str, dict[str, Any]]] = [
                (DISABLE, {"password": PASSWORD, "code": totp.at(now)}),
                (DISABLE, {"password": PASSWORD, "code": codes[0]}),
                (REGENERATE, {"password": PASSWORD, "code": codes[1]}),
                (CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD, "code": totp.at(now + 30)}),
            ]
            for query, variables in attempts:
                body = await gql(client, query, variables, token=token)
                assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
        finally:
            outbox._collection = working
            await gone.close()
        # Two-factor still on, no recovery code spent, the password unchanged.
        assert await data(client, ME_2FA, token=token) == {"twoFactorEnabled": True, "recoveryCodesLeft": 10}
        assert (await challenge(client, email)) is not None


async def test_racing_requests_with_one_recovery_code_queue_one_notice(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox)) as client:
        now = await step_start()
        registered, _, codes = await with_two_factor(client, mailbox, now)
        email = registered["user"]["email"]
        challenges = [await challenge(client, email) for _ in range(4)]
        answers = await asyncio.gather(*(verify(client, each, codes[0]) for each in challenges))
        assert sorted(answer["__typename"] for answer in answers) == ["AuthPayload"] + ["InvalidCode"] * 3
        await wait_for_notices(mailbox, email, 2)
        await asyncio.sleep(0.5)
        used = [text for text in notices(mailbox, email) if "recovery codes was just used" in text]
        assert len(used) == 1 and "9 recovery codes are left" in used[0], used
