"""Two-factor authentication (account.graphql) from the client's side, over HTTP with the
real Redis, nx-27017 and SMTP sink: codes are computed here with pyotp from the secret
enrollTotp answers, as an authenticator app would."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jwt
import pymongo
import pyotp
import pytest
from conftest import TOTP_NOW, captured_security_events, serve, text_of
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import AUTH, PASSWORD, PROBLEM, RATE, data, register
from redis_client import redis_client

from security.two_factor import budget_key

NEW_PASSWORD = "a brand new horse battery"
NOTICE_SUBJECT = "Security notice for your authql account"
RECOVERY_CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTVWXYZ]{4}(-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{4}){2}$")
CODE = "... on InvalidCode { attemptsLeft }"
# Requests racing one code: as many as an account may try at once (SecondFactorBudget).
RACERS = 5

ME_2FA = "query { me { twoFactorEnabled recoveryCodesLeft } }"
ENROLL = f"""mutation($password: String!) {{ enrollTotp(password: $password) {{ __typename
  ... on TotpEnrollment {{ secret otpauthUri qrSvg }} {PROBLEM} {RATE} }} }}"""
CONFIRM = f"""mutation($code: String!) {{ confirmTotp(code: $code) {{ __typename
  ... on TotpEnabled {{ recoveryCodes }} {PROBLEM} {CODE} {RATE} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{ login(email: $email, password: $password) {{
  __typename {AUTH} ... on SecondFactorRequired {{ challengeId expiresAt methods }} {PROBLEM} {RATE} }} }}"""
VERIFY = f"""mutation($id: ID!, $code: String!) {{ verifySecondFactor(challengeId: $id, code: $code) {{
  __typename {AUTH} {PROBLEM} {CODE} {RATE} }} }}"""
DISABLE = f"""mutation($password: String!, $code: String!) {{
  disableTotp(password: $password, code: $code) {{ __typename
  ... on TotpDisabled {{ user {{ twoFactorEnabled recoveryCodesLeft }} }} {PROBLEM} {CODE} {RATE} }} }}"""
REGENERATE = f"""mutation($password: String!, $code: String!) {{
  regenerateRecoveryCodes(password: $password, code: $code) {{ __typename
  ... on RecoveryCodes {{ codes }} {PROBLEM} {CODE} {RATE} }} }}"""
REFRESH = f"""mutation($token: String!) {{ refreshTokens(refreshToken: $token) {{
  __typename {AUTH} {PROBLEM} }} }}"""
START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) { __typename
  ... on PasswordResetStarted { resetId } } }"""
COMPLETE_RESET = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{ __typename {AUTH}
  ... on SecondFactorRequired {{ challengeId expiresAt methods }} {PROBLEM} }} }}"""


# ---------------------------------------------------------------- helpers


def amr(access_token: str) -> list[str]:
    """The token's `amr` claim, as an API behind authql reads it."""
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return list(claims["amr"])


@pytest.fixture(scope="module")
async def client(backend_urls, mailbox) -> AsyncIterator[httpx.AsyncClient]:
    """The module's app (its TOTP clock stopped at TOTP_NOW, as every test app's)."""
    async with serve(settings_with(backend_urls, mailbox)) as client:
        yield client


async def step_start() -> float:
    """The time the test apps check codes at (conftest's TOTP_NOW)."""
    return TOTP_NOW


async def enroll(client, token: str) -> pyotp.TOTP:
    enrolled = await data(client, ENROLL, {"password": PASSWORD}, token=token)
    assert enrolled["__typename"] == "TotpEnrollment", enrolled
    return pyotp.TOTP(enrolled["secret"])


async def with_two_factor(client, mailbox, now: float) -> tuple[dict[str, Any], pyotp.TOTP, list[str]]:
    """A registered account with two-factor on, confirmed with the code of the step before
    `now` (so the current step's code is unused): its AuthPayload, TOTP and recovery codes."""
    registered = await register(client, mailbox)
    totp = await enroll(client, registered["accessToken"])
    confirmed = await data(client, CONFIRM, {"code": totp.at(now - 30)}, token=registered["accessToken"])
    assert confirmed["__typename"] == "TotpEnabled", confirmed
    return registered, totp, confirmed["recoveryCodes"]


async def challenge(client, email: str, password: str = PASSWORD) -> str:
    answer = await data(client, LOGIN, {"email": email, "password": password})
    assert answer["__typename"] == "SecondFactorRequired", answer
    return str(answer["challengeId"])


async def verify(client, challenge_id: str, code: str) -> dict[str, Any]:
    return await data(client, VERIFY, {"id": challenge_id, "code": code})


async def raw_user(backend_urls, settings, email: str) -> dict[str, Any]:
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        document = await mongo[settings.mongo_db]["users"].find_one({"email": email})
    finally:
        await mongo.close()
    assert document is not None
    return document


async def forget_tries(backend_urls, user_id: str) -> None:
    """Start the account's count of second-factor tries afresh (as if its window had passed)."""
    redis = redis_client(backend_urls)
    try:
        await redis.delete(budget_key(user_id))
    finally:
        await redis.aclose()


async def set_stored(backend_urls, settings, email: str, **fields: Any) -> None:
    """Write state straight into the stored account (instead of waiting for time to pass)."""
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        await mongo[settings.mongo_db]["users"].update_one({"email": email}, {"$set": fields})
    finally:
        await mongo.close()


def notices(mailbox, email: str) -> list[str]:
    return [text_of(message) for message in mailbox.received(email) if message["Subject"] == NOTICE_SUBJECT]


async def wait_for_notices(mailbox, email: str, count: int) -> list[str]:
    deadline = time.monotonic() + 10
    while len(notices(mailbox, email)) < count:
        assert time.monotonic() < deadline, notices(mailbox, email)
        await asyncio.sleep(0.02)
    return notices(mailbox, email)


async def reset_code(mailbox, email: str, subject_word: str = "reset") -> str:
    """The code of the first mail to `email` whose subject has `subject_word`."""
    deadline = time.monotonic() + 10
    while True:
        texts = [text_of(mail) for mail in mailbox.received(email) if subject_word in mail["Subject"]]
        if texts:
            match = re.search(r"^\s*(\d{6})\s*$", texts[0], re.MULTILINE)
            assert match, texts[0]
            return match.group(1)
        assert time.monotonic() < deadline, f"no {subject_word} mail"
        await asyncio.sleep(0.02)


@contextmanager
def every_log_line() -> Iterator[list[str]]:
    """Every log record authql writes inside the block, formatted."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


# ---------------------------------------------------------------- the whole cycle


async def test_enrol_confirm_login_verify_disable_cycle(client, mailbox):
    registered = await register(client, mailbox)
    token, email = registered["accessToken"], registered["user"]["email"]
    assert amr(token) == ["email"]
    assert await data(client, ME_2FA, token=token) == {"twoFactorEnabled": False, "recoveryCodesLeft": 0}

    wrong = await data(client, ENROLL, {"password": "not the password at all"}, token=token)
    assert wrong["__typename"] == "InvalidCredentials"
    enrolled = await data(client, ENROLL, {"password": PASSWORD}, token=token)
    assert enrolled["__typename"] == "TotpEnrollment", enrolled
    secret = enrolled["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert enrolled["otpauthUri"] == pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="authql")
    assert enrolled["qrSvg"].startswith("<svg") and enrolled["qrSvg"].rstrip().endswith("</svg>")
    # Pending: still off until confirmed; login still opens a session at once.
    assert (await data(client, ME_2FA, token=token))["twoFactorEnabled"] is False
    assert (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["__typename"] == "AuthPayload"

    now = await step_start()
    totp = pyotp.TOTP(secret)
    bad = "000000" if totp.at(now - 30) != "000000" else "111111"
    refused = await data(client, CONFIRM, {"code": bad}, token=token)
    assert refused == {"__typename": "InvalidCode", "message": refused["message"], "attemptsLeft": 4}
    with captured_security_events() as events:
        confirmed = await data(client, CONFIRM, {"code": totp.at(now - 30)}, token=token)
    assert confirmed["__typename"] == "TotpEnabled", confirmed
    assert [event["event"] for event in events] == ["two_factor_enabled"]
    codes = confirmed["recoveryCodes"]
    assert len(codes) == len(set(codes)) == 10 and all(RECOVERY_CODE.fullmatch(code) for code in codes), codes
    assert "two-factor authentication was turned on" in (await wait_for_notices(mailbox, email, 1))[0]
    assert await data(client, ME_2FA, token=token) == {"twoFactorEnabled": True, "recoveryCodesLeft": 10}
    again = await data(client, ENROLL, {"password": PASSWORD}, token=token)
    assert again["__typename"] == "TwoFactorAlreadyEnabled"

    # The password alone now opens no session: a challenge, answered with the app's code.
    answer = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    assert answer["__typename"] == "SecondFactorRequired", answer
    assert answer["methods"] == ["TOTP", "RECOVERY_CODE"] and "accessToken" not in answer
    signed_in = await verify(client, answer["challengeId"], totp.at(now))
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert amr(signed_in["accessToken"]) == ["pwd", "otp", "mfa"]
    # The session keeps how it was opened: a refreshed token says the same.
    refreshed = await data(client, REFRESH, {"token": signed_in["refreshToken"]})
    assert amr(refreshed["accessToken"]) == ["pwd", "otp", "mfa"]
    # A challenge answered is gone.
    assert (await verify(client, answer["challengeId"], totp.at(now + 30)))["__typename"] == "FlowExpired"

    # Off again: both factors needed.
    session = refreshed["accessToken"]
    no_code = await data(client, DISABLE, {"password": PASSWORD, "code": bad}, token=session)
    assert no_code["__typename"] == "InvalidCode"
    no_password = await data(
        client, DISABLE, {"password": "wrong wrong wrong", "code": codes[0]}, token=session
    )
    assert no_password["__typename"] == "InvalidCredentials"
    with captured_security_events() as events:
        disabled = await data(
            client, DISABLE, {"password": PASSWORD, "code": totp.at(now + 30)}, token=session
        )
    assert "two_factor_disabled" in [event["event"] for event in events]
    assert disabled == {
        "__typename": "TotpDisabled",
        "user": {"twoFactorEnabled": False, "recoveryCodesLeft": 0},
    }
    assert "two-factor authentication was turned off" in (await wait_for_notices(mailbox, email, 2))[1]
    plain = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    assert plain["__typename"] == "AuthPayload" and amr(plain["accessToken"]) == ["pwd"]


async def test_a_totp_code_is_accepted_once(client, mailbox):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email = registered["user"]["email"]
    first = await verify(client, await challenge(client, email), totp.at(now))
    assert first["__typename"] == "AuthPayload", first
    replayed = await verify(client, await challenge(client, email), totp.at(now))
    assert replayed["__typename"] == "InvalidCode", replayed
    # The code that confirmed the enrolment is spent too.
    assert (await verify(client, await challenge(client, email), totp.at(now - 30)))[
        "__typename"
    ] == "InvalidCode"


async def test_one_code_raced_over_many_challenges_signs_in_once(client, mailbox, backend_urls):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email = registered["user"]["email"]
    for offset in (0, 30):
        await forget_tries(backend_urls, registered["user"]["id"])
        challenges = [await challenge(client, email) for _ in range(RACERS)]
        code = totp.at(now + offset)
        answers = await asyncio.gather(*(verify(client, each, code) for each in challenges))
        kinds = sorted(answer["__typename"] for answer in answers)
        assert kinds == ["AuthPayload"] + ["InvalidCode"] * (RACERS - 1), kinds


async def test_one_step_of_drift_is_accepted_and_two_refused(client, mailbox, backend_urls, settings):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email = registered["user"]["email"]
    # Forget which step was used last, so only the drift decides.
    await set_stored(backend_urls, settings, email, totp_last_step=0)
    for far in (now - 60, now + 60):
        assert (await verify(client, await challenge(client, email), totp.at(far)))[
            "__typename"
        ] == "InvalidCode"
    behind = await verify(client, await challenge(client, email), totp.at(now - 30))
    assert behind["__typename"] == "AuthPayload", behind
    ahead = await verify(client, await challenge(client, email), totp.at(now + 30))
    assert ahead["__typename"] == "AuthPayload", ahead


async def test_recovery_codes_work_once_even_when_raced(client, mailbox, backend_urls):
    now = await step_start()
    registered, _, codes = await with_two_factor(client, mailbox, now)
    email, token = registered["user"]["email"], registered["accessToken"]
    for round_, code in enumerate(codes[:3], start=1):
        await forget_tries(backend_urls, registered["user"]["id"])
        challenges = [await challenge(client, email) for _ in range(RACERS)]
        # Typed as a person might: lower case, spaces instead of dashes.
        typed = code.lower().replace("-", " ") if round_ == 2 else code
        answers = await asyncio.gather(*(verify(client, each, typed) for each in challenges))
        won = [answer for answer in answers if answer["__typename"] == "AuthPayload"]
        assert len(won) == 1, [answer["__typename"] for answer in answers]
        assert amr(won[0]["accessToken"]) == ["pwd", "mfa"]
        assert (await data(client, ME_2FA, token=token))["recoveryCodesLeft"] == 10 - round_
    assert (await verify(client, await challenge(client, email), codes[0]))["__typename"] == "InvalidCode"
    mails = await wait_for_notices(mailbox, email, 4)  # turned on, then three codes used
    used = [text for text in mails if "one of your authql recovery codes was just used" in text]
    assert len(used) == 3 and "7 recovery codes are left" in used[-1]
    for code in codes:
        assert all(code not in text for text in mails)


async def test_a_challenge_allows_five_attempts(client, mailbox):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    challenge_id = await challenge(client, registered["user"]["email"])
    wrong = "000000" if totp.at(now) != "000000" else "111111"
    left = [(await verify(client, challenge_id, wrong))["attemptsLeft"] for _ in range(5)]
    assert left == [4, 3, 2, 1, 0]
    assert (await verify(client, challenge_id, totp.at(now)))["__typename"] == "FlowExpired"
    assert (await verify(client, "no-such-challenge", totp.at(now)))["__typename"] == "FlowExpired"


async def test_a_known_password_buys_no_more_guesses_at_the_second_factor(client, mailbox):
    """New challenges (each correct password clears the address's lockout) do not give
    back the account's tries: 5 wrong codes per 10 minutes, then RateLimited."""
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email = registered["user"]["email"]
    wrong = "000000" if totp.at(now) != "000000" else "111111"
    first = await challenge(client, email)
    assert [(await verify(client, first, wrong))["__typename"] for _ in range(5)] == ["InvalidCode"] * 5
    refused = await verify(client, await challenge(client, email), totp.at(now))
    assert refused["__typename"] == "RateLimited" and refused["retryAfterSeconds"] > 500, refused


async def test_wrong_second_factors_count_into_the_lockout(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, login_lockout_threshold=3)) as client:
        now = await step_start()
        registered, totp, _ = await with_two_factor(client, mailbox, now)
        email = registered["user"]["email"]
        challenge_id = await challenge(client, email)
        wrong = "000000" if totp.at(now) != "000000" else "111111"
        with captured_security_events() as events:
            for _ in range(3):
                assert (await verify(client, challenge_id, wrong))["__typename"] == "InvalidCode"
        assert [event["event"] for event in events].count("second_factor_failed") == 3
        assert "lockout" in [event["event"] for event in events]
        # Locked: even the right code is refused, and so is the password.
        assert (await verify(client, challenge_id, totp.at(now)))["__typename"] == "RateLimited"
        locked = await data(client, LOGIN, {"email": email, "password": PASSWORD})
        assert locked["__typename"] == "RateLimited"


async def test_verify_second_factor_is_rate_limited_per_ip(backend_urls, mailbox):
    settings = settings_with(backend_urls, mailbox, rate_limit_verify_second_factor="3/minute")
    async with serve(settings) as client:
        answers = [await verify(client, f"nope-{n}", "123456") for n in range(4)]
    assert [answer["__typename"] for answer in answers] == ["FlowExpired"] * 3 + ["RateLimited"]
    assert answers[-1]["retryAfterSeconds"] > 0


async def test_reset_with_two_factor_changes_the_password_then_asks_for_the_second(client, mailbox):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email, old_token = registered["user"]["email"], registered["accessToken"]
    started = await data(client, START_RESET, {"email": email})
    code = await reset_code(mailbox, email)
    answer = await data(
        client, COMPLETE_RESET, {"id": started["resetId"], "code": code, "password": NEW_PASSWORD}
    )
    assert answer["__typename"] == "SecondFactorRequired", answer
    # Changed and every session ended, though no new one opened yet.
    body = await client.post(
        "/graphql", json={"query": ME_2FA}, headers={"Authorization": f"Bearer {old_token}"}
    )
    assert body.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    old = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    assert old["__typename"] == "InvalidCredentials"
    assert (await challenge(client, email, NEW_PASSWORD)) != answer["challengeId"]
    signed_in = await verify(client, answer["challengeId"], totp.at(now))
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert amr(signed_in["accessToken"]) == ["email", "otp", "mfa"]


START_CODE_LOGIN = """mutation($email: String!) { startCodeLogin(email: $email) { __typename
  ... on CodeLoginStarted { loginId } } }"""
COMPLETE_CODE_LOGIN = f"""mutation($id: ID!, $code: String!) {{
  completeCodeLogin(loginId: $id, code: $code) {{ __typename {AUTH}
  ... on SecondFactorRequired {{ challengeId methods }} {PROBLEM} {CODE} }} }}"""


async def test_a_sign_in_by_emailed_code_asks_for_the_second_factor_too(client, mailbox):
    now = await step_start()
    registered, totp, _ = await with_two_factor(client, mailbox, now)
    email = registered["user"]["email"]
    started = await data(client, START_CODE_LOGIN, {"email": email})
    code = await reset_code(mailbox, email, subject_word="sign-in")
    answer = await data(client, COMPLETE_CODE_LOGIN, {"id": started["loginId"], "code": code})
    assert answer["__typename"] == "SecondFactorRequired", answer
    assert set(answer["methods"]) == {"TOTP", "RECOVERY_CODE"}
    signed_in = await verify(client, answer["challengeId"], totp.at(now))
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert amr(signed_in["accessToken"]) == ["email", "otp", "mfa"]


async def test_regenerating_recovery_codes_needs_both_factors(client, mailbox):
    now = await step_start()
    registered, totp, codes = await with_two_factor(client, mailbox, now)
    email, token = registered["user"]["email"], registered["accessToken"]
    wrong_password = await data(
        client, REGENERATE, {"password": "wrong wrong wrong", "code": totp.at(now)}, token
    )
    assert wrong_password["__typename"] == "InvalidCredentials"
    wrong_code = await data(client, REGENERATE, {"password": PASSWORD, "code": "ABCD-EFGH-JKMN"}, token)
    assert wrong_code["__typename"] == "InvalidCode" and wrong_code["attemptsLeft"] == 4
    with captured_security_events() as events:
        fresh = await data(client, REGENERATE, {"password": PASSWORD, "code": codes[0]}, token)
    assert fresh["__typename"] == "RecoveryCodes", fresh
    assert {"recovery_code_used", "recovery_codes_regenerated"} <= {event["event"] for event in events}
    # Turned on, a recovery code used, new ones made: three notices.
    assert any(
        "a new set of recovery codes was made" in text for text in await wait_for_notices(mailbox, email, 3)
    )
    assert len(fresh["codes"]) == 10 and not set(fresh["codes"]) & set(codes)
    assert (await verify(client, await challenge(client, email), codes[1]))["__typename"] == "InvalidCode"
    assert (await verify(client, await challenge(client, email), fresh["codes"][0]))[
        "__typename"
    ] == "AuthPayload"


async def test_an_unconfirmed_enrolment_expires(client, mailbox, backend_urls, settings):
    registered = await register(client, mailbox)
    token, email = registered["accessToken"], registered["user"]["email"]
    totp = await enroll(client, token)
    await set_stored(backend_urls, settings, email, totp_pending_expires=int(time.time()) - 1)
    late = await data(client, CONFIRM, {"code": totp.now()}, token=token)
    assert late["__typename"] == "FlowExpired"
    assert (await data(client, ME_2FA, token=token))["twoFactorEnabled"] is False
    # Never enrolled: nothing to confirm either.
    other = await register(client, mailbox)
    assert (await data(client, CONFIRM, {"code": "123456"}, token=other["accessToken"]))[
        "__typename"
    ] == "FlowExpired"


async def test_the_database_never_holds_the_secret_or_codes_in_clear(client, mailbox, backend_urls, settings):
    now = await step_start()
    registered, totp, codes = await with_two_factor(client, mailbox, now)
    stored = str(await raw_user(backend_urls, settings, registered["user"]["email"]))
    secret = totp.secret
    raw = base64.b32decode(secret)
    for form in (
        secret,
        secret.lower(),
        raw.hex(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    ):
        assert form not in stored
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


async def test_no_secret_or_code_reaches_the_logs(client, mailbox):
    now = await step_start()
    with every_log_line() as lines:
        registered, totp, codes = await with_two_factor(client, mailbox, now)
        email = registered["user"]["email"]
        used = [totp.at(now), codes[0]]
        assert (await verify(client, await challenge(client, email), used[0]))["__typename"] == "AuthPayload"
        assert (await verify(client, await challenge(client, email), used[1]))["__typename"] == "AuthPayload"
        await wait_for_notices(mailbox, email, 2)
    log = "\n".join(lines)
    assert "second_factor_succeeded" in log and "recovery_code_used" in log
    for secret in [totp.secret, totp.at(now - 30), *used, *codes, PASSWORD]:
        assert secret not in log, secret


async def test_codes_are_checked_against_the_wall_clock(backend_urls, mailbox):
    """With the server's own clock: a code of now passes, codes three steps either way do
    not, and a code one step ahead passes later; true whenever the test runs (a step's end
    may pass in between: each code is computed from the time just before it is sent)."""
    async with serve(settings_with(backend_urls, mailbox), totp_now=None) as client:
        registered = await register(client, mailbox)
        totp = await enroll(client, registered["accessToken"])
        confirmed = await data(
            client, CONFIRM, {"code": totp.at(time.time())}, token=registered["accessToken"]
        )
        assert confirmed["__typename"] == "TotpEnabled", confirmed
        email = registered["user"]["email"]
        challenge_id = await challenge(client, email)
        for far in (-90, 90):
            assert (await verify(client, challenge_id, totp.at(time.time() + far)))[
                "__typename"
            ] == "InvalidCode"
        ahead = await verify(client, challenge_id, totp.at(time.time() + 30))
        assert ahead["__typename"] == "AuthPayload", ahead
