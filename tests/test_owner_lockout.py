"""Attack 2 / N3 of the 2026-12-04 reviews: anyone who knows an address must not be able
to shut its owner out. One client's wrong passwords and wrong codes lock that client out
of the address, never the owner's other clients; the per-address ceilings (many clients
together) still stop a distributed attacker.

Real app, real Redis, the SMTP sink; client IPs come through the trusted proxy, and
cooldowns are ended by deleting their Redis keys, never by sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from conftest import captured_security_events
from flows import PASSWORD, wrong_codes
from redis_client import redis_client
from test_attacks import (
    COMPLETE_CODE_LOGIN,
    COMPLETE_RESET,
    LOGIN,
    LOGIN_SUBJECT,
    NEW_PASSWORD,
    START_CODE_LOGIN,
    START_RESET,
    app,
    assert_rate_limited,
    field,
    new_ip,
    register,
    reset_code,
)


async def end_start_cooldowns(urls: Mapping[str, Any], ip: str) -> None:
    """As if every sign-in-by-code start cooldown of `ip` had run out (`urls`: backend_urls)."""
    redis = redis_client(urls)
    try:
        # Big steps: a Redis shared by a whole run (a cluster) holds many keys to walk.
        async for key in redis.scan_iter(match=f"login:cooldown:*:{ip}", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()


async def attack(client: Any, mailbox: Any, backend_urls: dict[str, str], email: str, ip: str) -> list[str]:
    """The report's sequence from `ip`: 5 wrong passwords, then up to 5 sign-ins by code
    with 5 wrong codes each. The answers' kinds."""
    kinds = [
        (await field(client, LOGIN, {"email": email, "password": f"wrong-guess-{n}"}, ip=ip))["__typename"]
        for n in range(5)
    ]
    for _ in range(5):
        started = await field(client, START_CODE_LOGIN, {"email": email}, ip=ip)
        kinds.append(started["__typename"])
        if started["__typename"] != "CodeLoginStarted":
            continue
        real = await reset_code(mailbox, email, subject=LOGIN_SUBJECT)
        for guess in wrong_codes(real, 5):
            answer = await field(
                client, COMPLETE_CODE_LOGIN, {"id": started["loginId"], "code": guess}, ip=ip
            )
            kinds.append(answer["__typename"])
        await end_start_cooldowns(backend_urls, ip)
    return kinds


async def test_one_client_cannot_shut_the_owner_out(backend_urls, mailbox):
    async with app(backend_urls, mailbox, login_lockout_threshold=5) as client:
        owner = new_ip()
        email, _ = await register(client, mailbox, owner)
        attacker = new_ip()
        began = time.monotonic()
        kinds = await attack(client, mailbox, backend_urls, email, attacker)
        # The attacker locked itself out: its password guesses, its codes and its starts.
        assert kinds[:5] == ["InvalidCredentials"] * 5, kinds
        assert kinds.count("InvalidCode") == 20, kinds  # its cap of wrong codes at the address
        assert kinds[-1] == "RateLimited", kinds
        assert_rate_limited(
            # A minute from its fifth wrong password, less what the attack took since.
            await field(client, LOGIN, {"email": email, "password": PASSWORD}, ip=attacker),
            60 - math.ceil(time.monotonic() - began) - 1,
            60,
        )

        # The owner, from another client: the right password is not locked...
        signed_in = await field(client, LOGIN, {"email": email, "password": PASSWORD}, ip=owner)
        assert signed_in["__typename"] == "AuthPayload", signed_in
        # ...the right reset code resets the password...
        reset = await field(client, START_RESET, {"email": email}, ip=owner)
        assert reset["__typename"] == "PasswordResetStarted", reset
        code = await reset_code(mailbox, email)
        variables = {"id": reset["resetId"], "code": code, "password": NEW_PASSWORD}
        done = await field(client, COMPLETE_RESET, variables, ip=owner)
        assert done["__typename"] == "AuthPayload", done
        # ...the sign-in by code starts and takes its right code...
        mails = len(mailbox.received(email))
        started = await field(client, START_CODE_LOGIN, {"email": email}, ip=owner)
        assert started["__typename"] == "CodeLoginStarted", started
        await mailbox.wait_for(email, mails + 1)
        code = await reset_code(mailbox, email, subject=LOGIN_SUBJECT)
        done = await field(client, COMPLETE_CODE_LOGIN, {"id": started["loginId"], "code": code}, ip=owner)
        assert done["__typename"] == "AuthPayload", done
        # ...and the new password signs in; the attacker's client stays locked out.
        again = await field(client, LOGIN, {"email": email, "password": NEW_PASSWORD}, ip=owner)
        assert again["__typename"] == "AuthPayload", again
        refused = await field(client, LOGIN, {"email": email, "password": NEW_PASSWORD}, ip=attacker)
        assert refused["__typename"] == "RateLimited", refused


async def test_the_address_ceiling_stops_many_clients_but_not_an_open_flows_right_code(backend_urls, mailbox):
    overrides = {"code_failures_per_address_per_day": 5, "code_failures_per_address_ceiling_per_day": 10}
    with captured_security_events() as events:
        async with app(backend_urls, mailbox, **overrides) as client:
            owner = new_ip()
            email, _ = await register(client, mailbox, owner)
            # The owner's reset is open before the attack.
            reset = await field(client, START_RESET, {"email": email}, ip=owner)
            owners_code = await reset_code(mailbox, email)
            # Three clients, five wrong codes each at flows of their own: the ceiling (10) is met.
            answers = []
            for _ in range(3):
                ip = new_ip()
                mails = len(mailbox.received(email))
                started = await field(client, START_RESET, {"email": email}, ip=ip)
                if started["__typename"] != "PasswordResetStarted":
                    answers.append(started["__typename"])
                    continue
                await mailbox.wait_for(email, mails + 1)
                real = await reset_code(mailbox, email)
                for guess in wrong_codes(real, 5):
                    variables = {"id": started["resetId"], "code": guess, "password": NEW_PASSWORD}
                    answers.append((await field(client, COMPLETE_RESET, variables, ip=ip))["__typename"])
            # Ten wrong codes compared; the third client starts nothing.
            assert answers == ["InvalidCode"] * 10 + ["RateLimited"], answers
            # No new flow for the address from anyone now, the owner included...
            assert_rate_limited(await field(client, START_RESET, {"email": email}, ip=new_ip()), 3600, 86_400)
            assert_rate_limited(
                await field(client, START_CODE_LOGIN, {"email": email}, ip=owner), 3600, 86_400
            )
            # ...but the flow the owner had open still takes its right code.
            variables = {"id": reset["resetId"], "code": owners_code, "password": NEW_PASSWORD}
            done = await field(client, COMPLETE_RESET, variables, ip=owner)
            assert done["__typename"] == "AuthPayload", done
    names = [event["event"] for event in events]
    assert names.count("code_failures_ceiling") == 1, names
