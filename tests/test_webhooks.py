"""Webhooks: events from the flows, signed per Standard Webhooks (checked with the
`standardwebhooks` library, not our own code), delivered at least once through the durable
queue to a real HTTP receiver, retried, rotated, and never sent where SSRF would reach."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from conftest import TOTP_NOW, Mailbox, captured_security_events, serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, PASSWORD, PROFILE, UPDATE_PROFILE, data, new_email, register
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from receiver import Arrival, Receiver, receiving
from served import served
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from test_attacks import (
    CHANGE_PASSWORD,
    CONFIRM_EMAIL_CHANGE,
    CONFIRM_TOTP,
    DELETE_ACCOUNT,
    DISABLE_TOTP,
    EMAIL_CHANGE_SUBJECT,
    ENROLL_TOTP,
    LOGOUT,
    REFRESH,
    START_EMAIL_CHANGE,
    reset_code,
)
from test_password_reset import complete_reset, started_reset

from documents.webhook import DELIVERIES_SUFFIX, ENDPOINTS_SUFFIX
from embedded import free_port
from security.keyring import KeyRing
from settings import Settings
from webhooks import events
from webhooks.addresses import AddressRefused, resolve
from webhooks.endpoints import EndpointStore

ALL = list(events.EVENT_TYPES)


def fast(backend_urls: dict[str, str], mailbox: Mailbox, **overrides: Any) -> Settings:
    """Settings whose sender looks for due deliveries often, and that may call loopback."""
    return settings_with(
        backend_urls, mailbox, webhook_allow_private=True, outbox_poll_seconds=0.05, **overrides
    )


@asynccontextmanager
async def app_with(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, EndpointStore, Any]]:
    async with serve_app(settings) as (client, app):
        services = app.state.services
        yield (
            client,
            services.webhooks.endpoints,
            services.mongo[settings.mongo_db][settings.outbox_collection + DELIVERIES_SUFFIX],
        )


def verified(arrival: Arrival, *secrets: str) -> dict[str, Any]:
    """The body, once each secret's signature checks out with the standardwebhooks library."""
    payloads = [Webhook(secret).verify(arrival.body, arrival.headers) for secret in secrets]
    return payloads[0]


def about(user_id: str, event: str | None = None):  # noqa: ANN201 - a predicate
    def holds(arrival: Arrival) -> bool:
        body = arrival.json()
        return body["data"]["user"]["id"] == user_id and (event is None or body["type"] == event)

    return holds


async def hurry(deliveries: Any) -> None:
    """Deliveries put back for a retry are due now, as if their delay had passed."""
    await deliveries.update_many({"state": "queued", "lease_ms": 0}, {"$set": {"due_ms": 0}})


async def settled(deliveries: Any, query: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """The delivery matching `query` once it is sent or abandoned (retries hurried along)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await deliveries.find_one({**query, "state": {"$in": ["sent", "abandoned"]}})
        if found is not None:
            return found
        assert time.monotonic() < deadline, await deliveries.find_one(query)
        await hurry(deliveries)
        await asyncio.sleep(0.05)


def counter(name: str, endpoint: str, outcome: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_total", {"endpoint": endpoint, "outcome": outcome}) or 0.0


async def test_every_flow_sends_its_event_signed_and_without_a_secret(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver()
    async with receiving(receiver) as port, app_with(fast(backend_urls, mailbox)) as (client, store, _):
        saved = await store.create(f"http://127.0.0.1:{port}/hook", ALL, "everything")
        assert saved.secret is not None and saved.secret.startswith("whsec_")
        email = new_email()
        signed_up = await register(client, mailbox, email)
        token = signed_up["accessToken"]
        user_id = signed_up["user"]["id"]
        await data(client, UPDATE_PROFILE, {"input": {"firstName": "Grace"}}, token)
        login = await data(client, LOGIN, {"email": email, "password": PASSWORD})
        await data(client, LOGOUT, token=login["accessToken"])
        new_password = PASSWORD + " again"
        changed = await data(client, CHANGE_PASSWORD, {"current": PASSWORD, "new": new_password}, token)
        assert changed["__typename"] == "AuthPayload"
        token = (await data(client, LOGIN, {"email": email, "password": new_password}))["accessToken"]
        new_address = new_email()
        started = await data(
            client, START_EMAIL_CHANGE, {"email": new_address, "password": new_password}, token
        )
        code = await reset_code(mailbox, new_address, subject=EMAIL_CHANGE_SUBJECT)
        confirmed = await data(client, CONFIRM_EMAIL_CHANGE, {"id": started["changeId"], "code": code}, token)
        assert confirmed["__typename"] == "EmailChanged", confirmed
        deleted = await data(client, DELETE_ACCOUNT, {"password": new_password}, token)
        assert deleted["__typename"] == "AccountDeleted"

        arrivals = await receiver.wait_for(9, where=about(user_id))
        bodies = [verified(arrival, saved.secret) for arrival in arrivals]
        kinds = [body["type"] for body in bodies]
        assert sorted(kinds) == sorted(
            [
                "user.created",
                "session.created",  # the registration's own sign-in
                "user.updated",
                "session.created",
                "session.revoked",
                "password.changed",
                "session.created",
                "email.changed",
                "user.deleted",
            ]
        ), kinds
        assert kinds[0] == "user.created" and kinds[-1] == "user.deleted"
        by_type = {body["type"]: body for body in bodies}
        created = by_type["user.created"]
        assert created["data"]["user"] == {
            "id": user_id,
            "email": email,
            "firstName": PROFILE["firstName"],
            "lastName": PROFILE["lastName"],
            "phone": signed_up["user"]["phone"],
            "createdAt": created["data"]["user"]["createdAt"],
            "updatedAt": created["data"]["user"]["updatedAt"],
        }
        assert created["timestamp"].endswith("Z") and "T" in created["timestamp"]
        assert by_type["user.updated"]["data"]["changed"] == ["firstName"]
        assert by_type["user.updated"]["data"]["user"]["firstName"] == "Grace"
        assert by_type["session.revoked"]["data"]["sessions"] == [login["sessionId"]]
        assert by_type["email.changed"]["data"] == {
            "user": {"id": user_id, "email": new_address},
            "previous_email": email,
        }
        sessions = [body for body in bodies if body["type"] == "session.created"]
        assert login["sessionId"] in [body["data"]["session"]["id"] for body in sessions]
        assert all(body["data"]["amr"] for body in sessions)
        # Never a secret: no password, hash, token or code in any body.
        for arrival in arrivals:
            text = arrival.body.decode()
            for secret in (
                PASSWORD,
                new_password,
                token,
                login["refreshToken"],
                code,
                "argon2",
                "password_hash",
            ):
                assert secret not in text
        assert len({arrival.headers["webhook-id"] for arrival in arrivals}) == 9


async def test_two_factor_and_password_reset_events(backend_urls: dict[str, str], mailbox: Mailbox) -> None:
    receiver = Receiver()
    async with receiving(receiver) as port, app_with(fast(backend_urls, mailbox)) as (client, store, _):
        kinds = [events.TWO_FACTOR_ENABLED, events.TWO_FACTOR_DISABLED, events.PASSWORD_RESET]
        saved = await store.create(f"http://127.0.0.1:{port}/hook", kinds)
        email = new_email()
        signed_up = await register(client, mailbox, email)
        token, user_id = signed_up["accessToken"], signed_up["user"]["id"]
        secret = (await data(client, ENROLL_TOTP, {"password": PASSWORD}, token))["secret"]
        totp = pyotp.TOTP(secret)
        enabled = await data(client, CONFIRM_TOTP, {"code": totp.at(TOTP_NOW)}, token)
        assert enabled["__typename"] == "TotpEnabled", enabled
        disabled = await data(
            client, DISABLE_TOTP, {"password": PASSWORD, "code": totp.at(TOTP_NOW + 30)}, token
        )
        assert disabled["__typename"] == "TotpDisabled", disabled
        reset_id = await started_reset(client, email)
        reset = await complete_reset(client, reset_id, await reset_code(mailbox, email), PASSWORD + " reset")
        assert reset["__typename"] == "AuthPayload", reset
        arrivals = await receiver.wait_for(3, where=about(user_id))
        assert sorted(verified(arrival, saved.secret)["type"] for arrival in arrivals) == sorted(kinds)
        # Only the events the endpoint asked for: no user.created, no session.created.
        await asyncio.sleep(0.3)
        assert len([arrival for arrival in receiver.arrived if about(user_id)(arrival)]) == 3


async def test_sessions_ended_in_bulk_or_by_a_reused_token_are_reported(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver()
    settings = fast(backend_urls, mailbox, refresh_reuse_grace_seconds=0)
    async with receiving(receiver) as port, app_with(settings) as (client, store, _):
        saved = await store.create(f"http://127.0.0.1:{port}/hook", [events.SESSION_REVOKED])
        email = new_email()
        signed_up = await register(client, mailbox, email)
        token, user_id = signed_up["accessToken"], signed_up["user"]["id"]
        others = [await data(client, LOGIN, {"email": email, "password": PASSWORD}) for _ in range(2)]
        # A password change ends every other session at once.
        new_password = PASSWORD + " again"
        changed = await data(client, CHANGE_PASSWORD, {"current": PASSWORD, "new": new_password}, token)
        assert changed["__typename"] == "AuthPayload", changed
        [ended] = await receiver.wait_for(1, where=about(user_id))
        assert sorted(verified(ended, saved.secret)["data"]["sessions"]) == sorted(
            other["sessionId"] for other in others
        )
        # A refresh token presented twice ends its session (reuse detection).
        stolen = await data(client, LOGIN, {"email": email, "password": new_password})
        assert (await data(client, REFRESH, {"token": stolen["refreshToken"]}))["__typename"] == "AuthPayload"
        reused = await data(client, REFRESH, {"token": stolen["refreshToken"]})
        assert reused["__typename"] == "InvalidRefreshToken", reused
        arrivals = await receiver.wait_for(2, where=about(user_id))
        assert verified(arrivals[-1], saved.secret)["data"]["sessions"] == [stolen["sessionId"]]


async def test_a_failing_receiver_gets_the_same_webhook_id_on_every_retry(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver(statuses=[500, 503])
    async with (
        receiving(receiver) as port,
        app_with(fast(backend_urls, mailbox)) as (client, store, deliveries),
    ):
        saved = await store.create(f"http://127.0.0.1:{port}/hook", [events.USER_CREATED])
        endpoint = str(saved.endpoint.id)
        retried = counter("authql_webhook_deliveries", endpoint, "retried")
        user_id = (await register(client, mailbox))["user"]["id"]
        record = await settled(deliveries, {"endpoint_id": endpoint})
        assert record["state"] == "sent" and record["attempts"] == 3
        arrivals = receiver.arrived
        assert len(arrivals) == 3
        assert {arrival.headers["webhook-id"] for arrival in arrivals} == {record["webhook_id"]}
        assert {arrival.body for arrival in arrivals} == {arrivals[0].body}  # the same event
        for arrival in arrivals:
            assert verified(arrival, saved.secret)["data"]["user"]["id"] == user_id
        assert counter("authql_webhook_deliveries", endpoint, "retried") == retried + 2
        assert counter("authql_webhook_deliveries", endpoint, "delivered") == 1
        latency = REGISTRY.get_sample_value("authql_webhook_seconds_count", {"endpoint": endpoint})
        assert latency == 3
        stored = await store.get(endpoint)
        assert stored is not None and stored.failures_in_a_row == 0 and stored.last_delivery_ms
        assert record.get("sealed") is None  # a delivered body is not kept


async def test_a_receiver_that_was_down_gets_the_event_later(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    port = free_port()  # nobody listens there yet
    async with app_with(fast(backend_urls, mailbox)) as (client, store, deliveries):
        saved = await store.create(f"http://127.0.0.1:{port}/hook", [events.USER_CREATED])
        endpoint = str(saved.endpoint.id)
        user_id = (await register(client, mailbox))["user"]["id"]
        deadline = time.monotonic() + 10
        while not (
            found := await deliveries.find_one({"endpoint_id": endpoint, "last_error": {"$ne": None}})
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert found["state"] == "queued" and "request failed" in found["last_error"]
        receiver = Receiver()
        async with receiving(receiver, port):
            record = await settled(deliveries, {"endpoint_id": endpoint})
            assert record["state"] == "sent"
            (arrival,) = receiver.arrived
            assert verified(arrival, saved.secret)["data"]["user"]["id"] == user_id
            assert arrival.headers["webhook-id"] == found["webhook_id"]


async def test_a_delivery_is_abandoned_after_the_last_try_and_the_endpoint_disabled(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver(status=500)
    settings = fast(backend_urls, mailbox, webhook_max_attempts=2, webhook_disable_after_failures=3)
    async with receiving(receiver) as port, app_with(settings) as (client, store, deliveries):
        saved = await store.create(
            f"http://127.0.0.1:{port}/hook", [events.USER_CREATED, events.SESSION_CREATED]
        )
        endpoint = str(saved.endpoint.id)
        with captured_security_events() as logged:
            await register(client, mailbox)  # two events: four failed tries, the third disables
            first = await settled(deliveries, {"endpoint_id": endpoint, "event": events.USER_CREATED})
            second = await settled(deliveries, {"endpoint_id": endpoint, "event": events.SESSION_CREATED})
        assert first["state"] == second["state"] == "abandoned"
        assert first["last_error"] == "answered 500" or second["last_error"] == "answered 500"
        assert counter("authql_webhook_deliveries", endpoint, "abandoned") == 2
        names = [event["event"] for event in logged]
        assert "webhook_endpoint_disabled" in names
        abandoned = [event for event in logged if event["event"] == "webhook_abandoned"]
        assert {event["type"] for event in abandoned} == {events.USER_CREATED, events.SESSION_CREATED}
        stored = await store.get(endpoint)
        assert stored is not None and not stored.enabled and stored.failures_in_a_row >= 3
        # A disabled endpoint gets nothing; enabled again, it starts its count afresh.
        before = len(receiver.arrived)
        await register(client, mailbox)
        await asyncio.sleep(0.3)
        assert len(receiver.arrived) <= before + 1  # at most a try that was in flight
        again = await store.update(endpoint, enabled=True)
        assert again is not None and again.endpoint.enabled and again.endpoint.failures_in_a_row == 0


async def test_a_slow_endpoint_delays_neither_mail_nor_other_endpoints(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    slow, quick = Receiver(delay=8), Receiver()
    async with (
        receiving(slow) as slow_port,
        receiving(quick) as quick_port,
        app_with(fast(backend_urls, mailbox)) as (client, store, _),
    ):
        await store.create(f"http://127.0.0.1:{slow_port}/slow", ALL)
        saved = await store.create(f"http://127.0.0.1:{quick_port}/quick", ALL)
        # Three accounts: every mail (their codes) arrives, and every event reaches the
        # quick endpoint within moments of happening, while the slow one holds a delivery
        # for 8 s at a time.
        users = [(await register(client, mailbox))["user"]["id"] for _ in range(3)]
        for user_id in users:
            arrivals = await quick.wait_for(2, where=about(user_id), timeout=6)
            for arrival in arrivals:
                happened = datetime.fromisoformat(verified(arrival, saved.secret)["timestamp"])
                assert arrival.at - happened.timestamp() < 3
        assert slow.arrived and all(arrival.at - slow.arrived[0].at < 16 for arrival in slow.arrived)


async def test_a_rotated_secret_signs_beside_the_old_one(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver()
    async with receiving(receiver) as port, app_with(fast(backend_urls, mailbox)) as (client, store, _):
        saved = await store.create(f"http://127.0.0.1:{port}/hook", [events.USER_CREATED])
        old = saved.secret
        rotated = await store.update(str(saved.endpoint.id), rotate_secret=True)
        assert rotated is not None and rotated.secret is not None and rotated.secret != old
        user_id = (await register(client, mailbox))["user"]["id"]
        (arrival,) = await receiver.wait_for(1, where=about(user_id))
        assert len(arrival.headers["webhook-signature"].split(" ")) == 2
        verified(arrival, rotated.secret, old)  # both a receiver on the old and one on the new accept it
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(arrival.body, arrival.headers)
        # The secret is sealed at rest.
        raw = await store._collection.find_one({"_id": saved.endpoint.id})  # noqa: SLF001
        assert old not in json.dumps(raw, default=str) and rotated.secret not in json.dumps(raw, default=str)


# SSRF


async def test_loopback_is_refused_by_default_even_by_name(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver()
    settings = settings_with(backend_urls, mailbox, outbox_poll_seconds=0.05)  # WEBHOOK_ALLOW_PRIVATE unset
    assert settings.webhook_allow_private is False
    async with receiving(receiver) as port, app_with(settings) as (client, store, deliveries):
        assert store.problems(url=f"http://127.0.0.1:{port}/hook") == {
            "url": "Plain http:// is refused: use https://."
        }
        # `localhost` is a name (in /etc/hosts) that resolves to a loopback address.
        saved = await store.create(f"https://localhost:{port}/hook", [events.USER_CREATED])
        await register(client, mailbox)
        deadline = time.monotonic() + 10
        endpoint = str(saved.endpoint.id)
        while not (
            found := await deliveries.find_one({"endpoint_id": endpoint, "last_error": {"$ne": None}})
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert "non-public address" in found["last_error"], found["last_error"]
        assert receiver.arrived == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.4/hook",
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata address
        "https://[fd00:ec2::254]/",  # AWS's IPv6 metadata address
        "https://100.64.0.1/",  # shared address space
        "https://0.0.0.0/",
        "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://93.184.215.14/",  # plain http, even to a public address
        "ftp://93.184.215.14/",
    ],
)
async def test_ssrf_targets_are_refused(url: str) -> None:
    with pytest.raises(AddressRefused):
        await resolve(url, allow_private=False)


async def test_the_request_goes_to_the_checked_address_with_the_name_as_host() -> None:
    target = await resolve("https://93.184.215.14:8443/hook?x=1", allow_private=False)
    assert str(target.url) == "https://93.184.215.14:8443/hook?x=1" and target.host == "93.184.215.14:8443"
    target = await resolve("http://localhost:9/hook", allow_private=True)
    assert {url.host for url in target.urls} <= {"127.0.0.1", "::1"} and target.host == "localhost:9"


async def test_a_name_is_called_at_its_checked_address_with_its_name_as_host(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    receiver = Receiver()
    async with receiving(receiver) as port, app_with(fast(backend_urls, mailbox)) as (client, store, _):
        saved = await store.create(f"http://localhost:{port}/by-name", [events.USER_CREATED])
        user_id = (await register(client, mailbox))["user"]["id"]
        (arrival,) = await receiver.wait_for(1, where=about(user_id))
        assert arrival.headers["host"] == f"localhost:{port}" and arrival.path == "/by-name"
        verified(arrival, saved.secret)


async def test_redirects_are_not_followed_and_long_answers_are_cut(
    backend_urls: dict[str, str], mailbox: Mailbox
) -> None:
    elsewhere = Receiver()
    long_answer = Receiver(answer="x" * 2_000_000)
    async with (
        receiving(elsewhere) as elsewhere_port,
        receiving(long_answer) as long_port,
        app_with(fast(backend_urls, mailbox)) as (client, store, deliveries),
    ):
        redirecting = Receiver(status=307, headers={"location": f"http://127.0.0.1:{elsewhere_port}/"})
        async with receiving(redirecting) as port:
            moved = await store.create(f"http://127.0.0.1:{port}/hook", [events.USER_CREATED])
            long = await store.create(f"http://127.0.0.1:{long_port}/hook", [events.USER_CREATED])
            await register(client, mailbox)
            deadline = time.monotonic() + 10
            while not (
                found := await deliveries.find_one(
                    {"endpoint_id": str(moved.endpoint.id), "last_error": {"$ne": None}}
                )
            ):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert found["last_error"] == "answered 307"
            assert elsewhere.arrived == []
            record = await settled(deliveries, {"endpoint_id": str(long.endpoint.id)})
            assert record["state"] == "sent"


async def test_two_workers_deliver_each_event_once(
    backend_urls: dict[str, str], mailbox: Mailbox, tmp_path: Path
) -> None:
    receiver = Receiver()
    settings = fast(backend_urls, mailbox)
    store = EndpointStore(
        AsyncMongoClient(settings.mongo_url)[settings.mongo_db][
            settings.outbox_collection + ENDPOINTS_SUFFIX
        ],
        KeyRing.from_settings(settings),
        allow_private=True,
    )
    async with receiving(receiver) as port:
        saved = await store.create(f"http://127.0.0.1:{port}/hook", [events.SESSION_CREATED])
        async with (
            served(settings, tmp_path / "server.log", arguments=["--workers", "2"]) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            email = new_email()
            await register(client, mailbox, email)
            logins = await asyncio.gather(
                *(data(client, LOGIN, {"email": email, "password": PASSWORD}) for _ in range(12))
            )
            sessions = {login["sessionId"] for login in logins}
            arrivals = await receiver.wait_for(13, timeout=30)
            await asyncio.sleep(1)  # a second copy, were there one, has had time to come
        delivered = [verified(arrival, saved.secret)["data"]["session"]["id"] for arrival in receiver.arrived]
        assert len(delivered) == len(set(delivered)) == 13, delivered
        assert sessions <= set(delivered)
        assert len({arrival.headers["webhook-id"] for arrival in arrivals}) == 13
