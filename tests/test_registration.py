"""Registration in four steps (DESIGN.md "Registration"), seen from the client's side:
what each step answers over HTTP, which mails arrive, and which doors stay shut."""

from __future__ import annotations

import asyncio
import re
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import end_resend_cooldown, resent_code_promoted, serve, text_of
from conftest import test_settings as settings_for
from flows import (
    COMPLETE,
    LOGIN,
    ME,
    PASSWORD,
    PROFILE,
    RESEND,
    SET_PASSWORD,
    START,
    VERIFY,
    data,
    gql,
    new_email,
    password_set,
    register,
    start,
    verified,
    wrong_codes,
)

SIX_OR_MORE_DIGITS = re.compile(r"\d{6,}")
OTHER_PASSWORD = "another horse battery staple"


# ---------------------------------------------------------------- small helpers


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def verify(client, registration_id: str, code: str) -> dict[str, Any]:
    return await data(client, VERIFY, {"id": registration_id, "code": code})


async def resend(client, registration_id: str) -> dict[str, Any]:
    return await data(client, RESEND, {"id": registration_id})


async def set_password(client, token: str, password: str) -> dict[str, Any]:
    return await data(client, SET_PASSWORD, {"token": token, "password": password})


async def complete(client, token: str, profile: dict[str, Any] = PROFILE) -> dict[str, Any]:
    return await data(client, COMPLETE, {"token": token, "profile": profile})


async def login(client, email: str, password: str) -> dict[str, Any]:
    return await data(client, LOGIN, {"email": email, "password": password})


def holds_a_code(message, address: str) -> bool:
    """A run of six or more digits in the mail's text, the address it names left out."""
    return bool(SIX_OR_MORE_DIGITS.search(text_of(message).replace(address, "")))


async def no_more_mail(mailbox, email: str, expected: int) -> None:
    """Give a stray mail time to arrive, then check the count did not grow."""
    await asyncio.sleep(0.3)
    assert len(mailbox.received(email)) == expected, [m["Subject"] for m in mailbox.received(email)]


def custom_app(backend_urls, mailbox, **overrides: Any):
    """A second app beside the session's one, with `overrides` in its settings."""
    return serve(settings_for(backend_urls, mailbox, **overrides))


# ---------------------------------------------------------------- 1. happy path


async def test_happy_path_registers_normalised_email_and_logs_in(client, mailbox):
    local = f"Mixed.Case-{secrets.token_hex(4)}"
    typed = f"  {local}@Example.COM "
    stored = f"{local.lower()}@example.com"

    before = datetime.now(UTC)
    started = await data(client, START, {"email": typed})
    assert started["__typename"] == "RegistrationStarted", started
    assert started["registrationId"]
    assert started["codeLength"] == 6
    expires_at = parse_time(started["expiresAt"])
    resend_at = parse_time(started["resendAvailableAt"])
    assert before < expires_at <= before + timedelta(hours=1)
    assert before < resend_at <= expires_at

    code = await mailbox.code_for(stored)
    assert re.fullmatch(r"\d{6}", code), code
    await no_more_mail(mailbox, stored, expected=1)

    result = await verify(client, started["registrationId"], code)
    assert result["__typename"] == "RegistrationVerified", result
    token = result["registrationToken"]
    assert token and token != started["registrationId"]

    result = await set_password(client, token, PASSWORD)
    assert result["__typename"] == "RegistrationPasswordSet", result

    payload = await complete(client, token)
    assert payload["__typename"] == "AuthPayload", payload
    assert payload["tokenType"] == "Bearer"
    assert payload["expiresIn"] == 900
    assert payload["accessToken"]
    user = payload["user"]
    assert user["id"]
    assert user["email"] == stored
    assert (user["firstName"], user["lastName"]) == ("Ada", "Lovelace")
    assert user["phone"] == "+442079460018"
    assert before - timedelta(seconds=1) < parse_time(user["createdAt"]) <= datetime.now(UTC)
    assert parse_time(user["updatedAt"]) == parse_time(user["createdAt"])

    me = await data(client, ME, token=payload["accessToken"])
    assert me["id"] == user["id"] and me["email"] == stored

    signed_in = await login(client, stored, PASSWORD)
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert signed_in["user"]["id"] == user["id"]


# ---------------------------------------------------------------- 2. bad email


async def test_bad_email_is_invalid_input_and_sends_no_mail(client, mailbox):
    bad = f"not-an-email-{secrets.token_hex(4)}"
    result = await data(client, START, {"email": bad})
    assert result["__typename"] == "InvalidInput", result
    assert result["fields"][0]["field"] == "email"
    assert result["fields"][0]["message"]
    for other in ("", "   ", f"two@@{bad}.com", f"{'a' * 250}@example.com"):
        result = await data(client, START, {"email": other})
        assert result["__typename"] == "InvalidInput", (other, result)
        assert [f["field"] for f in result["fields"]] == ["email"]
    await asyncio.sleep(0.3)
    assert not [m for m in mailbox.messages if bad in str(m["To"])]


# ---------------------------------------------------------------- 3. wrong codes


async def test_wrong_codes_burn_the_flow_after_the_limit(client, mailbox):
    email = new_email()
    started = await start(client, email)
    code = await mailbox.code_for(email)

    left = []
    for guess in wrong_codes(code, 5):
        result = await verify(client, started["registrationId"], guess)
        assert result["__typename"] == "InvalidCode", result
        left.append(result["attemptsLeft"])
    assert left == [4, 3, 2, 1, 0]

    result = await verify(client, started["registrationId"], code)
    assert result["__typename"] == "FlowExpired", result


# ---------------------------------------------------------------- 4. aliased guesses


async def test_aliased_guesses_in_one_request_count_each_and_burn_the_flow(client, mailbox):
    email = new_email()
    started = await start(client, email)
    code = await mailbox.code_for(email)

    guesses = wrong_codes(code, 8)
    fields = "\n".join(
        f'g{i}: verifyRegistrationCode(registrationId: $id, code: "{guess}") '
        "{ __typename ... on InvalidCode { attemptsLeft } }"
        for i, guess in enumerate(guesses)
    )
    body = await gql(client, f"mutation($id: ID!) {{\n{fields}\n}}", {"id": started["registrationId"]})
    assert not body.get("errors"), body
    answers = body["data"].values()
    seen = sorted(
        f"InvalidCode:{a['attemptsLeft']}" if a["__typename"] == "InvalidCode" else a["__typename"]
        for a in answers
    )
    expected = sorted([f"InvalidCode:{n}" for n in (4, 3, 2, 1, 0)] + ["FlowExpired"] * 3)
    assert seen == expected, body["data"]

    result = await verify(client, started["registrationId"], code)
    assert result["__typename"] == "FlowExpired", result


# ---------------------------------------------------------------- 5. resend


async def test_resend_waits_for_the_cooldown_then_replaces_the_code(client, mailbox, backend_urls):
    email = new_email()
    started = await start(client, email)
    await mailbox.wait_for(email)
    result = await resend(client, started["registrationId"])
    assert result["__typename"] == "RateLimited", result
    assert 1 <= result["retryAfterSeconds"] <= 60
    await no_more_mail(mailbox, email, expected=1)

    email = new_email()
    started = await start(client, email)
    old_code = await mailbox.code_for(email)
    await end_resend_cooldown(backend_urls, "reg", started["registrationId"])
    before = datetime.now(UTC)
    result = await resend(client, started["registrationId"])
    assert result["__typename"] == "RegistrationCodeSent", result
    assert parse_time(result["expiresAt"]) > before
    assert parse_time(result["resendAvailableAt"]) > before
    new_code = await mailbox.code_for(email, count=2)
    assert new_code != old_code
    assert mailbox.received(email)[1]["Subject"] == mailbox.received(email)[0]["Subject"]

    await resent_code_promoted(backend_urls, "reg", started["registrationId"])
    result = await verify(client, started["registrationId"], old_code)
    assert result["__typename"] == "InvalidCode", result
    result = await verify(client, started["registrationId"], new_code)
    assert result["__typename"] == "RegistrationVerified", result


# ---------------------------------------------------------------- 6. resend keeps attempts


async def test_resend_keeps_the_attempt_count(client, mailbox, backend_urls):
    email = new_email()
    started = await start(client, email)
    code = await mailbox.code_for(email)
    for expected_left, guess in zip((4, 3), wrong_codes(code, 2), strict=True):
        result = await verify(client, started["registrationId"], guess)
        assert result["__typename"] == "InvalidCode", result
        assert result["attemptsLeft"] == expected_left
    await end_resend_cooldown(backend_urls, "reg", started["registrationId"])
    result = await resend(client, started["registrationId"])
    assert result["__typename"] == "RegistrationCodeSent", result
    new_code = await mailbox.code_for(email, count=2)

    result = await verify(client, started["registrationId"], wrong_codes(new_code, 1)[0])
    assert result["__typename"] == "InvalidCode", result
    assert result["attemptsLeft"] == 2


# ---------------------------------------------------------------- 7. per-address quota


async def test_codes_per_address_per_hour_limit_resends_and_new_starts(mailbox, backend_urls):
    quota_of_two = custom_app(backend_urls, mailbox, codes_per_address_per_hour=2)
    async with quota_of_two as other:
        email = new_email()
        started = await start(other, email)
        await mailbox.wait_for(email, count=1)
        await end_resend_cooldown(backend_urls, "reg", started["registrationId"])
        result = await resend(other, started["registrationId"])
        assert result["__typename"] == "RegistrationCodeSent", result
        await mailbox.wait_for(email, count=2)

        await end_resend_cooldown(backend_urls, "reg", started["registrationId"])
        result = await resend(other, started["registrationId"])
        assert result["__typename"] == "RateLimited", result
        assert 60 < result["retryAfterSeconds"] <= 3600
        await no_more_mail(mailbox, email, expected=2)

        result = await data(other, START, {"email": email})
        assert result["__typename"] == "RateLimited", result
        assert 60 < result["retryAfterSeconds"] <= 3600
        result = await data(other, START, {"email": email.upper()})
        assert result["__typename"] == "RateLimited", result
        await no_more_mail(mailbox, email, expected=2)


# ---------------------------------------------------------------- 8. registrationId after verify


async def test_registration_id_opens_nothing_once_verified(client, mailbox):
    email = new_email()
    started = await start(client, email)
    code = await mailbox.code_for(email)
    registration_id = started["registrationId"]
    result = await verify(client, registration_id, code)
    assert result["__typename"] == "RegistrationVerified", result
    token = result["registrationToken"]

    result = await verify(client, registration_id, code)
    assert result["__typename"] == "FlowExpired", result
    result = await resend(client, registration_id)
    assert result["__typename"] == "FlowExpired", result
    for forged in (registration_id, registration_id + ".", f"{registration_id}.{secrets.token_urlsafe(32)}"):
        result = await set_password(client, forged, PASSWORD)
        assert result["__typename"] == "FlowExpired", (forged, result)
        result = await complete(client, forged)
        assert result["__typename"] == "FlowExpired", (forged, result)

    # The real token still works: the failed attempts above did not harm the flow.
    result = await set_password(client, token, PASSWORD)
    assert result["__typename"] == "RegistrationPasswordSet", result


# ---------------------------------------------------------------- 9. out of order, garbage


GARBAGE = ["", "{}", "x" * 5000, "null", "reg:{x}", "a.b", "' OR 1=1 --", "\u0000", secrets.token_urlsafe(32)]


async def test_steps_out_of_order_or_with_garbage_answer_flow_expired(client, mailbox):
    token = await verified(client, mailbox, new_email())
    result = await complete(client, token)
    assert result["__typename"] == "FlowExpired", result

    for garbage in GARBAGE:
        result = await set_password(client, garbage, PASSWORD)
        assert result["__typename"] == "FlowExpired", (garbage[:20], result)
        result = await complete(client, garbage)
        assert result["__typename"] == "FlowExpired", (garbage[:20], result)
        result = await verify(client, garbage, "123456")
        assert result["__typename"] == "FlowExpired", (garbage[:20], result)
        result = await resend(client, garbage)
        assert result["__typename"] == "FlowExpired", (garbage[:20], result)

    # The verified flow is still at its step: setting the password then completing works.
    result = await set_password(client, token, PASSWORD)
    assert result["__typename"] == "RegistrationPasswordSet", result
    result = await complete(client, token)
    assert result["__typename"] == "AuthPayload", result


# ---------------------------------------------------------------- 10. password step


async def test_password_may_be_set_again_and_the_last_one_wins(client, mailbox):
    email = new_email()
    token = await password_set(client, mailbox, email, PASSWORD)
    result = await set_password(client, token, OTHER_PASSWORD)
    assert result["__typename"] == "RegistrationPasswordSet", result
    payload = await complete(client, token)
    assert payload["__typename"] == "AuthPayload", payload

    result = await login(client, email, OTHER_PASSWORD)
    assert result["__typename"] == "AuthPayload", result
    assert result["user"]["id"] == payload["user"]["id"]
    result = await login(client, email, PASSWORD)
    assert result["__typename"] == "InvalidCredentials", result


async def test_weak_passwords_are_refused_with_every_failing_reason(client, mailbox):
    local = f"a{secrets.token_hex(3)}"  # seven characters: the local part alone is also too short
    email = f"{local}@example.com"
    token = await verified(client, mailbox, email)

    async def reasons(password: str) -> list[str]:
        result = await set_password(client, token, password)
        assert result["__typename"] == "WeakPassword", (password[:20], result)
        assert result["reasons"] and all(reason.strip() for reason in result["reasons"])
        return result["reasons"]

    (too_short,) = await reasons("short1")
    (has_local_part,) = await reasons(f"my{local}pass")
    (too_long,) = await reasons("x" * 129)
    assert len({too_short, has_local_part, too_long}) == 3
    assert await reasons(f"my{local.upper()}pass") == [has_local_part]
    assert sorted(await reasons(local)) == sorted([too_short, has_local_part])
    assert sorted(await reasons(f"my{local}pass" * 10)) == sorted([has_local_part, too_long])

    # Bounds: 8 and 128 characters are fine; a refused password left the flow usable.
    result = await set_password(client, token, "y" * 128)
    assert result["__typename"] == "RegistrationPasswordSet", result
    result = await set_password(client, token, "eight ch")
    assert result["__typename"] == "RegistrationPasswordSet", result
    assert (await complete(client, token))["__typename"] == "AuthPayload"
    assert (await login(client, email, "eight ch"))["__typename"] == "AuthPayload"


# ---------------------------------------------------------------- 11. profile


async def test_invalid_profile_lists_every_field_and_keeps_the_flow(client, mailbox):
    email = new_email()
    token = await password_set(client, mailbox, email)
    bad = {"firstName": "   ", "lastName": "L" * 101, "phone": "12"}
    result = await complete(client, token, bad)
    assert result["__typename"] == "InvalidInput", result
    assert sorted(f["field"] for f in result["fields"]) == ["firstName", "lastName", "phone"]
    assert all(f["message"] for f in result["fields"])
    assert (await login(client, email, PASSWORD))["__typename"] == "InvalidCredentials"

    profile = {"firstName": "  Grace ", "lastName": "H" * 100, "phone": None}
    payload = await complete(client, token, profile)
    assert payload["__typename"] == "AuthPayload", payload
    assert payload["user"]["firstName"] == "Grace"
    assert payload["user"]["lastName"] == "H" * 100
    assert payload["user"]["phone"] is None


# ---------------------------------------------------------------- 12. token used up


async def test_registration_token_is_used_up_by_completion(client, mailbox):
    email = new_email()
    token = await password_set(client, mailbox, email)
    payload = await complete(client, token)
    assert payload["__typename"] == "AuthPayload", payload

    result = await complete(client, token)
    assert result["__typename"] == "FlowExpired", result
    result = await set_password(client, token, OTHER_PASSWORD)
    assert result["__typename"] == "FlowExpired", result
    assert (await login(client, email, OTHER_PASSWORD))["__typename"] == "InvalidCredentials"


# ---------------------------------------------------------------- 13. enumeration


async def test_start_for_an_existing_account_looks_the_same_but_mails_no_code(client, mailbox):
    email = new_email()
    await register(client, mailbox, email)
    earlier_code = await mailbox.code_for(email, count=1)
    code_mail = mailbox.received(email)[0]

    fresh = await start(client, new_email())
    existing = await data(client, START, {"email": email})
    assert existing["__typename"] == "RegistrationStarted", existing
    assert existing.keys() == fresh.keys()
    assert existing["codeLength"] == fresh["codeLength"] == 6
    assert len(existing["registrationId"]) == len(fresh["registrationId"])
    assert parse_time(existing["expiresAt"]) > datetime.now(UTC)

    notice = await mailbox.wait_for(email, count=2)
    await no_more_mail(mailbox, email, expected=2)
    assert notice["Subject"] == code_mail["Subject"]
    text = text_of(notice)
    assert holds_a_code(code_mail, email)
    assert not holds_a_code(notice, email), text
    assert "already" in text.lower() and "account" in text.lower(), text

    for guess in (earlier_code, "000000"):
        result = await verify(client, existing["registrationId"], guess)
        assert result["__typename"] == "InvalidCode", (guess, result)


@pytest.mark.serial
async def test_start_for_an_existing_account_takes_comparable_time(mailbox, backend_urls):
    async with custom_app(backend_urls, mailbox, codes_per_address_per_hour=50) as other:
        email = new_email()
        await register(other, mailbox, email)

        async def timed(address: str) -> float:
            began = time.perf_counter()
            result = await data(other, START, {"email": address})
            elapsed = time.perf_counter() - began
            assert result["__typename"] == "RegistrationStarted", result
            return elapsed

        existing, fresh = [], []
        for _ in range(7):
            existing.append(await timed(email))
            fresh.append(await timed(new_email()))
        ratio = statistics.median(existing) / statistics.median(fresh)
        assert 1 / 3 < ratio < 3, (existing, fresh)


# ---------------------------------------------------------------- 14. completion race


async def test_concurrent_completions_for_one_email_create_one_account(client, mailbox):
    email = new_email()
    tokens = []
    for count in (1, 2):
        started = await start(client, email)
        code = await mailbox.code_for(email, count=count)
        result = await verify(client, started["registrationId"], code)
        assert result["__typename"] == "RegistrationVerified", result
        tokens.append(result["registrationToken"])
    passwords = (PASSWORD, OTHER_PASSWORD)
    for token, password in zip(tokens, passwords, strict=True):
        assert (await set_password(client, token, password))["__typename"] == "RegistrationPasswordSet"

    results = await asyncio.gather(*(complete(client, token) for token in tokens))
    kinds = sorted(result["__typename"] for result in results)
    assert kinds == ["AccountExists", "AuthPayload"], results
    winner_index = [result["__typename"] for result in results].index("AuthPayload")
    winner = results[winner_index]

    signed_in = await login(client, email, passwords[winner_index])
    assert signed_in["__typename"] == "AuthPayload", signed_in
    assert signed_in["user"]["id"] == winner["user"]["id"]
    loser_login = await login(client, email, passwords[1 - winner_index])
    assert loser_login["__typename"] == "InvalidCredentials", loser_login


# ---------------------------------------------------------------- 15. case-insensitive emails


async def test_emails_are_compared_case_insensitively(client, mailbox):
    local = f"Bob.X-{secrets.token_hex(4)}"
    typed = f"{local}@Example.com"
    stored = typed.lower()

    started = await start(client, typed)
    code = await mailbox.code_for(stored)
    result = await verify(client, started["registrationId"], code)
    assert result["__typename"] == "RegistrationVerified", result
    token = result["registrationToken"]
    assert (await set_password(client, token, PASSWORD))["__typename"] == "RegistrationPasswordSet"
    payload = await complete(client, token)
    assert payload["__typename"] == "AuthPayload", payload
    assert payload["user"]["email"] == stored

    for spelling in (stored, typed.upper(), f" {typed} "):
        result = await login(client, spelling, PASSWORD)
        assert result["__typename"] == "AuthPayload", (spelling, result)
        assert result["user"]["id"] == payload["user"]["id"]

    again = await data(client, START, {"email": typed.upper()})
    assert again["__typename"] == "RegistrationStarted", again
    notice = await mailbox.wait_for(stored, count=2)
    assert notice["Subject"] == mailbox.received(stored)[0]["Subject"]
    assert holds_a_code(mailbox.received(stored)[0], stored)
    assert not holds_a_code(notice, stored), text_of(notice)
    assert "already" in text_of(notice).lower()
