"""GET /metrics: what an operator scraping authql sees after real traffic, who may scrape
it, and the counts of several `uvicorn --workers` processes adding up."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest
from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, ME, PASSWORD, START, gql, new_email, register
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from served import served

from embedded import free_port
from settings import load_settings

TOKEN = "metrics-token-for-the-tests-0123456789"
START_PASSWORD_RESET = """mutation($email: String!) { startPasswordReset(email: $email) {
  __typename ... on RateLimited { retryAfterSeconds } } }"""


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, token: str | None = TOKEN) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version="), response.headers
    return samples(response.text)


def metrics_on(backend_urls, mailbox, **overrides):
    return settings_with(backend_urls, mailbox, metrics_token=TOKEN, **overrides)


async def test_a_login_and_a_failed_login_show_in_the_metrics(backend_urls, mailbox):
    async with serve(metrics_on(backend_urls, mailbox)) as client:
        email = new_email()
        await register(client, mailbox, email)
        before = await scrape(client)

        signed_in = await gql(client, LOGIN, {"email": email, "password": PASSWORD})
        assert signed_in["data"]["login"]["__typename"] == "AuthPayload", signed_in
        failed = await gql(client, LOGIN, {"email": email, "password": "not the password at all"})
        assert failed["data"]["login"]["__typename"] == "InvalidCredentials", failed
        anonymous = await gql(client, ME)
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", anonymous
        # A client-chosen operation name never becomes a label: the root field does.
        named = await client.post(
            "/graphql",
            json={"query": "query Whatever { me { id } }", "operationName": "Whatever"},
        )
        assert named.status_code == 200, named.text
        broken = await client.post("/graphql", json={"query": "mutation { login("})
        assert broken.status_code == 400, broken.text
        after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    operations = "authql_graphql_operations_total"
    assert grew(operations, operation="login", outcome="AuthPayload") == 1
    assert grew(operations, operation="login", outcome="InvalidCredentials") == 1
    assert grew(operations, operation="me", outcome="UNAUTHENTICATED") == 2
    assert not any(labels and ("operation", "Whatever") in labels for _, labels in after)
    assert grew("authql_graphql_operation_seconds_count", operation="login") == 2
    assert grew("authql_graphql_requests_refused_total", code="GRAPHQL_PARSE_FAILED") == 1
    assert grew("authql_password_hash_seconds_count", kind="verify") >= 2
    assert grew("authql_sessions_opened_total") == 1
    assert value(after, "authql_password_hashes_waiting") == 0


async def test_rate_limits_lockouts_and_revoked_sessions_are_counted(backend_urls, mailbox):
    settings = metrics_on(
        backend_urls, mailbox, login_lockout_threshold=3, rate_limit_start_password_reset="1/minute"
    )
    async with serve(settings) as client:
        email = new_email()
        payload = await register(client, mailbox, email)
        before = await scrape(client)

        answers = [
            (await gql(client, START_PASSWORD_RESET, {"email": new_email()}))["data"]["startPasswordReset"]
            for _ in range(2)
        ]
        limited = sum(answer["__typename"] == "RateLimited" for answer in answers)
        assert limited >= 1, answers
        for _ in range(3):
            await gql(client, LOGIN, {"email": email, "password": "wrong password, again"})
        locked = await gql(client, LOGIN, {"email": email, "password": PASSWORD})
        assert locked["data"]["login"]["__typename"] == "RateLimited", locked
        logout = await gql(client, "mutation { logout { revokedSessions } }", token=payload["accessToken"])
        assert logout["data"]["logout"]["revokedSessions"] == 1, logout
        after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("authql_rate_limited_total", operation="startPasswordReset") == limited
    assert grew("authql_graphql_operations_total", operation="startPasswordReset", outcome="RateLimited") == (
        limited
    )
    assert grew("authql_lockouts_total", operation="login") == 1
    assert grew("authql_lockout_refusals_total", operation="login") == 1
    assert grew("authql_sessions_revoked_total") == 1


async def test_backend_outages_are_counted_by_backend(backend_urls, mailbox):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with serve(metrics_on(backend_urls, mailbox, redis_url=dead_redis)) as client:
        before = await scrape(client)
        answer = await gql(client, START, {"email": new_email()})
        assert answer["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", answer
        after = await scrape(client)
    assert (
        value(after, "authql_backend_errors_total", backend="redis")
        - value(before, "authql_backend_errors_total", backend="redis")
        == 1
    )
    assert (
        value(
            after,
            "authql_graphql_operations_total",
            operation="startRegistration",
            outcome="SERVICE_UNAVAILABLE",
        )
        - value(
            before,
            "authql_graphql_operations_total",
            operation="startRegistration",
            outcome="SERVICE_UNAVAILABLE",
        )
        == 1
    )


async def test_an_smtp_outage_shows_in_the_outbox_metrics(backend_urls, mailbox):
    # The request answers as usual; the outbox counts the failed try and the waiting mail.
    async with serve(metrics_on(backend_urls, mailbox, smtp_port=free_port())) as client:
        before = await scrape(client)
        answer = await gql(client, START, {"email": new_email()})
        assert answer["data"]["startRegistration"]["__typename"] == "RegistrationStarted", answer
        for _ in range(100):
            after = await scrape(client)
            if value(after, "authql_outbox_depth") == 1 and value(after, "authql_outbox_oldest_seconds") > 0:
                break
            await asyncio.sleep(0.1)
    assert value(after, "authql_mails_retried_total") - value(before, "authql_mails_retried_total") >= 1
    assert value(after, "authql_mails_sent_total") == value(before, "authql_mails_sent_total")
    assert value(after, "authql_outbox_depth") == 1
    assert 0 < value(after, "authql_outbox_oldest_seconds") < 60


async def test_the_metrics_token_is_required_when_set(backend_urls, mailbox):
    async with serve(metrics_on(backend_urls, mailbox)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401, (headers, response.text)
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert response.headers["www-authenticate"] == "Bearer"
            assert "authql_" not in response.text
        await scrape(client, TOKEN)


async def test_metrics_off_answers_404(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, metrics=False, metrics_token=TOKEN)) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404, response.text
        assert "authql_" not in response.text


async def test_with_mongo_url_and_no_token_metrics_are_off_unless_asked_for(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox)) as client:
        assert (await client.get("/metrics")).status_code == 404
    async with serve(settings_with(backend_urls, mailbox, metrics=True)) as client:
        await scrape(client, token=None)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, True),  # the embedded default
        ({"MONGO_URL": "mongodb://db:27017", "SMTP_HOST": "mail"}, False),
        ({"MONGO_URL": "mongodb://db:27017", "SMTP_HOST": "mail", "METRICS_TOKEN": TOKEN}, True),
        ({"MONGO_URL": "mongodb://db:27017", "SMTP_HOST": "mail", "METRICS": "true"}, True),
        ({"METRICS": "false"}, False),
    ],
)
def test_metrics_default(monkeypatch, variables, expected):
    for name in ("MONGO_URL", "SMTP_HOST", "METRICS", "METRICS_TOKEN", "JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    if "MONGO_URL" in variables:
        monkeypatch.setenv("JWT_SECRET", "x" * 32)
    for name, setting in variables.items():
        monkeypatch.setenv(name, setting)
    assert load_settings(_env_file=None).metrics is expected


def test_a_short_metrics_token_stops_the_start(monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "short")
    with pytest.raises(Exception, match="METRICS_TOKEN"):
        load_settings(_env_file=None)


# ---------------------------------------------------------------- uvicorn --workers 2

ME_QUERY = {"query": "{ me { id } }"}


def count_in(directory: Path, files: list[Path]) -> float:
    """The `me` UNAUTHENTICATED count of just these workers' files, read as a scrape would."""
    directory.mkdir()
    for file in files:
        shutil.copy(file, directory / file.name)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return (
        registry.get_sample_value(
            "authql_graphql_operations_total", {"operation": "me", "outcome": "UNAUTHENTICATED"}
        )
        or 0.0
    )


@pytest.mark.subprocess
async def test_two_workers_counts_add_up(backend_urls, mailbox, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    settings = metrics_on(backend_urls, mailbox)
    async with served(
        settings,
        tmp_path / "server.log",
        arguments=["--workers", "2"],
        variables={"PROMETHEUS_MULTIPROC_DIR": str(directory)},
    ) as url:
        sent = 0
        per_worker: list[float] = []
        for _ in range(20):  # until both workers have answered some (the kernel picks)
            # Fresh connections, concurrently: each may be accepted by either worker.
            async def one() -> None:
                async with httpx.AsyncClient(base_url=url) as client:
                    response = await client.post("/graphql", json=ME_QUERY)
                    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

            await asyncio.gather(*(one() for _ in range(20)))
            sent += 20
            counters = sorted(directory.glob("counter_*.db"))
            per_worker = [
                count_in(tmp_path / f"alone-{index}-{sent}", [file]) for index, file in enumerate(counters)
            ]
            if sum(count > 0 for count in per_worker) >= 2:
                break
        assert sum(count > 0 for count in per_worker) == 2, per_worker
        assert sum(per_worker) == sent

        for _ in range(6):  # whichever worker answers the scrape, it reports both
            async with httpx.AsyncClient(base_url=url) as client:
                scraped = await scrape(client)
            assert (
                value(scraped, "authql_graphql_operations_total", operation="me", outcome="UNAUTHENTICATED")
                == sent
            )
