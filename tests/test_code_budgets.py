"""Guessing codes across accounts (N7), notices outside the mail budgets (attack 8),
resent codes during an outage (L10) and app hosts whose clocks disagree (L5).

Real app, real Redis (a private one where a global counter is the point), the SMTP sink;
client IPs come through the trusted proxy. The host clock is moved by patching
`time.time`, which is what an app host's clock is to this code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pytest
from conftest import captured_security_events, text_of
from flows import START, VERIFY, new_email, wrong_codes
from prometheus_client import REGISTRY
from redis_client import redis_client
from test_attacks import (
    COMPLETE_CODE_LOGIN,
    LOGIN_SUBJECT,
    START_CODE_LOGIN,
    app,
    assert_rate_limited,
    field,
    new_ip,
    register,
    reset_code,
)
from test_owner_lockout import end_start_cooldowns

from embedded import start_redis
from mail.messages import NOTICE_SUBJECT
from security import lockout
from security.codes import CodeFlows, CodeIssued
from security.lockout import LoginLockout
from services import code_flows


def limit_count(budget: str) -> float:
    return REGISTRY.get_sample_value("authql_code_limits_total", {"budget": budget}) or 0.0


def notices(mailbox: Any, email: str) -> list[Any]:
    return [message for message in mailbox.received(email) if message["Subject"] == NOTICE_SUBJECT]


def login_mails(mailbox: Any, email: str) -> int:
    return sum(1 for message in mailbox.received(email) if message["Subject"] == LOGIN_SUBJECT)


async def code_sign_in(
    client: Any, mailbox: Any, urls: Mapping[str, Any], email: str, ip: str
) -> dict[str, Any]:
    """A whole sign-in by code from `ip` (its start cooldown ended first), signed in."""
    await end_start_cooldowns(urls, ip)
    mails = login_mails(mailbox, email)
    started = await field(client, START_CODE_LOGIN, {"email": email}, ip=ip)
    assert started["__typename"] == "CodeLoginStarted", started
    deadline = time.monotonic() + 10
    while login_mails(mailbox, email) == mails:
        assert time.monotonic() < deadline, "no sign-in mail"
        await asyncio.sleep(0.02)
    code = await reset_code(mailbox, email, subject=LOGIN_SUBJECT)
    done = await field(client, COMPLETE_CODE_LOGIN, {"id": started["loginId"], "code": code}, ip=ip)
    assert done["__typename"] == "AuthPayload", done
    return done


# ---------------------------------------------------------------- N7: guessing across accounts


async def test_one_client_guessing_across_addresses_meets_its_budget(backend_urls, mailbox):
    with captured_security_events() as events:
        async with app(backend_urls, mailbox, code_failures_per_ip_per_hour=6) as client:
            guesser = new_ip()
            answers = []
            for _ in range(3):  # two wrong codes at each of three addresses
                email = new_email()
                started = await field(client, START, {"email": email}, ip=new_ip())
                for guess in wrong_codes(await mailbox.code_for(email), 2):
                    variables = {"id": started["registrationId"], "code": guess}
                    answers.append((await field(client, VERIFY, variables, ip=guesser))["__typename"])
            assert answers == ["InvalidCode"] * 6, answers
            # A fourth address: even its right code is not compared for this client...
            email = new_email()
            started = await field(client, START, {"email": email}, ip=new_ip())
            code = await mailbox.code_for(email)
            variables = {"id": started["registrationId"], "code": code}
            assert_rate_limited(await field(client, VERIFY, variables, ip=guesser), 3500, 3600)
            # ...and spent no attempt: the same code verifies from another client.
            verified = await field(client, VERIFY, variables, ip=new_ip())
            assert verified["__typename"] == "RegistrationVerified", verified
    refused = [event["budget"] for event in events if event["event"] == "code_budget_refused"]
    assert refused == ["client_code_failures"], refused


async def test_the_wrong_code_breaker_trips_with_an_event_and_stops_new_flows(
    backend_urls, mailbox, tmp_path
):
    redis = start_redis(tmp_path)  # a private Redis: the breaker's key is global to a Redis
    before = limit_count("code_breaker")
    try:
        with captured_security_events() as events:
            async with app(backend_urls, mailbox, redis_url=redis.url, code_failures_per_hour=5) as client:
                email = new_email()
                started = await field(client, START, {"email": email}, ip=new_ip())
                for guess in wrong_codes(await mailbox.code_for(email), 5):
                    variables = {"id": started["registrationId"], "code": guess}
                    assert (await field(client, VERIFY, variables, ip=new_ip()))[
                        "__typename"
                    ] == "InvalidCode"
                # Tripped: no new flow starts, for any address, from any client.
                assert_rate_limited(
                    await field(client, START, {"email": new_email()}, ip=new_ip()), 3500, 3600
                )
        names = [event["event"] for event in events]
        assert names.count("code_breaker_tripped") == 1, names
        refused = [event["budget"] for event in events if event["event"] == "code_budget_refused"]
        assert refused == ["code_breaker"], refused
        assert limit_count("code_breaker") == before + 2  # the trip, and the refusal
    finally:
        redis.stop()


async def test_the_mail_breaker_is_named_in_the_log_and_the_metrics(backend_urls, mailbox, tmp_path):
    redis = start_redis(tmp_path)
    before = limit_count("mail_breaker")
    try:
        with captured_security_events() as events:
            async with app(backend_urls, mailbox, redis_url=redis.url, mails_per_hour=1) as client:
                first = await field(client, START, {"email": new_email()}, ip=new_ip())
                assert first["__typename"] == "RegistrationStarted", first
                assert_rate_limited(
                    await field(client, START, {"email": new_email()}, ip=new_ip()), 3500, 3600
                )
        refused = [event["budget"] for event in events if event["event"] == "code_budget_refused"]
        assert refused == ["mail_breaker"], refused
        assert limit_count("mail_breaker") == before + 1
    finally:
        redis.stop()


async def test_a_sign_in_by_code_from_a_new_client_mails_the_owner_a_notice(backend_urls, mailbox):
    async with app(backend_urls, mailbox) as client:
        home = new_ip()
        email, _ = await register(client, mailbox, home)
        # From the client the account signed up from: no notice.
        assert (await code_sign_in(client, mailbox, backend_urls, email, home))["__typename"] == "AuthPayload"
        # From another one: the owner hears of it, with where it came from.
        elsewhere = new_ip()
        assert (await code_sign_in(client, mailbox, backend_urls, email, elsewhere))[
            "__typename"
        ] == "AuthPayload"
        deadline = time.monotonic() + 10
        while not notices(mailbox, email):
            assert time.monotonic() < deadline, "no notice"
            await asyncio.sleep(0.02)
        (notice,) = notices(mailbox, email)
        assert elsewhere in text_of(notice), text_of(notice)
        # Once: it is a known client now.
        assert (await code_sign_in(client, mailbox, backend_urls, email, elsewhere))[
            "__typename"
        ] == "AuthPayload"
        await asyncio.sleep(0.3)
        assert len(notices(mailbox, email)) == 1


# ---------------------------------------------------------------- attack 8: notices


async def test_notices_are_capped_per_account_and_counted_in_the_mail_budgets(
    backend_urls, mailbox, tmp_path
):
    redis = start_redis(tmp_path)  # a private Redis: the global count is read back
    try:
        with captured_security_events() as events:
            overrides = {"redis_url": redis.url, "notices_per_account_per_hour": 2}
            async with app(backend_urls, mailbox, **overrides) as client:
                email, _ = await register(client, mailbox, new_ip())
                urls = {**backend_urls, "redis_url": redis.url, "redis_cluster": False}
                store = redis_client(urls)
                try:
                    sent_before = int(await store.get("mail-quota:{all}") or 0)
                    clients = [new_ip() for _ in range(3)]
                    for ip in clients:
                        assert (await code_sign_in(client, mailbox, urls, email, ip))[
                            "__typename"
                        ] == "AuthPayload"
                    # Each client's budget holds its code mail and its notice; the global one all six.
                    for ip in clients:
                        assert int(await store.get(f"mail-quota:client:{{{ip}}}") or 0) == 2
                    assert int(await store.get("mail-quota:{all}") or 0) == sent_before + 6
                finally:
                    await store.aclose()
                await asyncio.sleep(0.5)
                assert len(notices(mailbox, email)) == 2
        dropped = [event for event in events if event["event"] == "notice_dropped"]
        assert [event["template"] for event in dropped] == ["new_code_sign_in"], dropped
    finally:
        redis.stop()


# ---------------------------------------------------------------- L10 and L5, on the machinery


@pytest.fixture
async def flows(settings):
    redis = redis_client(settings)
    yield code_flows(redis, settings, "reg", settings.registration_ttl_seconds)
    await redis.aclose()


async def open_flow(flows: CodeFlows) -> CodeIssued:
    async def deliverable() -> bool:
        return True

    async def deliver(issued: CodeIssued) -> None:
        pass

    return await flows.start(new_email(), client=new_ip(), deliverable=deliverable, deliver=deliver)


async def test_two_resends_during_an_outage_each_code_works_once_its_mail_arrives(flows, settings):
    redis = redis_client(settings)
    issued: list[CodeIssued] = []

    async def deliver(code: CodeIssued) -> None:
        issued.append(code)

    try:
        started = await open_flow(flows)
        for _ in range(2):  # two resends while SMTP is down: neither mail has gone out
            await redis.hset(f"reg:{{{started.flow_id}}}", "resend_at_ms", 0)
            await flows.resend(started.flow_id, client=new_ip(), deliver=deliver)
        first, second = issued
        # SMTP is back and the first resend's mail is delivered: its code works.
        await flows.promote(first.flow_id, first.pending_mac or "")
        assert first.code is not None and second.code is not None
        _, flow = await flows.verify(first.flow_id, first.code, client=new_ip())
        assert flow.flow_id == started.flow_id
    finally:
        await redis.aclose()


async def test_a_host_clock_ahead_changes_no_code_expiry(flows, monkeypatch):
    started = await open_flow(flows)  # on a host with the right time
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 700)  # another host, 700 s ahead (codes live 600 s)
    assert started.code is not None
    _, flow = await flows.verify(started.flow_id, started.code, client=new_ip())
    assert flow.flow_id == started.flow_id


async def test_a_host_clock_ahead_prunes_no_other_hosts_lockout_slots(settings, monkeypatch):
    monkeypatch.setattr(lockout, "WAIT_FOR_SLOT_SECONDS", 0.3)
    redis = redis_client(settings)
    guard = LoginLockout(redis, key=b"k" * 32, threshold=3, address_threshold=20)
    email, ip = new_email(), new_ip()
    release = asyncio.Event()
    ran = []

    async def slow() -> bool:
        await release.wait()
        return False

    async def fourth() -> bool:
        ran.append(True)
        return False

    try:
        held = [asyncio.create_task(guard.check(email, slow, client=ip)) for _ in range(3)]
        await asyncio.sleep(0.2)  # the three checks hold every slot, on a host with the right time
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 60)  # another host, 60 s ahead
        checked = await guard.check(email, fourth, client=ip)
        assert checked.refused_for == 1 and ran == [], checked
        release.set()
        await asyncio.gather(*held)
    finally:
        release.set()
        await redis.aclose()
