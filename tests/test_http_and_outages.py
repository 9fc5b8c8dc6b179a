"""What a client sees over HTTP when the request is bad or a backend is down.

DESIGN.md, "Errors": bad requests get 4xx JSON errors with a code; a Redis,
Mongo outage (down or hung) fails fast with SERVICE_UNAVAILABLE, shows in
/health/ready, and heals by itself when the backend is back; an SMTP outage only
delays mail (it waits in the outbox); secrets never reach the logs. Every backend
here is a real process or socket.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import serve
from conftest import (
    test_settings as settings_with,  # renamed so pytest does not collect it
)
from flows import (
    COMPLETE,
    LOGIN,
    PASSWORD,
    PROFILE,
    SET_PASSWORD,
    START,
    VERIFY,
    data,
    new_email,
    register,
)

from embedded import free_port, start_mongo, start_redis

# Exception class names that would mean a backend error leaked to the client.
LEAK_MARKERS = (
    "Traceback",
    "ConnectionError",
    "ConnectionRefused",
    "TimeoutError",
    "ServerSelectionTimeout",
    "AutoReconnect",
    "MailUnavailable",
    "SMTPConnect",
    "redis.exceptions",
    "pymongo.errors",
)


def assert_service_unavailable(response: httpx.Response) -> None:
    """One top-level SERVICE_UNAVAILABLE error, no data, nothing internal in the body."""
    assert response.status_code in (200, 503), response.text
    body = response.json()
    assert body.get("data") is None, body
    errors = body.get("errors")
    assert errors, body
    assert errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
    assert errors[0]["message"], body
    for marker in LEAK_MARKERS:
        assert marker not in response.text, f"{marker!r} leaked to the client: {response.text}"


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> tuple[httpx.Response, float]:
    """POST one operation; the response and how long it took."""
    began = time.monotonic()
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    return response, time.monotonic() - began


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll `check` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.25)


async def starts_ok(client: httpx.AsyncClient) -> bool:
    response = await client.post("/graphql", json={"query": START, "variables": {"email": new_email()}})
    body = response.json()
    return (
        response.status_code == 200
        and not body.get("errors")
        and (body["data"]["startRegistration"]["__typename"] == "RegistrationStarted")
    )


async def is_ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/health/ready")).status_code == 200


async def assert_not_ready(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 503, response.text
    body = response.json()
    assert backend in body["failed"], body


def assert_json_error(response: httpx.Response) -> dict[str, Any]:
    """A 4xx answer whose JSON body carries a message and a code."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["errors"][0]
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["extensions"]["code"], str) and error["extensions"]["code"], error
    return error


# --- bad requests -------------------------------------------------------------------------


async def test_malformed_json_body_is_a_4xx_json_error(client):
    response = await client.post(
        "/graphql", content=b'{"query": ', headers={"Content-Type": "application/json"}
    )
    assert_json_error(response)


async def test_syntax_error_is_400_graphql_parse_failed(client):
    response = await client.post("/graphql", json={"query": "{ me "})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_unknown_field_is_400_graphql_validation_failed(client):
    response = await client.post("/graphql", json={"query": "{ nope }"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_missing_required_variable_is_400_and_says_which(client):
    """The client's own mistake: a 400 that names the variable, not a masked server error."""
    response = await client.post("/graphql", json={"query": START, "variables": {}})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", body
    assert "$email" in error["message"], body


async def test_mutation_over_get_is_refused(client):
    mutation = 'mutation { login(email: "a@b.c", password: "x") { __typename } }'
    response = await client.get("/graphql", params={"query": mutation})
    assert_json_error(response)


async def test_query_over_get_works(client):
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_graphiql_is_served_to_browsers(client):
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_turned_off_is_a_404_json_error(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, graphiql=False)) as client:
        response = await client.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code == 404, response.text
        assert_json_error(response)
        # The API itself still answers.
        assert (await client.get("/graphql", params={"query": "{ __typename }"})).status_code == 200


async def test_stopping_a_second_app_leaves_the_first_working(client, backend_urls, mailbox):
    """Two apps in one process (tests, an embedding host): stopping one must not break the other."""
    async with serve(settings_with(backend_urls, mailbox)) as other:
        assert await starts_ok(other)
    # The session app never stopped: its requests must still work.
    await data(client, START, {"email": new_email()})


# --- health -------------------------------------------------------------------------------


async def test_liveness(client):
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_when_all_backends_are_up(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


# --- outages ------------------------------------------------------------------------------


@pytest.mark.subprocess
async def test_redis_down_fails_fast_and_recovers_on_its_own(backend_urls, mailbox, tmp_path: Path):
    redis = start_redis(tmp_path)
    port = int(redis.url.rsplit(":", 1)[1].split("/")[0])
    try:
        async with serve(settings_with(backend_urls, mailbox, redis_url=redis.url)) as client:
            assert await starts_ok(client)

            redis.stop()
            response, took = await post(client, START, {"email": new_email()})
            assert took < 5, f"startRegistration took {took:.1f} s with Redis down"
            assert_service_unavailable(response)
            await assert_not_ready(client, "redis")

            redis = start_redis(tmp_path, port=port)
            await eventually(
                lambda: starts_ok(client), 10, "startRegistration working again after Redis came back"
            )
            await eventually(lambda: is_ready(client), 10, "/health/ready 200 after Redis came back")
    finally:
        redis.stop()


@pytest.mark.subprocess
async def test_hung_redis_fails_fast(backend_urls, mailbox):
    """Redis that accepts connections and never answers: every call must time out."""
    held: list[asyncio.StreamWriter] = []

    async def accept_and_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    port = free_port()
    server = await asyncio.start_server(accept_and_stall, "127.0.0.1", port)
    try:
        settings = settings_with(backend_urls, mailbox, redis_url=f"redis://127.0.0.1:{port}/0")
        async with serve(settings) as client:
            response, took = await post(client, START, {"email": new_email()})
            assert took < 8, f"startRegistration took {took:.1f} s with Redis hung"
            assert_service_unavailable(response)

            began = time.monotonic()
            await assert_not_ready(client, "redis")
            assert time.monotonic() - began < 8
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.subprocess
async def test_mongo_down_fails_fast_and_recovers_on_its_own(backend_urls, mailbox, tmp_path: Path):
    mongo = start_mongo(tmp_path)
    port = int(mongo.url.rsplit(":", 1)[1])
    try:
        async with serve(settings_with(backend_urls, mailbox, mongo_url=mongo.url)) as client:
            email = (await register(client, mailbox))["user"]["email"]
            credentials = {"email": email, "password": PASSWORD}

            mongo.stop()
            response, took = await post(client, LOGIN, credentials)
            assert took < 8, f"login took {took:.1f} s with Mongo down"
            assert_service_unavailable(response)
            await assert_not_ready(client, "mongo")

            mongo = start_mongo(tmp_path, port=port)

            async def logs_in() -> bool:
                response = await client.post("/graphql", json={"query": LOGIN, "variables": credentials})
                body = response.json()
                return not body.get("errors") and body["data"]["login"]["__typename"] == "AuthPayload"

            await eventually(logs_in, 20, "login working again after Mongo came back")
            await eventually(lambda: is_ready(client), 10, "/health/ready 200 after Mongo came back")
    finally:
        mongo.stop()


async def test_smtp_down_answers_at_once_and_queues_the_mail(backend_urls, mailbox):
    # SMTP is never on a request's path: the mail waits in the outbox (tests/test_outbox.py).
    async with serve(settings_with(backend_urls, mailbox, smtp_port=free_port())) as client:
        response, took = await post(client, START, {"email": new_email()})
        assert took < 5, f"startRegistration took {took:.1f} s with SMTP down"
        assert response.json()["data"]["startRegistration"]["__typename"] == "RegistrationStarted", (
            response.text
        )


# --- logs ---------------------------------------------------------------------------------

# aiosmtpd is the test's mail sink, not authql: it logs what it receives, codes included.
SINK_LOGGERS = ("mail.log", "mail.debug")
WRONG_PASSWORD = "incorrect donkey battery paperclip"


async def test_secrets_never_reach_the_logs(client, mailbox, backend_urls, caplog):
    caplog.set_level(logging.DEBUG)
    email = new_email()
    started = await data(client, START, {"email": email})
    code = await mailbox.code_for(email)
    verified = await data(client, VERIFY, {"id": started["registrationId"], "code": code})
    registration_token = verified["registrationToken"]
    await data(client, SET_PASSWORD, {"token": registration_token, "password": PASSWORD})
    completed = await data(client, COMPLETE, {"token": registration_token, "profile": PROFILE})
    login = await data(client, LOGIN, {"email": email, "password": PASSWORD})
    wrong = await data(client, LOGIN, {"email": email, "password": WRONG_PASSWORD})
    assert wrong["__typename"] == "InvalidCredentials"
    # A code that could not be mailed yet: its mail body must not end up in a log either.
    async with serve(settings_with(backend_urls, mailbox, smtp_port=free_port())) as down:
        queued = (await post(down, START, {"email": new_email()}))[0].json()
        assert queued["data"]["startRegistration"]["__typename"] == "RegistrationStarted", queued

        async def retry_logged() -> bool:
            return any(record.name == "authql.mail.outbox" for record in caplog.records)

        await eventually(retry_logged, 10, "the outbox logging its failed try")

    secrets = {
        "code": code,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "access token": completed["accessToken"],
        "login access token": login["accessToken"],
        "registrationId": started["registrationId"],
        "registrationToken": registration_token,
    }
    records = [record for record in caplog.records if record.name not in SINK_LOGGERS]
    # Not vacuous: authql itself logged the mail it sent and the SMTP outage.
    assert any(record.name.startswith("authql") for record in records), [r.name for r in records]
    for record in records:
        # The handler's formatting includes the message and any traceback (exc_text).
        text = caplog.handler.format(record) + (record.exc_text or "")
        for name, secret in secrets.items():
            assert secret not in text, f"the {name} is in a log record of {record.name}: {text!r}"
        if record.name.startswith("authql"):
            assert not re.search(r"\b\d{6,10}\b", text), f"a code-like number in {record.name}: {text!r}"
