"""Attacks on authql's abuse resistance, seen from the client's side: per-IP rate limits
per operation, aliases and batches, the global mail cap, the progressive login lockout,
enumeration by answer and by timing, and the JSON security log.

Every app here is built with the real limits it tests (the session defaults are
generous so other tests are not throttled). Client IPs are varied through a trusted
proxy (X-Forwarded-For) and each test draws fresh random IPs and addresses, so the
limit counters in the shared Redis never leak from one test into another. Lock ages
are moved by writing the lockout hash in Redis, the server's real state, instead of
sleeping for minutes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from conftest import Mailbox, end_resend_cooldown, serve, text_of
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import COMPLETE, PASSWORD, PROFILE, SET_PASSWORD, START, VERIFY, new_email, wrong_codes
from redis.asyncio import Redis
from redis_client import redis_client

from embedded import start_redis
from settings import RATE_LIMITED_OPERATIONS

PROXY = "203.0.113.0/24"  # the ASGI peer (203.0.113.7) is a trusted proxy in every app here
NEW_PASSWORD = "a brand new horse battery"
RESET_SUBJECT = "Your authql password reset code"

RATE = "... on RateLimited { retryAfterSeconds }"
PROBLEM = "... on Problem { message }"
LOGIN = f"""mutation($email: String!, $password: String!) {{ login(email: $email, password: $password) {{
  __typename ... on AuthPayload {{ accessToken refreshToken sessionId }} {PROBLEM} {RATE} }} }}"""
RESEND = f"""mutation($id: ID!) {{ resendRegistrationCode(registrationId: $id) {{
  __typename ... on RegistrationCodeSent {{ expiresAt resendAvailableAt }} {PROBLEM} {RATE} }} }}"""
START_RESET = f"""mutation($email: String!) {{ startPasswordReset(email: $email) {{ __typename
  ... on PasswordResetStarted {{ resetId expiresAt resendAvailableAt codeLength }} {PROBLEM} {RATE} }} }}"""
RESEND_RESET = f"""mutation($id: ID!) {{ resendPasswordResetCode(resetId: $id) {{ __typename
  ... on PasswordResetCodeSent {{ expiresAt resendAvailableAt }} {PROBLEM} {RATE} }} }}"""
COMPLETE_RESET = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{ __typename
  ... on AuthPayload {{ accessToken }} {PROBLEM} ... on InvalidCode {{ attemptsLeft }}
  ... on WeakPassword {{ reasons }} {RATE} }} }}"""
REFRESH = f"""mutation($token: String!) {{ refreshTokens(refreshToken: $token) {{ __typename
  ... on AuthPayload {{ accessToken refreshToken }} {PROBLEM} }} }}"""
LOGOUT = "mutation { logout { revokedSessions } }"
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{ __typename {PROBLEM} {RATE} }} }}"""
DELETE_ACCOUNT = f"""mutation($password: String!) {{
  deleteAccount(password: $password) {{ __typename {PROBLEM} {RATE} }} }}"""
START_CODE_LOGIN = f"""mutation($email: String!) {{ startCodeLogin(email: $email) {{ __typename
  ... on CodeLoginStarted {{ loginId }} {PROBLEM} {RATE} }} }}"""
COMPLETE_CODE_LOGIN = f"""mutation($id: ID!, $code: String!) {{
  completeCodeLogin(loginId: $id, code: $code) {{ __typename
  ... on InvalidCode {{ attemptsLeft }} {PROBLEM} {RATE} }} }}"""
START_EMAIL_CHANGE = f"""mutation($email: String!, $password: String!) {{
  startEmailChange(newEmail: $email, password: $password) {{ __typename
  ... on EmailChangeStarted {{ changeId }} {PROBLEM} {RATE} }} }}"""
CONFIRM_EMAIL_CHANGE = f"""mutation($id: ID!, $code: String!) {{
  confirmEmailChange(changeId: $id, code: $code) {{ __typename
  ... on InvalidCode {{ attemptsLeft }} {PROBLEM} {RATE} }} }}"""
ENROLL_TOTP = f"""mutation($password: String!) {{ enrollTotp(password: $password) {{
  __typename ... on TotpEnrollment {{ secret }} {PROBLEM} {RATE} }} }}"""
CONFIRM_TOTP = f"""mutation($code: String!) {{ confirmTotp(code: $code) {{ __typename
  ... on InvalidCode {{ attemptsLeft }} {PROBLEM} {RATE} }} }}"""
DISABLE_TOTP = f"""mutation($password: String!, $code: String!) {{
  disableTotp(password: $password, code: $code) {{ __typename {PROBLEM} {RATE} }} }}"""
REGENERATE_RECOVERY_CODES = f"""mutation($password: String!, $code: String!) {{
  regenerateRecoveryCodes(password: $password, code: $code) {{ __typename {PROBLEM} {RATE} }} }}"""
LOGIN_SUBJECT = "Your authql sign-in code"
EMAIL_CHANGE_SUBJECT = "Confirm your new authql address"

# Fields that differ between any two calls by nature (fresh ids, clock times).
VOLATILE = {"registrationId", "resetId", "expiresAt", "resendAvailableAt"}


# ---------------------------------------------------------------- helpers


def new_ip() -> str:
    """A random client address, outside the trusted proxy network."""
    return "10." + ".".join(str(secrets.randbelow(250) + 1) for _ in range(3))


def app(backend_urls: dict[str, str], mailbox: Mailbox, **overrides: Any):
    """An app beside the session's one, behind a trusted proxy, with `overrides`."""
    values: dict[str, Any] = {"trusted_proxies": PROXY, **overrides}
    return serve(settings_with(backend_urls, mailbox, **values))


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    ip: str,
    token: str | None = None,
) -> dict[str, Any]:
    """One operation from client `ip`; the whole body, asserting HTTP 200 and no errors."""
    headers = {"X-Forwarded-For": ip}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def field(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> Any:
    """The single root field's value."""
    return next(iter((await post(client, query, variables, **kw)).values()))


async def timed(call: Awaitable[Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    result = await call
    return result, time.perf_counter() - began


def kinds(answers: list[dict[str, Any]]) -> list[str]:
    return [answer["__typename"] for answer in answers]


def assert_rate_limited(answer: dict[str, Any], low: int, high: int) -> None:
    assert answer["__typename"] == "RateLimited", answer
    assert low <= answer["retryAfterSeconds"] <= high, answer
    # The message tells the same time as the field.
    assert str(answer["retryAfterSeconds"]) in answer["message"], answer


def normalized(answer: dict[str, Any]) -> dict[str, Any]:
    """`answer` with what differs by nature blanked: ids, times, and the retry seconds
    (which may differ by one between two calls a moment apart: checked separately)."""
    result = {key: ("<volatile>" if key in VOLATILE else value) for key, value in answer.items()}
    if "retryAfterSeconds" in result:
        result["retryAfterSeconds"] = "<seconds>"
        result["message"] = re.sub(r"\d+", "<n>", result["message"])
    return result


def assert_alike(first: dict[str, Any], second: dict[str, Any]) -> None:
    """Two answers a client could not tell apart."""
    assert normalized(first) == normalized(second), (first, second)
    if "retryAfterSeconds" in first:
        # Each address's window opened when the test first used it; on a loaded machine
        # the two openings can be seconds apart, which says nothing about the address.
        assert abs(first["retryAfterSeconds"] - second["retryAfterSeconds"]) <= 5, (first, second)


def assert_comparable(name: str, first: list[float], second: list[float]) -> None:
    """Medians within a loose factor 3 (plus 2 ms of scheduling noise for the fastest calls)."""
    a, b = statistics.median(first), statistics.median(second)
    assert max(a, b) <= 3 * min(a, b) + 0.002, f"{name}: medians {a * 1000:.1f} ms vs {b * 1000:.1f} ms"


def mails_to(mailbox: Mailbox, to: str, subject: str) -> list[EmailMessage]:
    return [message for message in mailbox.received(to) if message["Subject"] == subject]


async def reset_code(mailbox: Mailbox, to: str, timeout: float = 10.0, subject: str = RESET_SUBJECT) -> str:
    """The code of the newest mail with `subject` (a reset's by default) to `to`."""
    deadline = time.monotonic() + timeout
    while not mails_to(mailbox, to, subject):
        assert time.monotonic() < deadline, f"no mail '{subject}' for {to}"
        await asyncio.sleep(0.02)
    match = re.search(r"^\s*(\d{6,10})\s*$", text_of(mails_to(mailbox, to, subject)[-1]), re.MULTILINE)
    assert match, "the mail holds no code"
    return match.group(1)


async def register(
    client: httpx.AsyncClient, mailbox: Mailbox, ip: str, email: str | None = None
) -> tuple[str, dict[str, Any]]:
    """A finished account (all four steps from `ip`): its email and AuthPayload."""
    email = email or new_email()
    started = await field(client, START, {"email": email}, ip=ip)
    assert started["__typename"] == "RegistrationStarted", started
    code = await mailbox.code_for(email)
    verified = await field(client, VERIFY, {"id": started["registrationId"], "code": code}, ip=ip)
    assert verified["__typename"] == "RegistrationVerified", verified
    token = verified["registrationToken"]
    password_set = await field(client, SET_PASSWORD, {"token": token, "password": PASSWORD}, ip=ip)
    assert password_set["__typename"] == "RegistrationPasswordSet", password_set
    payload = await field(client, COMPLETE, {"token": token, "profile": PROFILE}, ip=ip)
    assert payload["__typename"] == "AuthPayload", payload
    return email, payload


async def login(client: httpx.AsyncClient, email: str, password: str, ip: str) -> dict[str, Any]:
    return await field(client, LOGIN, {"email": email, "password": password}, ip=ip)


async def lockout_keys(redis: Redis) -> set[bytes]:
    """The lockout keys of (address, client) pairs (the addresses' own are left out)."""
    return {key async for key in redis.scan_iter(match="lockout:*:client:*", count=1000)}


async def age_lock(redis: Redis, key: bytes, failures: int | None = None) -> None:
    """Make the lock on `key` run out now, as if its minutes had passed."""
    mapping: dict[str, int] = {"locked_until_ms": int(time.time() * 1000) - 1}
    if failures is not None:
        mapping["failures"] = failures
    await redis.hset(key, mapping=mapping)  # type: ignore[arg-type]


async def quiet(mailbox: Mailbox, to: str, wait: float = 0.5) -> bool:
    """True when no mail for `to` arrived within `wait` seconds."""
    await asyncio.sleep(wait)
    return mailbox.received(to) == []


# ---------------------------------------------------------------- 1. per-IP limits

Call = Callable[[str], Awaitable[dict[str, Any]]]


async def prepare_calls(
    operation: str, client: httpx.AsyncClient, mailbox: Mailbox, backend_urls: dict[str, str], setup_ip: str
) -> tuple[list[Call], set[str]]:
    """Five calls of `operation` (taking the client IP), each allowed but for the limit,
    and the answers an allowed call may give."""
    if operation == "start_registration":
        return [lambda ip: field(client, START, {"email": new_email()}, ip=ip) for _ in range(5)], {
            "RegistrationStarted"
        }
    if operation == "start_password_reset":
        return [lambda ip: field(client, START_RESET, {"email": new_email()}, ip=ip) for _ in range(5)], {
            "PasswordResetStarted"
        }
    if operation == "login":
        return [lambda ip: login(client, new_email(), "not the password at all", ip) for _ in range(5)], {
            "InvalidCredentials"
        }
    if operation in ("resend_registration_code", "resend_password_reset_code"):
        start_query, resend_query, key = (
            (START, RESEND, "registrationId")
            if operation == "resend_registration_code"
            else (START_RESET, RESEND_RESET, "resetId")
        )
        flows = []
        for _ in range(4):
            started = await field(client, start_query, {"email": new_email()}, ip=setup_ip)
            flows.append(started[key])
        for flow_id in flows:  # the cooldown is over for every flow
            await end_resend_cooldown(
                backend_urls, "reg" if operation == "resend_registration_code" else "reset", flow_id
            )
        # The fifth call resends the flow the fourth was refused for: it was resendable.
        order = [*flows, flows[3]]
        sent = "RegistrationCodeSent" if operation == "resend_registration_code" else "PasswordResetCodeSent"
        return [(lambda ip, flow=flow: field(client, resend_query, {"id": flow}, ip=ip)) for flow in order], {
            sent
        }
    if operation == "verify_registration_code":
        email = new_email()
        started = await field(client, START, {"email": email}, ip=setup_ip)
        code = await mailbox.code_for(email)
        flow = started["registrationId"]
        calls: list[Call] = [
            (lambda ip, guess=guess: field(client, VERIFY, {"id": flow, "code": guess}, ip=ip))
            for guess in wrong_codes(code, 4)
        ]
        calls.append(lambda ip: field(client, VERIFY, {"id": flow, "code": code}, ip=ip))
        return calls, {"InvalidCode", "RegistrationVerified"}
    if operation == "complete_password_reset":
        email, _ = await register(client, mailbox, setup_ip)
        started = await field(client, START_RESET, {"email": email}, ip=setup_ip)
        code = await reset_code(mailbox, email)
        flow = started["resetId"]

        def complete(guess: str) -> Call:
            return lambda ip: field(
                client, COMPLETE_RESET, {"id": flow, "code": guess, "password": NEW_PASSWORD}, ip=ip
            )

        return [*(complete(guess) for guess in wrong_codes(code, 4)), complete(code)], {
            "InvalidCode",
            "AuthPayload",
        }
    if operation == "set_registration_password":
        email = new_email()
        started = await field(client, START, {"email": email}, ip=setup_ip)
        code = await mailbox.code_for(email)
        verified = await field(client, VERIFY, {"id": started["registrationId"], "code": code}, ip=setup_ip)
        token = verified["registrationToken"]
        # Four hashes reach the flow (three, then one from elsewhere): within its own cap.
        return [
            lambda ip: field(client, SET_PASSWORD, {"token": token, "password": PASSWORD}, ip=ip)
            for _ in range(5)
        ], {"RegistrationPasswordSet"}
    if operation in ("change_password", "delete_account"):
        _, payload = await register(client, mailbox, setup_ip)
        query, variables = (
            (CHANGE_PASSWORD, {"current": "not the password at all", "new": NEW_PASSWORD})
            if operation == "change_password"
            else (DELETE_ACCOUNT, {"password": "not the password at all"})
        )
        return [
            lambda ip: field(client, query, variables, ip=ip, token=payload["accessToken"]) for _ in range(5)
        ], {"InvalidCredentials"}
    if operation == "start_code_login":
        return [
            lambda ip: field(client, START_CODE_LOGIN, {"email": new_email()}, ip=ip) for _ in range(5)
        ], {"CodeLoginStarted"}
    if operation == "complete_code_login":
        email, _ = await register(client, mailbox, setup_ip)
        started = await field(client, START_CODE_LOGIN, {"email": email}, ip=setup_ip)
        code = await reset_code(mailbox, email, subject=LOGIN_SUBJECT)
        flow = started["loginId"]
        return [
            (lambda ip, guess=guess: field(client, COMPLETE_CODE_LOGIN, {"id": flow, "code": guess}, ip=ip))
            for guess in [*wrong_codes(code, 4), code]
        ], {"InvalidCode", "AuthPayload"}
    if operation == "start_email_change":
        _, payload = await register(client, mailbox, setup_ip)
        variables = {"password": "not the password at all"}
        return [
            lambda ip: field(
                client,
                START_EMAIL_CHANGE,
                {"email": new_email(), **variables},
                ip=ip,
                token=payload["accessToken"],
            )
            for _ in range(5)
        ], {"InvalidCredentials"}
    if operation == "confirm_email_change":
        _, payload = await register(client, mailbox, setup_ip)
        new = new_email()
        started = await field(
            client,
            START_EMAIL_CHANGE,
            {"email": new, "password": PASSWORD},
            ip=setup_ip,
            token=payload["accessToken"],
        )
        code = await reset_code(mailbox, new, subject=EMAIL_CHANGE_SUBJECT)
        flow = started["changeId"]
        return [
            (
                lambda ip, guess=guess: field(
                    client,
                    CONFIRM_EMAIL_CHANGE,
                    {"id": flow, "code": guess},
                    ip=ip,
                    token=payload["accessToken"],
                )
            )
            for guess in [*wrong_codes(code, 4), code]
        ], {"InvalidCode", "EmailChanged"}
    if operation == "verify_second_factor":
        # Unknown challenges: the limit answers before any challenge is looked up.
        verify = f"""mutation($id: ID!) {{ verifySecondFactor(challengeId: $id, code: "123456") {{
          __typename {PROBLEM} {RATE} }} }}"""
        return [
            (lambda ip, n=n: field(client, verify, {"id": f"no-such-challenge-{n}"}, ip=ip)) for n in range(5)
        ], {"FlowExpired"}
    if operation in ("enroll_totp", "disable_totp", "regenerate_recovery_codes"):
        # Wrong passwords: each would cost an argon2 verify (attack 1).
        _, payload = await register(client, mailbox, setup_ip)
        query = {
            "enroll_totp": ENROLL_TOTP,
            "disable_totp": DISABLE_TOTP,
            "regenerate_recovery_codes": REGENERATE_RECOVERY_CODES,
        }[operation]
        return [
            lambda ip: field(
                client,
                query,
                {"password": "not the password at all", "code": "123456"},
                ip=ip,
                token=payload["accessToken"],
            )
            for _ in range(5)
        ], {"InvalidCredentials"}
    if operation == "confirm_totp":
        _, payload = await register(client, mailbox, setup_ip)
        enrolled = await field(
            client, ENROLL_TOTP, {"password": PASSWORD}, ip=setup_ip, token=payload["accessToken"]
        )
        assert enrolled["__typename"] == "TotpEnrollment", enrolled
        return [
            (
                lambda ip, n=n: field(
                    client, CONFIRM_TOTP, {"code": f"{n}{n}{n}{n}{n}{n}"}, ip=ip, token=payload["accessToken"]
                )
            )
            for n in range(5)
        ], {"InvalidCode", "TotpEnabled"}
    if operation in ("start_social_sign_in", "start_social_link"):
        # No provider is configured: the limit answers first, then UnknownProvider.
        name = "startSocialSignIn" if operation == "start_social_sign_in" else "startSocialLink"
        start = f"""mutation {{ {name}(provider: "nope", redirectUri: "https://app.example/cb",
          codeChallenge: "{"A" * 43}") {{ __typename {PROBLEM} {RATE} }} }}"""
        token = None
        if operation == "start_social_link":
            _, payload = await register(client, mailbox, setup_ip)
            token = payload["accessToken"]
        return [lambda ip: field(client, start, {}, ip=ip, token=token) for _ in range(5)], {
            "UnknownProvider"
        }
    if operation in ("complete_social_sign_in", "complete_social_link"):
        # Made-up tickets: each would be a guess at a ticket.
        name = "completeSocialSignIn" if operation == "complete_social_sign_in" else "completeSocialLink"
        complete = f"""mutation($t: ID!) {{ {name}(ticket: $t, codeVerifier: "{"v" * 43}") {{
          __typename {PROBLEM} {RATE} }} }}"""
        token = None
        if operation == "complete_social_link":
            _, payload = await register(client, mailbox, setup_ip)
            token = payload["accessToken"]
        return [
            (lambda ip, n=n: field(client, complete, {"t": f"no-such-ticket-{n}"}, ip=ip, token=token))
            for n in range(5)
        ], {"FlowExpired"}
    if operation in ("start_passkey_registration", "start_passkey_sign_in"):
        # Options each time: a challenge kept in Redis per call.
        token = None
        if operation == "start_passkey_registration":
            _, payload = await register(client, mailbox, setup_ip)
            token = payload["accessToken"]
            start = f"mutation {{ startPasskeyRegistration {{ __typename {PROBLEM} {RATE} }} }}"
        else:
            start = f"""mutation($e: String) {{ startPasskeySignIn(email: $e) {{
              __typename {PROBLEM} {RATE} }} }}"""
        return [
            (lambda ip: field(client, start, {"e": new_email()} if token is None else {}, ip=ip, token=token))
            for _ in range(5)
        ], {"PasskeyOptions"}
    if operation in ("finish_passkey_registration", "finish_passkey_sign_in"):
        # Made-up challenges: each would be a guess at one (and a signature to verify).
        token = None
        name = "finishPasskeySignIn"
        if operation == "finish_passkey_registration":
            _, payload = await register(client, mailbox, setup_ip)
            token = payload["accessToken"]
            name = "finishPasskeyRegistration"
        finish = f"""mutation($c: ID!, $j: String!) {{ {name}(challengeId: $c, credentialJson: $j) {{
          __typename {PROBLEM} {RATE} }} }}"""
        return [
            (
                lambda ip, n=n: field(
                    client, finish, {"c": f"no-such-challenge-{n}", "j": "{}"}, ip=ip, token=token
                )
            )
            for n in range(5)
        ], {"FlowExpired"}
    raise AssertionError(f"no case for the rate-limited operation {operation!r}: add one")


# Every operation settings.py limits; a new one fails here until it has a case above.
@pytest.mark.parametrize("operation", RATE_LIMITED_OPERATIONS)
async def test_each_operation_is_limited_per_client_ip(operation, backend_urls, mailbox):
    overrides = {
        f"rate_limit_{operation}": "3/minute",
        "code_resend_cooldown_seconds": 1,
        "code_max_attempts": 10,
    }
    async with app(backend_urls, mailbox, **overrides) as client:
        calls, allowed = await prepare_calls(operation, client, mailbox, backend_urls, new_ip())
        attacker, other = new_ip(), new_ip()
        answers = [await call(attacker) for call in calls[:4]]
        for answer in answers[:3]:
            assert answer["__typename"] in allowed, (operation, answers)
        assert_rate_limited(answers[3], 1, 60)
        # A refused call is refused again, and its wait only shrinks.
        again = await calls[3](attacker)
        assert_rate_limited(again, 1, answers[3]["retryAfterSeconds"])
        # Another client is not affected by the first one's limit.
        elsewhere = await calls[4](other)
        assert elsewhere["__typename"] in allowed, (operation, elsewhere)
        if operation in (
            "verify_registration_code",
            "complete_password_reset",
            "complete_code_login",
            "confirm_email_change",
        ):
            # The right code, refused to nobody: the limited guesses burnt nothing.
            assert elsewhere["__typename"] in {"RegistrationVerified", "AuthPayload", "EmailChanged"}, (
                elsewhere
            )


# ---------------------------------------------------------------- 2-3. aliases and batches


async def test_aliased_logins_each_count_against_the_ip_limit(backend_urls, mailbox):
    async with app(backend_urls, mailbox, rate_limit_login="3/minute") as client:
        emails = [new_email() for _ in range(5)]
        variables = ", ".join(f"$e{i}: String!" for i in range(5))
        fields = " ".join(
            f'l{i}: login(email: $e{i}, password: "wrong password {i}") {{ __typename {PROBLEM} {RATE} }}'
            for i in range(5)
        )
        result = await post(
            client,
            f"mutation({variables}) {{ {fields} }}",
            {f"e{i}": email for i, email in enumerate(emails)},
            ip=new_ip(),
        )
        answers = [result[f"l{i}"] for i in range(5)]
        assert kinds(answers) == ["InvalidCredentials"] * 3 + ["RateLimited"] * 2, answers
        for answer in answers[3:]:
            assert_rate_limited(answer, 1, 60)


async def test_batched_operations_are_refused_and_none_runs(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        emails = [new_email(), new_email()]
        batch = [{"query": START, "variables": {"email": email}} for email in emails]
        response = await client.post("/graphql", json=batch, headers={"X-Forwarded-For": new_ip()})
        assert 400 <= response.status_code < 500, response.text
        body = response.json()
        assert body["errors"] and body["errors"][0]["message"], body
        assert "data" not in body or body["data"] is None, body
        for email in emails:
            assert await quiet(mailbox, email, 0.3), f"a batched start mailed {email}"


# ---------------------------------------------------------------- 4-5. limits do not enumerate; mail cap


async def test_rate_limited_answers_are_alike_for_known_and_unknown_addresses(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        known, _ = await register(client, mailbox, new_ip())
    # Per IP: the limit is met on a known address from one IP, an unknown one from another.
    async with app(backend_urls, mailbox, rate_limit_start_registration="1/minute") as client:
        ip_known, ip_unknown = new_ip(), new_ip()
        assert (await field(client, START, {"email": new_email()}, ip=ip_known))["__typename"] == (
            "RegistrationStarted"
        )
        assert (await field(client, START, {"email": new_email()}, ip=ip_unknown))["__typename"] == (
            "RegistrationStarted"
        )
        on_known = await field(client, START, {"email": known}, ip=ip_known)
        on_unknown = await field(client, START, {"email": new_email()}, ip=ip_unknown)
        assert_rate_limited(on_known, 1, 60)
        assert_alike(on_known, on_unknown)
    # Per address: codes mailed per hour, for registration and for password reset. The
    # known address had one registration mail; the unknown one gets the same history.
    unknown = new_email()
    async with app(backend_urls, mailbox, codes_per_address_ceiling_per_hour=2) as client:
        assert (await field(client, START, {"email": unknown}, ip=new_ip()))["__typename"] == (
            "RegistrationStarted"
        )
        for query, expected in (
            (START, ["RegistrationStarted", "RateLimited"]),
            (START_RESET, ["PasswordResetStarted", "PasswordResetStarted", "RateLimited"]),
        ):
            answers: dict[str, list[dict[str, Any]]] = {known: [], unknown: []}
            for _ in expected:
                for email in (known, unknown):
                    answers[email].append(await field(client, query, {"email": email}, ip=new_ip()))
            assert kinds(answers[known]) == expected, answers[known]
            for first, second in zip(answers[known], answers[unknown], strict=True):
                assert_alike(first, second)
            assert_rate_limited(answers[known][-1], 61, 3600)


@pytest.mark.subprocess
async def test_global_mail_cap_stops_every_mail_for_the_hour(backend_urls, mailbox, tmp_path):
    redis = start_redis(tmp_path)  # a private Redis: the cap's key is global to a Redis
    try:
        async with app(backend_urls, mailbox, redis_url=redis.url, mails_per_hour=10) as client:
            emails = [new_email() for _ in range(10)]
            for email in emails:
                started = await field(client, START, {"email": email}, ip=new_ip())
                assert started["__typename"] == "RegistrationStarted", started
            for email in emails:
                await mailbox.wait_for(email)
            eleventh = new_email()
            refused = await field(client, START, {"email": eleventh}, ip=new_ip())
            assert_rate_limited(refused, 61, 3600)
            # Password reset mails come out of the same budget.
            twelfth = new_email()
            reset = await field(client, START_RESET, {"email": twelfth}, ip=new_ip())
            assert_rate_limited(reset, 61, 3600)
            assert await quiet(mailbox, eleventh), "an 11th mail went out past MAILS_PER_HOUR=10"
            assert mailbox.received(twelfth) == [], "a reset mail went out past MAILS_PER_HOUR=10"
    finally:
        redis.stop()


# ---------------------------------------------------------------- 6-9. login lockout


async def test_lockout_progresses_doubles_caps_and_resets_on_success(backend_urls, mailbox):
    async with app(backend_urls, mailbox, login_lockout_threshold=5) as client:
        email, _ = await register(client, mailbox, new_ip())
        ip = new_ip()  # the lock is per (address, client): one client's guesses
        redis = redis_client(backend_urls)
        try:
            before = await lockout_keys(redis)
            wrong_times = []
            first, took = await timed(login(client, email, "wrong password 0", ip))
            wrong_times.append(took)
            new_keys = await lockout_keys(redis) - before
            assert len(new_keys) == 1, new_keys
            (key,) = new_keys
            answers = [first]
            for n in range(1, 5):
                answer, took = await timed(login(client, email, f"wrong password {n}", ip))
                answers.append(answer)
                wrong_times.append(took)
            assert kinds(answers) == ["InvalidCredentials"] * 5, answers
            # The failures fade 12 hours after the last one.
            assert 11.9 * 3600_000 < await redis.pttl(key) <= 12 * 3600_000
            # Locked: the right password is refused, and not verified (as fast as a refusal).
            locked_times = []
            for _ in range(3):
                refused, took = await timed(login(client, email, PASSWORD, ip))
                assert_rate_limited(refused, 55, 60)
                locked_times.append(took)
            assert statistics.median(locked_times) < statistics.median(wrong_times) / 2, (
                locked_times,
                wrong_times,
            )
            # Each further failure doubles the lock: 2, then 4 minutes.
            for low, high in ((115, 120), (235, 240)):
                await age_lock(redis, key)
                assert (await login(client, email, "yet another wrong one", ip))["__typename"] == (
                    "InvalidCredentials"
                )
                assert_rate_limited(await login(client, email, PASSWORD, ip), low, high)
            # A success once the lock ran out resets everything: five fresh failures allowed.
            await age_lock(redis, key)
            assert (await login(client, email, PASSWORD, ip))["__typename"] == "AuthPayload"
            after = [await login(client, email, f"wrong again {n}", ip) for n in range(5)]
            assert kinds(after) == ["InvalidCredentials"] * 5, after
            assert_rate_limited(await login(client, email, PASSWORD, ip), 55, 60)
            # The doubling stops at 15 minutes.
            await age_lock(redis, key, failures=20)
            assert (await login(client, email, "wrong at the cap", ip))["__typename"] == (
                "InvalidCredentials"
            )
            assert_rate_limited(await login(client, email, PASSWORD, ip), 895, 900)
        finally:
            await redis.aclose()


async def test_lockout_of_an_unknown_address_answers_exactly_like_a_known_one(backend_urls, mailbox):
    async with app(backend_urls, mailbox, login_lockout_threshold=5) as client:
        known, _ = await register(client, mailbox, new_ip())
        unknown = new_email()
        ips = {known: new_ip(), unknown: new_ip()}  # one client guessing at each
        redis = redis_client(backend_urls)
        try:
            sequences: dict[str, list[dict[str, Any]]] = {known: [], unknown: []}
            keys: dict[str, bytes] = {}
            for n in range(5):
                for email in (known, unknown):
                    before = await lockout_keys(redis)
                    sequences[email].append(await login(client, email, f"wrong password {n}", ips[email]))
                    if n == 0:
                        (keys[email],) = await lockout_keys(redis) - before
            for email in (known, unknown):  # the 6th: the account's password for the known one
                sequences[email].append(await login(client, email, PASSWORD, ips[email]))
            for email in (known, unknown):  # doubling
                await age_lock(redis, keys[email])
                sequences[email].append(await login(client, email, "wrong after the lock", ips[email]))
                sequences[email].append(await login(client, email, PASSWORD, ips[email]))
            assert kinds(sequences[unknown]) == ["InvalidCredentials"] * 5 + ["RateLimited"] + [
                "InvalidCredentials",
                "RateLimited",
            ], sequences[unknown]
            assert_rate_limited(sequences[unknown][5], 55, 60)
            assert_rate_limited(sequences[unknown][7], 115, 120)
            for on_known, on_unknown in zip(sequences[known], sequences[unknown], strict=True):
                assert_alike(on_known, on_unknown)
        finally:
            await redis.aclose()


async def test_aliased_login_guesses_stop_at_the_lockout_threshold(backend_urls, mailbox):
    async with app(backend_urls, mailbox, login_lockout_threshold=5) as client:
        email, _ = await register(client, mailbox, new_ip())
        guesses = [f"guess number {n}" for n in range(9)] + [PASSWORD]  # the last one is right
        fields = " ".join(
            f"g{n}: login(email: $email, password: {json.dumps(guess)}) {{ __typename {PROBLEM} {RATE} }}"
            for n, guess in enumerate(guesses)
        )
        result = await post(
            client, f"mutation($email: String!) {{ {fields} }}", {"email": email}, ip=new_ip()
        )
        answers = [result[f"g{n}"] for n in range(10)]
        assert kinds(answers) == ["InvalidCredentials"] * 5 + ["RateLimited"] * 5, answers
        for answer in answers[5:]:
            assert_rate_limited(answer, 55, 60)


async def test_login_guesses_are_stopped_across_ips_and_across_addresses(backend_urls, mailbox):
    # Across IPs: past LOGIN_LOCKOUT_ADDRESS_THRESHOLD failures an hour the address itself
    # locks, whoever asks (12: the least that a threshold of 5 allows).
    overrides = {"login_lockout_threshold": 5, "login_lockout_address_threshold": 12}
    async with app(backend_urls, mailbox, **overrides) as client:
        email, _ = await register(client, mailbox, new_ip())
        guesses = [f"guess from afar {n}" for n in range(14)] + [PASSWORD]
        answers = [await login(client, email, guess, new_ip()) for guess in guesses]
        assert kinds(answers) == ["InvalidCredentials"] * 12 + ["RateLimited"] * 3, answers
        # The same guesses at once, from twenty IPs: still exactly twelve get verified.
        target = new_email()
        racing = await asyncio.gather(
            *(login(client, target, f"parallel guess {n}", new_ip()) for n in range(20))
        )
        assert sorted(kinds(racing)) == ["InvalidCredentials"] * 12 + ["RateLimited"] * 8, racing
    # Across addresses: one IP spraying one password over many addresses meets its limit.
    async with app(backend_urls, mailbox, rate_limit_login="20/minute") as client:
        sprayer = new_ip()
        answers = [await login(client, new_email(), "Summer2024!", sprayer) for _ in range(25)]
        assert kinds(answers) == ["InvalidCredentials"] * 20 + ["RateLimited"] * 5, answers
        assert_rate_limited(answers[20], 1, 60)


# ---------------------------------------------------------------- 10. code guesses


async def test_aliased_code_guesses_meet_the_ip_limit_without_spending_attempts(backend_urls, mailbox):
    overrides = {"rate_limit_verify_registration_code": "5/minute", "code_max_attempts": 10}
    async with app(backend_urls, mailbox, **overrides) as client:
        email = new_email()
        started = await field(client, START, {"email": email}, ip=new_ip())
        code = await mailbox.code_for(email)
        guesses = wrong_codes(code, 9)
        fields = " ".join(
            f'c{n}: verifyRegistrationCode(registrationId: $id, code: "{guess}") {{ __typename {PROBLEM}'
            f" ... on InvalidCode {{ attemptsLeft }} {RATE} }}"
            for n, guess in enumerate(guesses[:8])
        )
        result = await post(
            client, f"mutation($id: ID!) {{ {fields} }}", {"id": started["registrationId"]}, ip=new_ip()
        )
        answers = [result[f"c{n}"] for n in range(8)]
        assert kinds(answers) == ["InvalidCode"] * 5 + ["RateLimited"] * 3, answers
        assert [answer["attemptsLeft"] for answer in answers[:5]] == [9, 8, 7, 6, 5], answers
        for answer in answers[5:]:
            assert_rate_limited(answer, 1, 60)
        # The refused guesses cost no attempt: the next one, from elsewhere, leaves 4.
        variables = {"id": started["registrationId"], "code": guesses[8]}
        assert await field(client, VERIFY, variables, ip=new_ip()) == {
            "__typename": "InvalidCode",
            "message": "Wrong or expired code.",
            "attemptsLeft": 4,
        }


async def test_parallel_code_guesses_each_spend_an_attempt(backend_urls, mailbox):
    async with app(backend_urls, mailbox, code_max_attempts=5) as client:
        email = new_email()
        started = await field(client, START, {"email": email}, ip=new_ip())
        code = await mailbox.code_for(email)
        flow = started["registrationId"]
        racing = await asyncio.gather(
            *(
                field(client, VERIFY, {"id": flow, "code": guess}, ip=new_ip())
                for guess in wrong_codes(code, 12)
            )
        )
        wrong = sorted(answer["attemptsLeft"] for answer in racing if answer["__typename"] == "InvalidCode")
        assert wrong == [0, 1, 2, 3, 4], racing
        assert kinds(racing).count("FlowExpired") == 7, racing
        # Burnt: the right code opens nothing now.
        late = await field(client, VERIFY, {"id": flow, "code": code}, ip=new_ip())
        assert late["__typename"] == "FlowExpired", late


# ---------------------------------------------------------------- 11. enumeration


@pytest.mark.serial
async def test_known_and_unknown_addresses_answer_alike_and_in_comparable_time(backend_urls, mailbox):
    rounds = 7
    overrides = {
        "code_resend_cooldown_seconds": 1,
        "codes_per_address_per_hour": 50,
        "login_lockout_threshold": rounds,
    }
    async with app(backend_urls, mailbox, **overrides) as client:
        known, _ = await register(client, mailbox, new_ip())
        unknown = new_email()
        times: dict[str, dict[str, list[float]]] = {}

        async def pair(name: str, make: Callable[[str], Awaitable[Any]]) -> list[tuple[Any, Any]]:
            """`rounds` interleaved calls for each address; their answers, side by side."""
            times[name] = {known: [], unknown: []}
            results = []
            for _ in range(rounds):
                row = []
                for email in (known, unknown):
                    answer, took = await timed(make(email))
                    times[name][email].append(took)
                    row.append(answer)
                results.append(tuple(row))
            return results

        # startRegistration: a flow either way, a mail either way.
        starts = await pair("start", lambda email: field(client, START, {"email": email}, ip=new_ip()))
        for on_known, on_unknown in starts:
            assert on_known["__typename"] == "RegistrationStarted", on_known
            assert_alike(on_known, on_unknown)
        # resendRegistrationCode: inside the cooldown, then after it.
        flows = {
            email: [row[i]["registrationId"] for row in starts] for i, email in enumerate((known, unknown))
        }
        cursor = {known: iter(flows[known]), unknown: iter(flows[unknown])}
        early = [  # the newest flows: started well inside the cooldown
            (await field(client, RESEND, {"id": flows[known][-1]}, ip=new_ip())),
            (await field(client, RESEND, {"id": flows[unknown][-1]}, ip=new_ip())),
        ]
        assert_rate_limited(early[0], 1, 1)
        assert_alike(*early)
        for flow_id in flows[known] + flows[unknown]:
            await end_resend_cooldown(backend_urls, "reg", flow_id)
        resends = await pair(
            "resend", lambda email: field(client, RESEND, {"id": next(cursor[email])}, ip=new_ip())
        )
        for on_known, on_unknown in resends:
            assert on_known["__typename"] == "RegistrationCodeSent", on_known
            assert_alike(on_known, on_unknown)
        # login with a wrong password: one verify either way; the last failure locks both.
        ips = {known: new_ip(), unknown: new_ip()}  # the lock is per (address, client)
        logins = await pair("login", lambda email: login(client, email, "not my password", ips[email]))
        for on_known, on_unknown in logins:
            assert (
                on_known
                == on_unknown
                == {
                    "__typename": "InvalidCredentials",
                    "message": "The email or password is wrong.",
                }
            )
        # Locked out: refused alike, and both fast (nothing verified).
        locked = await pair("locked", lambda email: login(client, email, PASSWORD, ips[email]))
        for on_known, on_unknown in locked:
            assert_rate_limited(on_known, 55, 60)
            assert_alike(on_known, on_unknown)
        # startPasswordReset: a flow either way, a mail either way.
        resets = await pair("reset", lambda email: field(client, START_RESET, {"email": email}, ip=new_ip()))
        for on_known, on_unknown in resets:
            assert on_known["__typename"] == "PasswordResetStarted", on_known
            assert_alike(on_known, on_unknown)
        for name, measured in times.items():
            assert_comparable(name, measured[known], measured[unknown])
        verify_median = statistics.median(times["login"][known] + times["login"][unknown])
        locked_median = statistics.median(times["locked"][known] + times["locked"][unknown])
        assert locked_median < verify_median / 2, (locked_median, verify_median)


# ---------------------------------------------------------------- 12. security events


async def security_scenario(backend_urls, mailbox) -> tuple[list[dict[str, Any]], list[str], str, str]:
    """Walk every security-relevant step once; the events logged, the secrets that went
    by (codes, passwords, tokens, the address), the email and the client IP."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.INFO)
    security_log = logging.getLogger("authql.security")
    previous_level = security_log.level
    security_log.addHandler(handler)
    security_log.setLevel(logging.INFO)
    secret_values: list[str] = [PASSWORD]
    ip = new_ip()
    overrides = {
        "refresh_reuse_grace_seconds": 0,
        "login_lockout_threshold": 3,
        "rate_limit_start_password_reset": "1/minute",
    }
    try:
        async with app(backend_urls, mailbox, **overrides) as client:
            email = new_email()
            started = await field(client, START, {"email": email}, ip=ip)
            code = await mailbox.code_for(email)
            secret_values += [email, code]
            (wrong,) = wrong_codes(code, 1)
            failed = await field(client, VERIFY, {"id": started["registrationId"], "code": wrong}, ip=ip)
            assert failed["__typename"] == "InvalidCode", failed
            verified = await field(client, VERIFY, {"id": started["registrationId"], "code": code}, ip=ip)
            token = verified["registrationToken"]
            secret_values.append(token)
            await field(client, SET_PASSWORD, {"token": token, "password": PASSWORD}, ip=ip)
            completed = await field(client, COMPLETE, {"token": token, "profile": PROFILE}, ip=ip)
            assert completed["__typename"] == "AuthPayload", completed
            secret_values += [completed["accessToken"], completed["refreshToken"]]
            # Refresh-token reuse: A -> B, then A again.
            renewed = await field(client, REFRESH, {"token": completed["refreshToken"]}, ip=ip)
            assert renewed["__typename"] == "AuthPayload", renewed
            secret_values += [renewed["accessToken"], renewed["refreshToken"]]
            reused = await field(client, REFRESH, {"token": completed["refreshToken"]}, ip=ip)
            assert reused["__typename"] == "InvalidRefreshToken", reused
            # A login, a logout.
            signed_in = await login(client, email, PASSWORD, ip)
            assert signed_in["__typename"] == "AuthPayload", signed_in
            secret_values += [signed_in["accessToken"], signed_in["refreshToken"]]
            assert await field(client, LOGOUT, ip=ip, token=signed_in["accessToken"]) == {
                "revokedSessions": 1
            }
            # Failures up to the lockout, then a refusal while locked.
            for n in range(3):
                wrong_password = f"wrong password number {n}"
                secret_values.append(wrong_password)
                assert (await login(client, email, wrong_password, ip))["__typename"] == "InvalidCredentials"
            assert (await login(client, email, PASSWORD, ip))["__typename"] == "RateLimited"
            # A per-IP rate limit.
            for _ in range(2):
                await field(client, START_RESET, {"email": email}, ip=ip)
    finally:
        security_log.removeHandler(handler)
        security_log.setLevel(previous_level)
    events = []
    for record in records:
        message = record.getMessage()
        for secret in secret_values:
            assert secret not in message, f"a secret ({secret[:12]}...) is in the security log: {message}"
        events.append(json.loads(message))
    return events, secret_values, email, ip


async def test_security_events_are_json_with_time_and_ip_and_no_secrets(backend_urls, mailbox):
    events, _, _, ip = await security_scenario(backend_urls, mailbox)
    assert events, "no security events were logged"
    for event in events:
        assert isinstance(event.get("event"), str), event
        assert event.get("time") and event.get("ip") == ip, event
        assert not {"email", "password", "code", "token", "accessToken", "refreshToken"} & set(event), event
    # Events about one address carry its fingerprint, the same one each time.
    fingerprints = {event["account"] for event in events if "account" in event}
    assert len(fingerprints) == 1, events
    assert all(re.fullmatch(r"[0-9a-f]{8,64}", value) for value in fingerprints), fingerprints


async def test_security_events_cover_every_security_step(backend_urls, mailbox):
    events, _, _, _ = await security_scenario(backend_urls, mailbox)
    names = {event["event"] for event in events}
    expected = {
        "registration_started",
        "code_failed",
        "registration_verified",
        "registration_completed",
        "login_failed",
        "login_succeeded",
        "lockout",
        "login_refused_locked",
        "rate_limited",
        "refresh_reuse_detected",
        "logout",
    }
    assert not expected - names, (
        f"missing security events: {sorted(expected - names)}; logged {sorted(names)}"
    )
    limited = [event for event in events if event["event"] == "rate_limited"]
    assert [event.get("operation") for event in limited] == ["start_password_reset"], limited
