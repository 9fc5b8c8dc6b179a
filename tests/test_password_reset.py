"""Password reset by emailed code (sessions.graphql), seen from the client's side:
what each step answers over HTTP, which mails arrive, and which doors stay shut."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from conftest import end_resend_cooldown, resent_code_promoted, serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import ME, PASSWORD, PROFILE, START, VERIFY, data, gql, new_email, password_set, wrong_codes

RESET_SUBJECT = "Your authql password reset code"
NEW_PASSWORD = "a brand new horse battery"
CODE_LINE = re.compile(r"^\s*(\d{6})\s*$", re.MULTILINE)
SIX_OR_MORE_DIGITS = re.compile(r"\d{6,}")
GARBAGE_IDS = ["", "x", "{}", "x" * 5000]

# ---------------------------------------------------------------- operations

TOKENS = """... on AuthPayload { accessToken refreshToken refreshExpiresIn sessionId tokenType expiresIn
  user { id email } }"""
PROBLEM = "... on Problem { message }"

START_RESET = f"""mutation($email: String!) {{ startPasswordReset(email: $email) {{ __typename
  ... on PasswordResetStarted {{ resetId expiresAt resendAvailableAt codeLength }}
  {PROBLEM} ... on RateLimited {{ retryAfterSeconds }} }} }}"""
RESEND_RESET = f"""mutation($id: ID!) {{ resendPasswordResetCode(resetId: $id) {{ __typename
  ... on PasswordResetCodeSent {{ expiresAt resendAvailableAt }}
  {PROBLEM} ... on RateLimited {{ retryAfterSeconds }} }} }}"""
COMPLETE_RESET = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{ __typename {TOKENS}
  {PROBLEM} ... on InvalidCode {{ attemptsLeft }} ... on WeakPassword {{ reasons }}
  ... on RateLimited {{ retryAfterSeconds }} }} }}"""
COMPLETE_REGISTRATION = f"""mutation($token: String!, $profile: ProfileInput!) {{
  completeRegistration(registrationToken: $token, profile: $profile) {{ __typename {TOKENS} {PROBLEM} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ __typename {TOKENS} {PROBLEM} }} }}"""
REFRESH = f"""mutation($token: String!) {{
  refreshTokens(refreshToken: $token) {{ __typename {TOKENS} {PROBLEM} }} }}"""
SESSIONS = "query { sessions { id current } }"

# ---------------------------------------------------------------- small helpers


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def reset_app(backend_urls, mailbox, **overrides: Any):
    """A second app beside the session's one, with `overrides` in its settings."""
    return serve(settings_with(backend_urls, mailbox, **overrides))


async def sign_up(client, mailbox, email: str | None = None) -> dict[str, Any]:
    """A registered account; its AuthPayload with refresh token and session id."""
    email = email or new_email()
    token = await password_set(client, mailbox, email, PASSWORD)
    payload = await data(client, COMPLETE_REGISTRATION, {"token": token, "profile": PROFILE})
    assert payload["__typename"] == "AuthPayload", payload
    return payload


async def login(client, email: str, password: str) -> dict[str, Any]:
    return await data(client, LOGIN, {"email": email, "password": password})


async def start_reset(client, email: str) -> dict[str, Any]:
    return await data(client, START_RESET, {"email": email})


async def resend_reset(client, reset_id: str) -> dict[str, Any]:
    return await data(client, RESEND_RESET, {"id": reset_id})


async def complete_reset(client, reset_id: str, code: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    return await data(client, COMPLETE_RESET, {"id": reset_id, "code": code, "password": password})


async def started_reset(client, email: str) -> str:
    """startPasswordReset that must succeed: the resetId."""
    result = await start_reset(client, email)
    assert result["__typename"] == "PasswordResetStarted", result
    return result["resetId"]


def reset_mails(mailbox, email: str) -> list[EmailMessage]:
    """Mails to `email` with the reset subject (registration mails go to the same box)."""
    return [message for message in mailbox.received(email) if message["Subject"] == RESET_SUBJECT]


async def newest_reset_mail(mailbox, email: str, count: int = 1, timeout: float = 10.0) -> EmailMessage:
    """The newest reset mail to `email`, once at least `count` of them arrived."""
    deadline = time.monotonic() + timeout
    while len(reset_mails(mailbox, email)) < count:
        assert time.monotonic() < deadline, f"no reset mail #{count} for {email}"
        await asyncio.sleep(0.02)
    return reset_mails(mailbox, email)[-1]


def bodies(message: EmailMessage) -> list[str]:
    """Every text part (plain and HTML) of a mail."""
    return [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]


async def reset_code(mailbox, email: str, count: int = 1) -> str:
    """The 6-digit code line of the newest reset mail."""
    message = await newest_reset_mail(mailbox, email, count)
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    match = CODE_LINE.search(plain.get_content())
    assert match, plain.get_content()
    return match.group(1)


def holds_a_code(message: EmailMessage, address: str) -> bool:
    """A run of six or more digits in any text part, the "sent to <address>" left out."""
    return any(SIX_OR_MORE_DIGITS.search(body.replace(address, "")) for body in bodies(message))


async def no_more_reset_mail(mailbox, email: str, expected: int) -> None:
    """Give a stray mail time to arrive, then check the count did not grow."""
    await asyncio.sleep(0.3)
    assert len(reset_mails(mailbox, email)) == expected, [m["Subject"] for m in mailbox.received(email)]


async def assert_unauthenticated(client, access_token: str) -> None:
    body = await gql(client, ME, token=access_token)
    assert body.get("data") is None, body
    codes = [error.get("extensions", {}).get("code") for error in body.get("errors") or []]
    assert codes == ["UNAUTHENTICATED"], body


async def refresh(client, refresh_token: str) -> dict[str, Any]:
    return await data(client, REFRESH, {"token": refresh_token})


# ---------------------------------------------------------------- 1. happy path


async def test_reset_replaces_the_password_and_ends_every_old_session(client, mailbox):
    registered = await sign_up(client, mailbox)
    email = registered["user"]["email"]
    second = await login(client, email, PASSWORD)
    assert second["__typename"] == "AuthPayload", second
    old_sessions = [registered, second]

    before = datetime.now(UTC)
    started = await start_reset(client, f"  {email.upper()} ")
    assert started["__typename"] == "PasswordResetStarted", started
    assert started["resetId"]
    assert started["codeLength"] == 6
    assert parse_time(started["expiresAt"]) > before
    assert before < parse_time(started["resendAvailableAt"]) <= parse_time(started["expiresAt"])

    code = await reset_code(mailbox, email)
    assert re.fullmatch(r"\d{6}", code), code
    await no_more_reset_mail(mailbox, email, expected=1)

    payload = await complete_reset(client, started["resetId"], code)
    assert payload["__typename"] == "AuthPayload", payload
    assert payload["user"]["id"] == registered["user"]["id"]
    assert payload["user"]["email"] == email
    assert payload["accessToken"] and payload["refreshToken"] and payload["refreshExpiresIn"] > 0
    assert payload["sessionId"] not in {old["sessionId"] for old in old_sessions}

    for old in old_sessions:
        await assert_unauthenticated(client, old["accessToken"])
        result = await refresh(client, old["refreshToken"])
        assert result["__typename"] == "InvalidRefreshToken", result

    me = await data(client, ME, token=payload["accessToken"])
    assert me["id"] == registered["user"]["id"]
    live = await data(client, SESSIONS, token=payload["accessToken"])
    assert live == [{"id": payload["sessionId"], "current": True}], live

    assert (await login(client, email, PASSWORD))["__typename"] == "InvalidCredentials"
    signed_in = await login(client, email, NEW_PASSWORD)
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert signed_in["user"]["id"] == registered["user"]["id"]


# ---------------------------------------------------------------- 2. wrong codes


async def test_wrong_codes_burn_the_reset_and_keep_the_password(client, mailbox):
    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    code = await reset_code(mailbox, email)

    left = []
    for guess in wrong_codes(code, 5):
        result = await complete_reset(client, reset_id, guess)
        assert result["__typename"] == "InvalidCode", result
        left.append(result["attemptsLeft"])
    assert left == [4, 3, 2, 1, 0]

    result = await complete_reset(client, reset_id, code)
    assert result["__typename"] == "FlowExpired", result
    assert (await login(client, email, NEW_PASSWORD))["__typename"] == "InvalidCredentials"
    assert (await login(client, email, PASSWORD))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- 3. aliased guesses


async def test_aliased_guesses_in_one_request_count_each_and_burn_the_reset(client, mailbox):
    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    code = await reset_code(mailbox, email)

    # Five wrong guesses, then the right code as the sixth alias: too late by then.
    guesses = [*wrong_codes(code, 5), code]
    fields = "\n".join(
        f'g{i}: completePasswordReset(resetId: $id, code: "{guess}", newPassword: $password) '
        "{ __typename ... on InvalidCode { attemptsLeft } }"
        for i, guess in enumerate(guesses)
    )
    query = f"mutation($id: ID!, $password: String!) {{\n{fields}\n}}"
    body = await gql(client, query, {"id": reset_id, "password": NEW_PASSWORD})
    assert not body.get("errors"), body
    seen = [
        f"InvalidCode:{a['attemptsLeft']}" if a["__typename"] == "InvalidCode" else a["__typename"]
        for a in body["data"].values()
    ]
    expected = [f"InvalidCode:{n}" for n in (4, 3, 2, 1, 0)] + ["FlowExpired"]
    assert sorted(seen) == sorted(expected), body["data"]

    result = await complete_reset(client, reset_id, code)
    assert result["__typename"] == "FlowExpired", result
    assert (await login(client, email, PASSWORD))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- 4. weak password


async def test_weak_new_password_is_refused_without_spending_an_attempt(client, mailbox):
    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    code = await reset_code(mailbox, email)
    local_part = email.partition("@")[0]

    for weak, guess in (("short", code), ("x" * 129, code), (f"my{local_part}pass", "000000")):
        result = await complete_reset(client, reset_id, guess, weak)
        assert result["__typename"] == "WeakPassword", (weak[:20], result)
        assert result["reasons"] and all(reason.strip() for reason in result["reasons"]), result

    result = await complete_reset(client, reset_id, wrong_codes(code, 1)[0])
    assert result["__typename"] == "InvalidCode", result
    assert result["attemptsLeft"] == 4, result

    payload = await complete_reset(client, reset_id, code)
    assert payload["__typename"] == "AuthPayload", payload
    assert (await login(client, email, NEW_PASSWORD))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- 5. enumeration


async def test_unknown_email_answers_alike_and_gets_a_mail_without_code(client, mailbox):
    known = (await sign_up(client, mailbox))["user"]["email"]
    unknown = new_email()

    for_known = await start_reset(client, known)
    for_unknown = await start_reset(client, unknown)
    assert for_known["__typename"] == for_unknown["__typename"] == "PasswordResetStarted", for_unknown
    assert for_known.keys() == for_unknown.keys()
    assert for_known["codeLength"] == for_unknown["codeLength"] == 6
    assert len(for_known["resetId"]) == len(for_unknown["resetId"])
    assert parse_time(for_unknown["expiresAt"]) > datetime.now(UTC)

    code_mail = await newest_reset_mail(mailbox, known)
    notice = await newest_reset_mail(mailbox, unknown)
    await no_more_reset_mail(mailbox, unknown, expected=1)
    assert len(mailbox.received(unknown)) == 1
    assert notice["Subject"] == code_mail["Subject"] == RESET_SUBJECT
    assert holds_a_code(code_mail, known)
    assert not holds_a_code(notice, unknown), bodies(notice)

    # No code opens the unknown address's flow, not even a real code of another flow.
    known_code = await reset_code(mailbox, known)
    left = []
    for guess in (known_code, "000000", "123456", "999999", "111111"):
        result = await complete_reset(client, for_unknown["resetId"], guess)
        assert result["__typename"] == "InvalidCode", (guess, result)
        left.append(result["attemptsLeft"])
    assert left == [4, 3, 2, 1, 0]
    result = await complete_reset(client, for_unknown["resetId"], known_code)
    assert result["__typename"] == "FlowExpired", result
    assert (await login(client, unknown, NEW_PASSWORD))["__typename"] == "InvalidCredentials"


@pytest.mark.serial
async def test_unknown_email_takes_comparable_time(backend_urls, mailbox):
    async with reset_app(backend_urls, mailbox, codes_per_address_per_hour=50) as other:
        known = (await sign_up(other, mailbox))["user"]["email"]

        async def timed(address: str) -> float:
            began = time.perf_counter()
            result = await start_reset(other, address)
            elapsed = time.perf_counter() - began
            assert result["__typename"] == "PasswordResetStarted", result
            return elapsed

        for_known, for_unknown = [], []
        for _ in range(5):
            for_known.append(await timed(known))
            for_unknown.append(await timed(new_email()))
        ratio = statistics.median(for_known) / statistics.median(for_unknown)
        assert 1 / 3 < ratio < 3, (for_known, for_unknown)


# ---------------------------------------------------------------- 6. resend


async def test_resend_waits_for_the_cooldown(client, mailbox):
    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    await newest_reset_mail(mailbox, email)

    result = await resend_reset(client, reset_id)
    assert result["__typename"] == "RateLimited", result
    assert 1 <= result["retryAfterSeconds"] <= 60, result
    await no_more_reset_mail(mailbox, email, expected=1)


async def test_resend_after_the_cooldown_replaces_the_code(client, backend_urls, mailbox):
    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    old_code = await reset_code(mailbox, email)

    await end_resend_cooldown(backend_urls, "reset", reset_id)
    before = datetime.now(UTC)
    result = await resend_reset(client, reset_id)
    assert result["__typename"] == "PasswordResetCodeSent", result
    assert parse_time(result["expiresAt"]) > before
    assert parse_time(result["resendAvailableAt"]) > before
    new_code = await reset_code(mailbox, email, count=2)
    assert new_code != old_code

    await resent_code_promoted(backend_urls, "reset", reset_id)
    result = await complete_reset(client, reset_id, old_code)
    assert result["__typename"] == "InvalidCode", result
    payload = await complete_reset(client, reset_id, new_code)
    assert payload["__typename"] == "AuthPayload", payload


async def test_resend_keeps_the_attempt_count(client, backend_urls, mailbox):
    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    code = await reset_code(mailbox, email)
    for expected_left, guess in zip((4, 3), wrong_codes(code, 2), strict=True):
        result = await complete_reset(client, reset_id, guess)
        assert result["__typename"] == "InvalidCode", result
        assert result["attemptsLeft"] == expected_left, result

    await end_resend_cooldown(backend_urls, "reset", reset_id)
    result = await resend_reset(client, reset_id)
    assert result["__typename"] == "PasswordResetCodeSent", result
    new_code = await reset_code(mailbox, email, count=2)

    result = await complete_reset(client, reset_id, wrong_codes(new_code, 1)[0])
    assert result["__typename"] == "InvalidCode", result
    assert result["attemptsLeft"] == 2, result
    assert (await complete_reset(client, reset_id, new_code))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- 7. per-address quota


async def test_codes_per_address_per_hour_limit_reset_mails_for_known_and_unknown(backend_urls, mailbox):
    quota_of_two = reset_app(backend_urls, mailbox, codes_per_address_per_hour=2)
    async with quota_of_two as other:
        known = (await sign_up(other, mailbox))["user"]["email"]
        unknown = new_email()
        addresses = (known, unknown)
        reset_ids = {address: await started_reset(other, address) for address in addresses}
        for address in addresses:
            await newest_reset_mail(mailbox, address, count=1)

        for address in addresses:
            await end_resend_cooldown(backend_urls, "reset", reset_ids[address])
            result = await resend_reset(other, reset_ids[address])
            assert result["__typename"] == "PasswordResetCodeSent", (address, result)
            await newest_reset_mail(mailbox, address, count=2)

        for address in addresses:
            await end_resend_cooldown(backend_urls, "reset", reset_ids[address])
            result = await resend_reset(other, reset_ids[address])
            assert result["__typename"] == "RateLimited", (address, result)
            assert 60 < result["retryAfterSeconds"] <= 3600, result
            for typed in (address, f" {address.upper()} "):
                result = await start_reset(other, typed)
                assert result["__typename"] == "RateLimited", (typed, result)
                assert 60 < result["retryAfterSeconds"] <= 3600, result
        for address in addresses:
            await no_more_reset_mail(mailbox, address, expected=2)


# ---------------------------------------------------------------- 8. garbage and used ids


async def test_garbage_or_used_reset_ids_answer_flow_expired(client, mailbox):
    for garbage in GARBAGE_IDS:
        result = await resend_reset(client, garbage)
        assert result["__typename"] == "FlowExpired", (garbage[:20], result)
        result = await complete_reset(client, garbage, "123456")
        assert result["__typename"] == "FlowExpired", (garbage[:20], result)

    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    code = await reset_code(mailbox, email)
    assert (await complete_reset(client, reset_id, code))["__typename"] == "AuthPayload"

    result = await complete_reset(client, reset_id, code, "yet another horse battery")
    assert result["__typename"] == "FlowExpired", result
    result = await resend_reset(client, reset_id)
    assert result["__typename"] == "FlowExpired", result
    assert (await login(client, email, NEW_PASSWORD))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- 9. flows do not mix


async def test_reset_and_registration_ids_do_not_open_each_others_flows(client, mailbox):
    email = (await sign_up(client, mailbox))["user"]["email"]
    reset_id = await started_reset(client, email)
    code = await reset_code(mailbox, email)
    result = await data(client, VERIFY, {"id": reset_id, "code": code})
    assert result["__typename"] == "FlowExpired", result

    newcomer = new_email()
    registration = await data(client, START, {"email": newcomer})
    assert registration["__typename"] == "RegistrationStarted", registration
    registration_id = registration["registrationId"]
    registration_code = await mailbox.code_for(newcomer)
    result = await complete_reset(client, registration_id, registration_code)
    assert result["__typename"] == "FlowExpired", result
    result = await resend_reset(client, registration_id)
    assert result["__typename"] == "FlowExpired", result
    assert (await login(client, newcomer, NEW_PASSWORD))["__typename"] == "InvalidCredentials"

    # Neither wrong door cost the real flows anything: both still take their own code.
    result = await data(client, VERIFY, {"id": registration_id, "code": registration_code})
    assert result["__typename"] == "RegistrationVerified", result
    assert (await complete_reset(client, reset_id, code))["__typename"] == "AuthPayload"
