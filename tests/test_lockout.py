"""The password lockout as a person and an attacker meet it over HTTP: concurrent
correct logins always get in, concurrent wrong guesses verify at most the threshold,
the password change and the account deletion count into the same lockout, and a
completed password reset lifts it.

Each test draws a fresh address, so the lockout state in the shared Redis never
leaks from one test into another; locks are never slept through.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
from conftest import Mailbox, captured_security_events, serve
from conftest import test_settings as settings_with
from flows import LOGIN, PASSWORD, data, new_email, register
from redis.asyncio import Redis
from redis_client import not_on_cluster, redis_client

from security import lockout

THRESHOLD = 5
NEW_PASSWORD = "a brand new horse battery"
RATE = "... on RateLimited { retryAfterSeconds }"
PROBLEM = "... on Problem { __typename message }"
CHANGE_PASSWORD = f"""mutation($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{
  __typename ... on AuthPayload {{ accessToken }} {PROBLEM} {RATE} ... on WeakPassword {{ reasons }} }} }}"""
DELETE_ACCOUNT = f"""mutation($password: String!) {{ deleteAccount(password: $password) {{
  __typename ... on AccountDeleted {{ id }} {PROBLEM} {RATE} }} }}"""
START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) {
  __typename ... on PasswordResetStarted { resetId } } }"""
COMPLETE_RESET = f"""mutation($id: ID!, $code: String!, $password: String!) {{
  completePasswordReset(resetId: $id, code: $code, newPassword: $password) {{ __typename
  ... on AuthPayload {{ accessToken }} {PROBLEM} ... on WeakPassword {{ reasons }} }} }}"""
RESET_SUBJECT = "Your authql password reset code"


def app(backend_urls: dict[str, str], mailbox: Mailbox, **overrides: Any):
    return serve(settings_with(backend_urls, mailbox, login_lockout_threshold=THRESHOLD, **overrides))


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    return await data(client, LOGIN, {"email": email, "password": password})


def kinds(answers: list[dict[str, Any]]) -> list[str]:
    return [answer["__typename"] for answer in answers]


async def reset_code(mailbox: Mailbox, to: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        mails = [message for message in mailbox.received(to) if message["Subject"] == RESET_SUBJECT]
        if mails:
            text = mails[-1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            match = re.search(r"^\s*(\d{6,10})\s*$", text, re.MULTILINE)
            assert match, "the reset mail holds no code"
            return match.group(1)
        assert time.monotonic() < deadline, f"no reset mail for {to}"
        await asyncio.sleep(0.02)


# ------------------------------------------------------------ no false positives


async def test_concurrent_correct_logins_all_get_in(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        await register(client, mailbox, email)
        for concurrent in (8, 12, 16, 16, 16):
            answers = await asyncio.gather(*(login(client, email) for _ in range(concurrent)))
            assert kinds(answers) == ["AuthPayload"] * concurrent, answers


async def test_correct_logins_get_in_beside_parallel_wrong_guesses_below_the_threshold(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        await register(client, mailbox, email)
        for _ in range(3):
            wrong = [login(client, email, f"wrong guess {n}") for n in range(THRESHOLD - 1)]
            right = [login(client, email) for _ in range(8)]
            answers = await asyncio.gather(*wrong, *right)
            assert kinds(answers[THRESHOLD - 1 :]) == ["AuthPayload"] * 8, answers
            # Wrong guesses that ended after the last success still count: one more success clears them.
            assert (await login(client, email))["__typename"] == "AuthPayload"


async def lockout_key_of(client: httpx.AsyncClient, redis: Redis, email: str) -> bytes:
    """The Redis key of `email`'s lockout for this client, found by the one wrong guess that
    creates it (beside the address's own)."""
    before = {key async for key in redis.scan_iter(match="lockout:*")}
    assert (await login(client, email, "one wrong guess"))["__typename"] == "InvalidCredentials"
    (key,) = {key async for key in redis.scan_iter(match="lockout:*:client:*")} - before
    return key


async def test_an_in_flight_slot_of_a_dead_process_expires_by_itself(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        await register(client, mailbox, email)
        redis = redis_client(backend_urls)
        try:
            key = await lockout_key_of(client, redis, email)
            # Every slot taken by verifies that died with their process a moment ago.
            now_ms = int(time.time() * 1000)
            await redis.zadd(key + b":inflight", {f"dead-{n}": now_ms - 1 for n in range(THRESHOLD)})
            started = time.perf_counter()
            assert (await login(client, email))["__typename"] == "AuthPayload"
            assert time.perf_counter() - started < 2
        finally:
            await redis.aclose()


async def test_an_attempt_waits_for_a_slot_a_bounded_time(backend_urls, mailbox, monkeypatch):
    monkeypatch.setattr(lockout, "WAIT_FOR_SLOT_SECONDS", 0.3)
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        await register(client, mailbox, email)
        redis = redis_client(backend_urls)
        try:
            key = await lockout_key_of(client, redis, email)
            # Every slot held by verifies still running elsewhere (a stuck hash queue, say).
            slots = {f"busy-{n}": int(time.time() * 1000) + 60_000 for n in range(THRESHOLD)}
            await redis.zadd(key + b":inflight", slots)  # type: ignore[arg-type]
            started = time.perf_counter()
            answer = await login(client, email)
            assert answer["__typename"] == "RateLimited" and answer["retryAfterSeconds"] == 1, answer
            assert time.perf_counter() - started < 2
            await redis.zrem(key + b":inflight", *slots)
            assert (await login(client, email))["__typename"] == "AuthPayload"
        finally:
            await redis.aclose()


async def test_a_slot_that_comes_free_goes_to_the_attempt_waiting_longest(backend_urls, mailbox):
    # A client that logs in again as soon as it is answered must not take every slot that
    # comes free from an attempt already waiting (which would be refused after
    # WAIT_FOR_SLOT_SECONDS with the right password): first come, first served.
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        await register(client, mailbox, email)
        redis = redis_client(backend_urls)
        try:
            key = await lockout_key_of(client, redis, email)
            assert (await login(client, email))["__typename"] == "AuthPayload"  # no failures: 5 slots
            busy = {f"busy-{n}": int(time.time() * 1000) + 60_000 for n in range(THRESHOLD - 1)}
            await redis.zadd(key + b":inflight", busy)  # type: ignore[arg-type]
            finished: list[str] = []

            async def attempt(name: str) -> None:
                assert (await login(client, email))["__typename"] == "AuthPayload"
                finished.append(name)

            for _ in range(3):
                await redis.zadd(key + b":inflight", {"the last slot": int(time.time() * 1000) + 60_000})
                waiting = asyncio.ensure_future(attempt("waiting"))
                deadline = time.monotonic() + 5
                while not await redis.zcard(key + b":waiting"):  # it is in line
                    assert time.monotonic() < deadline, "the attempt never waited for a slot"
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.05)  # and polls less often by now
                await redis.zrem(key + b":inflight", "the last slot")
                await asyncio.gather(attempt("newcomer"), waiting)
            assert finished == ["waiting", "newcomer"] * 3
        finally:
            await redis.aclose()


# ------------------------------------------------------------ no parallel guessing


async def test_concurrent_wrong_guesses_verify_at_most_the_threshold(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        await register(client, mailbox, email)
        with captured_security_events() as events:
            answers = await asyncio.gather(*(login(client, email, f"parallel guess {n}") for n in range(20)))
        assert sorted(kinds(answers)) == ["InvalidCredentials"] * THRESHOLD + ["RateLimited"] * 15, answers
        failed = [event for event in events if event["event"] == "login_failed"]
        assert len(failed) == THRESHOLD, failed
        # Locked as before: the right password is refused now.
        assert (await login(client, email))["__typename"] == "RateLimited"
        # Fifteen aliased guesses in one request (the alias limit), on a fresh address: the same.
        other = new_email()
        await register(client, mailbox, other)
        fields = " ".join(
            f'g{n}: login(email: $email, password: "aliased guess {n}") {{ __typename }}' for n in range(15)
        )
        result = await data_all(client, f"mutation($email: String!) {{ {fields} }}", {"email": other})
        assert kinds(list(result.values())) == ["InvalidCredentials"] * THRESHOLD + ["RateLimited"] * 10


async def data_all(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


# ------------------------------------------------------------ other password checks


async def test_change_password_guesses_with_a_stolen_token_meet_the_lockout(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        stolen = (await register(client, mailbox, email))["accessToken"]
        answers = [
            await data(client, CHANGE_PASSWORD, {"current": f"guess {n}", "new": NEW_PASSWORD}, stolen)
            for n in range(30)
        ]
        assert kinds(answers) == ["InvalidCredentials"] * THRESHOLD + ["RateLimited"] * 25, answers
        assert 55 <= answers[-1]["retryAfterSeconds"] <= 900, answers[-1]
        # The right current password is refused while locked, and so is a login.
        locked = await data(client, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, stolen)
        assert locked["__typename"] == "RateLimited", locked
        assert (await login(client, email))["__typename"] == "RateLimited"


async def test_delete_account_guesses_with_a_stolen_token_meet_the_lockout(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        stolen = (await register(client, mailbox, email))["accessToken"]
        answers = [await data(client, DELETE_ACCOUNT, {"password": f"guess {n}"}, stolen) for n in range(30)]
        assert kinds(answers) == ["InvalidCredentials"] * THRESHOLD + ["RateLimited"] * 25, answers
        locked = await data(client, DELETE_ACCOUNT, {"password": PASSWORD}, stolen)
        assert locked["__typename"] == "RateLimited", locked
        assert (await login(client, email))["__typename"] == "RateLimited"


async def test_a_right_current_password_clears_the_failures(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        token = (await register(client, mailbox, email))["accessToken"]
        for n in range(THRESHOLD - 1):
            assert (await login(client, email, f"wrong {n}"))["__typename"] == "InvalidCredentials"
        changed = await data(client, CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token)
        assert changed["__typename"] == "AuthPayload", changed
        for n in range(THRESHOLD - 1):
            assert (await login(client, email, f"wrong again {n}"))["__typename"] == "InvalidCredentials"
        assert (await login(client, email, NEW_PASSWORD))["__typename"] == "AuthPayload"


async def test_a_completed_password_reset_lifts_the_lockout(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        email = new_email()
        await register(client, mailbox, email)
        for n in range(THRESHOLD):
            assert (await login(client, email, f"attacker guess {n}"))["__typename"] == "InvalidCredentials"
        assert (await login(client, email))["__typename"] == "RateLimited"
        started = await data(client, START_RESET, {"email": email})
        code = await reset_code(mailbox, email)
        reset = await data(
            client, COMPLETE_RESET, {"id": started["resetId"], "code": code, "password": NEW_PASSWORD}
        )
        assert reset["__typename"] == "AuthPayload", reset
        assert (await login(client, email, NEW_PASSWORD))["__typename"] == "AuthPayload"


@not_on_cluster("it compares every lockout key before and after: other workers' tests write theirs meanwhile")
async def test_logins_with_impossible_addresses_leave_nothing_in_redis(client, backend_urls):
    """No account can have an address that is not one: such logins are refused alike,
    without a hash and without a lockout key each (review A12)."""
    redis = redis_client(backend_urls)
    try:
        before = {key async for key in redis.scan_iter(match="lockout:*")}
        with captured_security_events() as events:
            answers = await asyncio.gather(
                *(login(client, f"not an address {n}", "not the password") for n in range(30))
            )
        after = {key async for key in redis.scan_iter(match="lockout:*")}
    finally:
        await redis.aclose()
    assert set(kinds(answers)) == {"InvalidCredentials"}, answers
    assert after == before
    failed = [event for event in events if event["event"] == "login_failed"]
    assert len(failed) == 30 and all(event.get("reason") == "invalid_email" for event in failed), failed
