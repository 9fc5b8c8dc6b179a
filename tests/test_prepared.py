"""The short way (endpoints/graphql.py): a valid document is parsed and validated once and
answered without Strawberry's per-request machinery, with exactly the answer Strawberry's
own way gives; everything else still goes Strawberry's way, with the same kept document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import Mailbox, serve_app
from flows import LOGIN, ME, gql, new_email, register

from endpoints.graphql import GraphQLEndpoint
from settings import Settings


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, GraphQLEndpoint]]:
    """A client and the view that answers it."""
    async with serve_app(settings) as (client, app):
        yield client, app.state.graphql


async def test_a_repeated_operation_is_parsed_and_validated_once(served) -> None:
    client, view = served
    query = LOGIN + "\n# prepared probe"  # a text no other request sends: its first use prepares it
    await gql(client, query, {"email": new_email(), "password": "whatever-password"})
    before = (view.documents.hits, view.documents.misses)

    for _ in range(5):
        answer = await gql(client, query, {"email": new_email(), "password": "whatever-password"})
        assert answer["data"]["login"]["__typename"] == "InvalidCredentials"

    assert (view.documents.hits - before[0], view.documents.misses - before[1]) == (5, 0)


async def test_refused_documents_take_strawberrys_way_with_the_kept_document(served) -> None:
    client, view = served
    query = "query { me { id nosuchfield } } # refused probe"
    await gql(client, query, expect_status=400)
    before = (view.documents.hits, view.documents.misses)

    for _ in range(3):
        answer = await gql(client, query, expect_status=400)
        assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

    assert (view.documents.hits - before[0], view.documents.misses - before[1]) == (3, 0)


TWO_OPERATIONS = "query A { __typename } query B { errorCodes }"
# Planned shapes (endpoints/plans.py): one query field, no arguments, scalar leaves.
PLANNED = [
    "{ me { id email } }",
    "query Named { m: me { __typename who: email phone createdAt twoFactorEnabled recoveryCodesLeft } }",
]


def bodies(token: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Requests of every shape the short way might meet, with their headers."""
    signed_in = {"authorization": f"Bearer {token}"}
    login = {"email": "nobody-" + new_email(), "password": "not the password"}
    return [
        ({"query": ME}, signed_in),
        ({"query": ME}, {}),
        ({"query": ME}, {"authorization": "Bearer not-a-token"}),
        ({"query": ME, "variables": None, "operationName": None, "extensions": {"x": 1}}, signed_in),
        ({"query": LOGIN, "variables": login}, {}),
        ({"query": LOGIN, "variables": {"email": 5, "password": "x"}}, {}),
        ({"query": LOGIN, "variables": {"email": "a@example.com"}}, {}),
        ({"query": LOGIN}, {}),
        ({"query": TWO_OPERATIONS}, {}),
        ({"query": TWO_OPERATIONS, "operationName": "B"}, {}),
        ({"query": TWO_OPERATIONS, "operationName": "C"}, {}),
        ({"query": "query Q { __typename }", "operationName": "Q"}, {}),
        ({"query": "query { me { id } } query { me { email } }"}, signed_in),
        ({"query": "{ me { ...F } } fragment F on User { email phone }"}, signed_in),
        ({"query": "{ me { id "}, {}),
        *(({"query": query}, headers) for query in PLANNED for headers in (signed_in, {})),
        ({"query": PLANNED[1], "operationName": "Named"}, signed_in),
        ({"query": PLANNED[1], "operationName": "Other"}, signed_in),
        ({"query": "{ me { id id } }"}, signed_in),
        ({"query": "{ me { id @include(if: true) } }"}, signed_in),
        ({"query": "{ sessions { id } }"}, signed_in),
        ({"query": "mutation { logout { __typename } }"}, {}),
        ({"query": ME, "variables": "not an object"}, signed_in),
        ({"query": ME, "operationName": 7}, signed_in),
        ({"query": None}, {}),
        ({}, {}),
        # Media types and Accept headers: one gate decides for both ways.
        ({"query": ME}, {**signed_in, "content-type": "application/json; charset=utf-8"}),
        ({"query": ME}, {**signed_in, "content-type": "Application/JSON"}),
        ({"query": ME}, {**signed_in, "content-type": "text/plain; application/json"}),
        ({"query": ME}, {**signed_in, "content-type": "text/plain;charset=application/json"}),
        ({"query": ME}, {**signed_in, "content-type": "application/json, text/plain"}),
        ({"query": ME}, {**signed_in, "content-type": "application/graphql-response+json"}),
        ({"query": LOGIN, "variables": login}, {"content-type": "text/plain; application/json"}),
        ({"query": ME}, {**signed_in, "accept": "application/json"}),
        ({"query": ME}, {**signed_in, "accept": "application/graphql-response+json"}),
        ({"query": ME}, {**signed_in, "accept": "*/*"}),
        ({"query": ME}, {**signed_in, "accept": "text/html"}),
        ({"query": ME}, {**signed_in, "accept": "text/event-stream"}),
        ({"query": ME}, {**signed_in, "accept": "multipart/mixed"}),
    ]


async def test_the_short_way_answers_as_strawberrys_way(served, mailbox: Mailbox, monkeypatch) -> None:
    client, view = served
    token = (await register(client, mailbox))["accessToken"]

    async def post_all() -> list[tuple[int, str, Any]]:
        answers = []
        for body, headers in bodies(token):
            response = await client.post("/graphql", json=body, headers=headers)
            answers.append((response.status_code, response.headers["content-type"], response.json()))
        return answers

    answered = 0
    run_prepared = view.run_prepared

    async def counted(request: object) -> object:
        nonlocal answered
        response = await run_prepared(request)
        answered += response is not None
        return response

    monkeypatch.setattr(view, "run_prepared", counted)
    short = await post_all()
    assert answered > 10  # the short way did answer many of them
    monkeypatch.setattr(view, "run_prepared", no_short_way)
    assert await post_all() == short


async def no_short_way(request: object) -> None:
    return None


async def test_the_common_shapes_are_planned_and_others_are_not(served, mailbox: Mailbox) -> None:
    client, view = served
    token = (await register(client, mailbox))["accessToken"]
    headers = {"authorization": f"Bearer {token}"}
    for query in PLANNED:
        await gql(client, query, token=token)
        plan = view.documents.cached(query).plan
        assert plan is not None and plan.direct is not None, query  # `me`'s chain called directly
    for query in ("{ me { ...F } } fragment F on User { email }", "{ me { id id } }", "{ sessions { id } }"):
        await client.post("/graphql", json={"query": query}, headers=headers)
        assert view.documents.cached(query).plan is None, query
