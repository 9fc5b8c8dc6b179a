"""The HTTP gate (endpoints/): what a request to /graphql may be, the documents it may
hold, what parsing them may cost, and how early answers end their connection."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import Mailbox, captured_security_events, serve, serve_app
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import LOGIN, START, gql, new_email
from graphql.language.parser import Parser
from served import served
from strawberry.extensions import MaskErrors

import endpoints.documents
from endpoints.graphql import PreparedOperations
from endpoints.middleware import MAX_HEAD_BYTES
from schema.root import build_schema
from settings import Settings

PROXY = "203.0.113.0/24"  # the ASGI peer (203.0.113.7) is a trusted proxy here
EVIL = {"origin": "https://evil.example"}


# ---------------------------------------------------------------- N2 / attack 3: media types

# Each is a CORS-safelisted or otherwise non-JSON type: a browser sends the first ones
# cross-site with no preflight. None may run anything.
NOT_JSON = [
    "text/plain; application/json",
    "text/plain;charset=application/json",
    "application/x-www-form-urlencoded; a=application/json",
    "multipart/form-data; boundary=application/json",
    "application/json, text/plain",
    "text/plain",
    "application/jsonx",
    "Application/JSON",  # Strawberry's parsing takes only the lower-case spelling
    None,
]


def unsupported(response: httpx.Response) -> None:
    assert response.status_code == 415, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNSUPPORTED_MEDIA_TYPE"]


@pytest.mark.parametrize("content_type", NOT_JSON)
async def test_a_post_that_is_not_application_json_runs_nothing(
    client, mailbox: Mailbox, content_type
) -> None:
    victim, control = new_email(), new_email()
    body = json.dumps({"query": START, "variables": {"email": victim}})
    headers = {**EVIL, **({"content-type": content_type} if content_type else {})}
    with captured_security_events() as events:
        unsupported(await client.post("/graphql", content=body, headers=headers))
        login = {"query": LOGIN, "variables": {"email": victim, "password": "a wrong password"}}
        unsupported(await client.post("/graphql", content=json.dumps(login), headers=headers))
    assert events == []
    # The same start as JSON is sent: once its mail is in, the refused one's would be too.
    await gql(client, START, {"email": control})
    await mailbox.wait_for(control)
    assert mailbox.received(victim) == []


async def test_application_json_with_parameters_is_json(client) -> None:
    for content_type in ("application/json; charset=utf-8", "application/json;", " application/json "):
        response = await client.post(
            "/graphql", content=b'{"query": "{ __typename }"}', headers={"content-type": content_type}
        )
        assert response.json() == {"data": {"__typename": "Query"}}, content_type


# ---------------------------------------------------------------- N1: documents


def operations(count: int, salt: str = "") -> str:
    return " ".join(f"query A{n}{salt} {{ __typename }}" for n in range(count))


@pytest.fixture
def validations(monkeypatch) -> list[int]:
    """How many documents were validated (the gate's validation, counted)."""
    calls: list[int] = []
    real = endpoints.documents.validate_document

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(endpoints.documents, "validate_document", counted)
    return calls


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """How many documents graphql-core parsed, on either way."""
    calls: list[int] = []
    real = Parser.parse_document

    def counted(self: Parser) -> Any:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(Parser, "parse_document", counted)
    return calls


async def test_many_operations_are_refused_before_validation(
    backend_urls, mailbox: Mailbox, validations: list[int]
) -> None:
    # A token limit high enough to let the review's document of 399 operations parse.
    async with serve(settings_with(backend_urls, mailbox, max_tokens=5000)) as client:
        for document in (operations(399), operations(6, "b")):
            for body in ({"query": document}, {"query": document, "operationName": "A1"}):
                response = await client.post("/graphql", json=body)
                assert response.status_code == 400, response.text
                [error] = response.json()["errors"]
                assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
                assert "at most 5" in error["message"]
        fragments = "{ ...F0 } " + " ".join(f"fragment F{n} on Query {{ __typename }}" for n in range(21))
        assert "21 fragments" in (await gql(client, fragments, expect_status=400))["errors"][0]["message"]
        assert validations == []  # none of them got as far as validation
        five = (
            await client.post("/graphql", json={"query": operations(5, "c"), "operationName": "A4c"})
        ).json()
        assert five == {"data": {"__typename": "Query"}}
        assert validations == [1]


async def test_the_default_token_limit_refuses_the_reviews_document(client) -> None:
    answer = await gql(client, operations(399), expect_status=400)
    assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "more than 500 tokens" in answer["errors"][0]["message"]


async def test_one_operation_among_a_few_is_picked_by_name(client) -> None:
    document = "query A { __typename } query B { errorCodes } query C { me { id } }"
    response = await client.post("/graphql", json={"query": document, "operationName": "B"})
    assert response.status_code == 200
    assert "UNSUPPORTED_MEDIA_TYPE" in response.json()["data"]["errorCodes"]


async def test_a_document_is_parsed_once_per_request_and_a_kept_one_not_again(
    settings: Settings, parses: list[int]
) -> None:
    async with serve_app(settings) as (client, app):
        # Declined by the short way (no operation name for two operations): Strawberry's way
        # answers, with the document the gate parsed.
        two = "query A { __typename } query B { __typename } # parse-once probe"
        await client.post("/graphql", json={"query": two})
        assert len(parses) == 1
        # A GET goes Strawberry's way too.
        response = await client.get("/graphql", params={"query": "{ __typename } # get probe"})
        assert response.json() == {"data": {"__typename": "Query"}}
        assert len(parses) == 2
        # The signed-in read: parsed the first time, then never again.
        me = "{ me { id email } }"
        for _ in range(5):
            await gql(client, me)
        assert len(parses) in (2, 3)  # 2 when an earlier request of this app had it kept
        assert app.state.graphql.documents.cached(me) is not None


async def test_distinct_documents_keep_the_cache_within_its_byte_bound(
    backend_urls, mailbox: Mailbox
) -> None:
    budget = 1024 * 1024
    settings = settings_with(backend_urls, mailbox, document_cache_bytes=budget)
    async with serve_app(settings) as (client, app):
        documents = app.state.graphql.documents
        # The review's fill: 10 KB documents differing by a comment and an operation name.
        for n in range(120):
            query = f"query Fill{n} {{ __typename }} # {n} {'x' * 10_000}"
            assert (await gql(client, query))["data"] == {"__typename": "Query"}
            assert documents.cost <= budget
        assert 0 < len(documents) < 120
        # A document over 300 tokens is parsed for its request and not kept.
        large = "{ " + "__typename " * 350 + "}"
        assert (await gql(client, large))["data"] == {"__typename": "Query"}
        assert documents.cached(large) is None


async def test_new_documents_count_against_a_per_ip_limit(backend_urls, mailbox: Mailbox) -> None:
    settings = settings_with(backend_urls, mailbox, trusted_proxies=PROXY, rate_limit_documents="3/minute")
    async with serve(settings) as client:

        def post(query: str, ip: str) -> Any:
            return client.post("/graphql", json={"query": query}, headers={"x-forwarded-for": ip})

        attacker, other = "10.9.8.7", "10.9.8.6"
        known = "{ __typename } # known"
        assert (await post(known, attacker)).status_code == 200
        assert (await post("{ nothing here", attacker)).status_code == 400  # refused: counted too
        assert (await post("{ __typename } # new 1", attacker)).status_code == 200
        limited = await post("{ __typename } # new 2", attacker)
        assert limited.status_code == 429, limited.text
        assert [e["extensions"]["code"] for e in limited.json()["errors"]] == ["RATE_LIMITED"]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # A kept document is still answered, and another address is not limited.
        assert (await post(known, attacker)).json() == {"data": {"__typename": "Query"}}
        assert (await post("{ __typename } # new 3", other)).status_code == 200


# ---------------------------------------------------------------- L9


def test_the_short_way_refuses_a_schema_extension_it_does_not_know() -> None:
    schema = build_schema()
    PreparedOperations(schema)  # the known ones
    schema.extensions = (*schema.extensions, MaskErrors)
    with pytest.raises(RuntimeError, match="extensions"):
        PreparedOperations(schema)


# ---------------------------------------------------------------- attack 9: GraphiQL and 404


async def test_the_graphiql_page_with_graphiql_off_is_not_found(backend_urls, mailbox: Mailbox) -> None:
    async with serve(settings_with(backend_urls, mailbox, graphiql=False)) as client:
        response = await client.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 404
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["NOT_FOUND"]
        # A query over GET is still answered, whatever the browser accepts.
        answer = await client.get(
            "/graphql", params={"query": "{ __typename }"}, headers={"accept": "text/html"}
        )
        assert answer.json() == {"data": {"__typename": "Query"}}


async def test_a_graphiql_link_with_a_query_opens_the_page(client) -> None:
    params = {"query": "{ __typename }"}
    page = await client.get("/graphql", params=params, headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for accept in ("application/json", "*/*"):  # a program's GET still gets its answer
        answer = await client.get("/graphql", params=params, headers={"accept": accept})
        assert answer.json() == {"data": {"__typename": "Query"}}, accept


# ---------------------------------------------------------------- attacks 4 and 9: sockets


async def exchange(port: int, request: bytes) -> tuple[bytes, bool]:
    """Send `request` on a fresh connection; the response head and body, and whether the
    server then closed the connection (within 2 s: keep-alive lasts 5) without the client sending more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
        lengths = [
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ]
        if not lengths:  # h11's own refusal: framed by closing the connection
            try:
                body = await asyncio.wait_for(reader.read(), 15)
            except ConnectionResetError:
                # Closed with part of our write still unread, the kernel answers with a reset
                # instead of a FIN: closed all the same, after the status line we already hold.
                body = b""
            return head + body, True
        body = await reader.readexactly(lengths[0])
        try:
            closed = await asyncio.wait_for(reader.read(1), 2) == b""
        except TimeoutError:
            closed = False
        return head + body, closed
    finally:
        writer.close()


def assert_head_refused(response: bytes, closed: bool) -> None:
    """A head over 16 KiB refused and its connection closed: by the app (431) when it
    arrived whole in one read, or by h11 (400) when a read ended inside it, which is the
    kernel's choice for a write this size."""
    status = int(response.split(b" ", 2)[1])
    if status == 431:
        assert code_of(response) == (431, "REQUEST_HEADERS_TOO_LARGE")
    else:
        assert status == 400, response[:200]
    assert closed


def code_of(response: bytes) -> tuple[int, str]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)["errors"][0]["extensions"]["code"]


async def test_early_answers_close_their_connection(backend_urls, mailbox: Mailbox, tmp_path: Path) -> None:
    settings = settings_with(backend_urls, mailbox, body_read_timeout_seconds=1)
    async with served(settings, tmp_path / "server.log") as url:
        port = urlsplit(url).port
        assert port is not None
        post = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        # 413 for a declared body over MAX_BODY_BYTES, before any of it is read.
        response, closed = await exchange(port, post % (b"/graphql", 100_000) + b"{")
        assert code_of(response) == (413, "PAYLOAD_TOO_LARGE") and closed
        # 408 for a body that stops arriving.
        response, closed = await exchange(port, post % (b"/graphql", 60) + b'{"query":')
        assert code_of(response) == (408, "REQUEST_TIMEOUT") and closed
        # A 404 given before the declared body arrived.
        response, closed = await exchange(port, post % (b"/nope", 60) + b"{")
        assert response.startswith(b"HTTP/1.1 404") and closed
        # An answer after the whole body keeps the connection for the next request.
        body = b'{"query": "{ __typename }"}'
        response, closed = await exchange(port, post % (b"/graphql", len(body)) + body)
        assert response.startswith(b"HTTP/1.1 200") and not closed


async def test_a_request_head_over_16_kib_is_refused_however_it_arrives(
    backend_urls, mailbox: Mailbox, tmp_path: Path
) -> None:
    async with served(settings_with(backend_urls, mailbox), tmp_path / "server.log") as url:
        port = urlsplit(url).port
        assert port is not None

        def get(pad: int) -> bytes:
            return b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * pad + b"\r\n\r\n"

        # One write: h11 usually sees the whole head at once, so only the app can count it.
        assert_head_refused(*await exchange(port, get(40_000)))
        response, closed = await exchange(port, get(MAX_HEAD_BYTES - 200))
        assert response.startswith(b"HTTP/1.1 200") and not closed
