"""Schemathesis fuzzing of the live GraphQL schema over real HTTP, bounded and seeded for CI.

The app runs under uvicorn on a free port in the session's event loop (its lifespan opens
the backends); the fuzzer reads the schema by introspection and sends its cases with
requests from a worker thread. tests/fuzzing/ holds the fuzzer; bench/fuzz.py runs it long:

    ./run --group test python bench/fuzz.py --examples 1000

Every response must keep the error policy (see tests/fuzzing/policy.py `check_response`): status
below 500, a JSON object, every error with an allowed `extensions.code` and never
INTERNAL_SERVER_ERROR or SERVICE_UNAVAILABLE, UNAUTHENTICATED for protected fields without
a token, invalid documents refused, and no exception text. A failure names the shrunk
request and the response.

Cases are derandomized (hypothesis derives the seed from the test), so a run is repeatable
as far as a live server's state allows (and the constants hypothesis mines from the
project's source: an edit elsewhere can change the cases). The app gets its own Redis database, so the mails,
flows and limits the fuzzing creates do not reach the other tests' budgets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import schemathesis
from budget import examples
from conftest import Mailbox
from conftest import test_settings as settings_with
from schemathesis.generation import GenerationMode

from server import create_app
from tests import fuzzing as fuzz

ROOT = Path(__file__).resolve().parent.parent

# Cases per operation (tests/budget.py: AUTHQL_TEST_LONG=1 searches four times as long).
# argon2 is made cheap for the fuzzed app.
EXAMPLES = examples(10, 40)
INVALID_EXAMPLES = examples(5, 20)
SIGNED_IN_EXAMPLES = examples(10, 40)
AUTHORIZATION_EXAMPLES = examples(30, 120)
REQUEST_EXAMPLES = examples(50, 200)

EXPORTED = schemathesis.graphql.from_path(ROOT / "schema.graphql")
OPERATIONS = [result.ok().label for result in EXPORTED.get_all_operations()]
WITH_ARGUMENTS = [
    label for label in OPERATIONS if EXPORTED.find_operation_by_label(label).definition.raw.args
]
PROTECTED = [label for label in OPERATIONS if label.split(".", 1)[1] in fuzz.PROTECTED]


def other_redis_database(url: str) -> str:
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database + 1) % 16}"))


@pytest.fixture(scope="module")
async def target(
    backend_urls: dict[str, str], mailbox: Mailbox, request: pytest.FixtureRequest
) -> AsyncIterator[fuzz.Target]:
    settings = settings_with(
        backend_urls,
        mailbox,
        # A cluster has only database 0: there the fuzzer shares it (every test's limits and
        # caps are generous and keyed apart).
        **fuzz.fuzz_settings(
            {}
            if backend_urls.get("redis_cluster")
            else {"redis_url": other_redis_database(backend_urls["redis_url"])}
        ),
    )
    async with fuzz.serving(create_app(settings)) as base_url:
        read_code, codes = fuzz.mail_readers(lambda: mailbox.messages)
        facts = fuzz.TokenFacts(settings.jwt_issuer, settings.jwt_audience, settings.jwt_secret)
        target = await asyncio.to_thread(fuzz.Target, base_url, read_code=read_code, codes=codes, facts=facts)
        try:
            yield target
        finally:
            target.close()
    report(request.config, target.stats)


def report(config: pytest.Config, stats: fuzz.Stats) -> None:
    """How many cases the run sent (the summary per operation with -v), past output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write("\n")
        reporter.write_line(f"fuzz: {stats.total} cases sent over HTTP")
        if config.get_verbosity() > 0:
            reporter.write_line(stats.summary())


async def test_the_live_schema_offers_the_exported_operations(target: fuzz.Target) -> None:
    assert sorted(target.operations()) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
async def test_valid_documents_anonymously(target: fuzz.Target, label: str) -> None:
    await asyncio.to_thread(target.fuzz_operation, label, examples=EXAMPLES)


@pytest.mark.parametrize("label", WITH_ARGUMENTS)
async def test_invalid_documents_are_refused(target: fuzz.Target, label: str) -> None:
    await asyncio.to_thread(
        target.fuzz_operation, label, mode=GenerationMode.NEGATIVE, examples=INVALID_EXAMPLES
    )


@pytest.mark.parametrize("label", PROTECTED)
async def test_valid_documents_signed_in(target: fuzz.Target, label: str) -> None:
    await asyncio.to_thread(target.fuzz_operation, label, authenticated=True, examples=SIGNED_IN_EXAMPLES)


async def test_authorization_headers(target: fuzz.Target) -> None:
    await asyncio.to_thread(target.fuzz_authorization, AUTHORIZATION_EXAMPLES)


async def test_http_requests(target: fuzz.Target) -> None:
    await asyncio.to_thread(target.fuzz_requests, REQUEST_EXAMPLES, explicit=False)


@pytest.mark.parametrize("name", fuzz.EXPLICIT_REQUESTS)
async def test_requests_the_fuzzer_once_broke_the_server_with(target: fuzz.Target, name: str) -> None:
    """JSON bodies that are not UTF-8 or not an object must be a 400 BAD_REQUEST, not a 500."""
    body = await asyncio.to_thread(target.send_request, fuzz.EXPLICIT_REQUESTS[name])
    assert body is not None and [error["extensions"]["code"] for error in body["errors"]] == ["BAD_REQUEST"]


def errors(*codes: str | None) -> str:
    """A response body with data null and one error per code (None: no extensions)."""
    entries = [{"message": "x", **({"extensions": {"code": code}} if code else {})} for code in codes]
    return json.dumps({"data": None, "errors": entries})


def test_the_policy_check_catches_what_it_should() -> None:
    """The oracle itself: a masked error passes; a 5xx, an unmasked or unknown error, an
    anonymous answer of a protected field and a leaked exception do not."""
    check = fuzz.check_response
    check(200, errors("UNAUTHENTICATED"), sent="{ me { id } }", field_name="me", anonymous_protected=True)
    check(400, errors("GRAPHQL_VALIDATION_FAILED"), sent="", negative=True)
    check(200, '{"data": {"login": {"message": "The email or password is wrong."}}}', sent="")
    # A value the request sent is echoed, not leaked.
    check(200, '{"data": {"me": {"firstName": "KeyError: x"}}}', sent='"KeyError: x"')
    failing = [
        (502, "Bad Gateway", {}),
        (200, "<html>", {}),
        (200, "[]", {}),
        (200, errors(None), {}),
        (200, errors("INTERNAL_SERVER_ERROR"), {}),
        (200, errors("SERVICE_UNAVAILABLE"), {}),
        (200, errors("TEAPOT"), {}),
        (200, '{"data": {"login": {"message": "KeyError: \'password_hash\'"}}}', {}),
        (200, '{"data": {"login": {"message": "1 validation error for User"}}}', {}),
        (200, '{"data": {"login": {"message": "Traceback (most recent call last):"}}}', {}),
        (200, '{"data": {"me": {"id": "1"}}}', {"field_name": "me", "anonymous_protected": True}),
        (200, '{"data": {"login": {"message": "ok"}}}', {"negative": True}),
    ]
    for status, text, options in failing:
        with pytest.raises(fuzz.PolicyViolation):
            check(status, text, sent="", **options)
