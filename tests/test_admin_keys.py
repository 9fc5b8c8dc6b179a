"""The admin API's door: off without ADMIN_API_KEY, every refusal of a key (none, bad,
revoked, without the scope), keys and access tokens never cross between /graphql and
/admin/graphql, the per-key rate limit, the shared limits of the gate, introspection, and
revocation at once on every worker of a real two-worker server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from admin import (
    ADMIN_KEY,
    ADMIN_KEYS,
    AUDIT,
    CREATE_KEY,
    CREATE_USER,
    DELETE_USER,
    DISABLE_USER,
    ENABLE_USER,
    RESET_TWO_FACTOR,
    REVOKE_KEY,
    REVOKE_SESSIONS,
    UPDATE_USER,
    USER_BY_ID,
    USERS,
    admin_call,
    admin_data,
    codes,
)
from conftest import Mailbox, serve
from conftest import test_settings as settings_with
from flows import LOGIN, ME, PASSWORD, data, gql, new_email, register
from graphql import parse, validate
from served import served

from schema.admin_root import build_admin_schema
from settings import Settings

SOME_ID = "64b000000000000000000000"
# Every admin field, the scope it needs, and a call of it (variables valid or harmless).
FIELDS = [
    ("users", "users:read", USERS, {"first": 1}),
    ("user", "users:read", USER_BY_ID, {"id": SOME_ID}),
    ("auditEvents", "audit:read", AUDIT, {"first": 1}),
    ("adminKeys", "keys:write", ADMIN_KEYS, {}),
    (
        "createUser",
        "users:write",
        CREATE_USER,
        {"input": {"email": "x@example.com", "firstName": "A", "lastName": "B", "invite": False}},
    ),
    ("updateUser", "users:write", UPDATE_USER, {"id": SOME_ID, "input": {"firstName": "C"}}),
    ("disableUser", "users:write", DISABLE_USER, {"id": SOME_ID}),
    ("enableUser", "users:write", ENABLE_USER, {"id": SOME_ID}),
    ("resetTwoFactor", "users:write", RESET_TWO_FACTOR, {"id": SOME_ID}),
    ("deleteUser", "users:write", DELETE_USER, {"id": SOME_ID}),
    ("revokeUserSessions", "sessions:write", REVOKE_SESSIONS, {"id": SOME_ID}),
    ("createAdminKey", "keys:write", CREATE_KEY, {"name": "n", "scopes": ["USERS_READ"]}),
    ("revokeAdminKey", "keys:write", REVOKE_KEY, {"id": SOME_ID}),
    ("webhookEndpoints", "webhooks:read", "query { webhookEndpoints { id } }", {}),
    (
        "createWebhookEndpoint",
        "webhooks:write",
        """mutation($u: String!) { createWebhookEndpoint(url: $u, events: [USER_CREATED]) { __typename } }""",
        {"u": "https://hooks.example/x"},
    ),
    (
        "updateWebhookEndpoint",
        "webhooks:write",
        """mutation($id: ID!) { updateWebhookEndpoint(id: $id, enabled: true) { __typename } }""",
        {"id": SOME_ID},
    ),
    (
        "deleteWebhookEndpoint",
        "webhooks:write",
        """mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }""",
        {"id": SOME_ID},
    ),
]
ALL_SCOPES = [
    "USERS_READ",
    "USERS_WRITE",
    "SESSIONS_WRITE",
    "AUDIT_READ",
    "WEBHOOKS_READ",
    "WEBHOOKS_WRITE",
    "KEYS_WRITE",
]


@pytest.fixture(scope="module")
def admin_settings(backend_urls: dict[str, str], mailbox: Mailbox) -> Settings:
    return settings_with(backend_urls, mailbox, admin_api_key=ADMIN_KEY)


@pytest.fixture
async def client(admin_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(admin_settings) as client:
        yield client


async def new_key(client: httpx.AsyncClient, *scopes: str) -> tuple[str, str]:
    created = await admin_data(client, CREATE_KEY, {"name": "script", "scopes": list(scopes)})
    assert created["__typename"] == "AdminKeyCreated", created
    return created["key"]["id"], created["secret"]


async def test_without_admin_api_key_the_admin_api_is_not_there(settings: Settings):
    async with serve(settings) as client:
        response = await client.post("/admin/graphql", json={"query": "{ __typename }"})
        assert response.status_code == 404
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await client.get("/admin/graphiql/graphiql.min.js")).status_code == 404


def test_an_admin_api_key_shorter_than_32_characters_is_refused(backend_urls, mailbox):
    with pytest.raises(ValueError, match="admin_api_key"):
        settings_with(backend_urls, mailbox, admin_api_key="k" * 31)


@pytest.mark.parametrize(("field", "scope", "query", "variables"), FIELDS, ids=[field[0] for field in FIELDS])
async def test_every_field_refuses_a_missing_a_bad_and_an_unscoped_key(
    client, field, scope, query, variables
):
    for key in (None, "not-a-key", "aqk_" + "x" * 43, ADMIN_KEY[:-1] + "!"):
        body = await admin_call(client, query, variables, key=key)
        assert codes(body) == ["UNAUTHENTICATED"], (key, body)
        assert body["data"] is None or body["data"].get(field) is None
    others = [each for each in ALL_SCOPES if each.lower().replace("_", ":") != scope]
    _, unscoped = await new_key(client, *others)
    body = await admin_call(client, query, variables, key=unscoped)
    assert codes(body) == ["FORBIDDEN"], body
    assert body["errors"][0]["extensions"]["scope"] == scope
    assert scope in body["errors"][0]["message"]
    _, scoped = await new_key(client, scope.upper().replace(":", "_"))
    assert "errors" not in await admin_call(client, query, variables, key=scoped)


async def test_a_person_access_token_never_opens_the_admin_api_nor_a_key_the_public_one(client, mailbox):
    person = await register(client, mailbox)
    body = await admin_call(client, USERS, {"first": 1}, key=person["accessToken"])
    assert codes(body) == ["UNAUTHENTICATED"]
    _, secret = await new_key(client, *ALL_SCOPES)
    for key in (ADMIN_KEY, secret):
        body = await gql(client, ME, token=key)
        assert codes(body) == ["UNAUTHENTICATED"]


async def test_a_created_key_is_shown_once_listed_with_its_last_use_and_revoked_at_once(client):
    key_id, secret = await new_key(client, "USERS_READ")
    listed = {key["id"]: key for key in await admin_data(client, ADMIN_KEYS)}
    assert listed["environment"]["fromEnvironment"] is True
    assert set(listed["environment"]["scopes"]) == set(ALL_SCOPES)
    assert listed[key_id]["lastUsedAt"] is None
    assert "secret" not in listed[key_id]
    await admin_data(client, USERS, {"first": 1}, key=secret)
    listed = {key["id"]: key for key in await admin_data(client, ADMIN_KEYS)}
    assert listed[key_id]["lastUsedAt"] is not None
    revoked = await admin_data(client, REVOKE_KEY, {"id": key_id})
    assert revoked == {"__typename": "AdminKeyRevoked", "id": key_id}
    assert codes(await admin_call(client, USERS, {"first": 1}, key=secret)) == ["UNAUTHENTICATED"]
    assert (await admin_data(client, REVOKE_KEY, {"id": key_id}))["__typename"] == "NotFound"
    assert (await admin_data(client, REVOKE_KEY, {"id": "environment"}))["__typename"] == "NotFound"
    assert (await admin_data(client, CREATE_KEY, {"name": " ", "scopes": []}))["__typename"] == "InvalidInput"


async def test_a_key_grants_only_the_scopes_it_holds(client):
    _, manager = await new_key(client, "KEYS_WRITE", "USERS_READ")
    stronger = await admin_data(client, CREATE_KEY, {"name": "x", "scopes": ["USERS_WRITE"]}, key=manager)
    assert stronger["__typename"] == "InvalidInput"
    assert [field["field"] for field in stronger["fields"]] == ["scopes"]
    same = await admin_data(client, CREATE_KEY, {"name": "x", "scopes": ["USERS_READ"]}, key=manager)
    assert same["__typename"] == "AdminKeyCreated"


async def test_a_key_past_its_rate_limit_is_refused_and_other_keys_are_not(backend_urls, mailbox):
    settings = settings_with(backend_urls, mailbox, admin_api_key=ADMIN_KEY, rate_limit_admin="3/minute")
    async with serve(settings) as client:
        _, first = await new_key(client, "USERS_READ")
        _, second = await new_key(client, "USERS_READ")
        for _ in range(3):
            assert "errors" not in await admin_call(client, USERS, {"first": 1}, key=first)
        body = await admin_call(client, USERS, {"first": 1}, key=first)
        assert codes(body) == ["RATE_LIMITED"]
        assert body["errors"][0]["extensions"]["retryAfterSeconds"] > 0
        assert "errors" not in await admin_call(client, USERS, {"first": 1}, key=second)


async def test_the_admin_schema_has_the_public_limits_and_introspection(backend_urls, mailbox):
    settings = settings_with(
        backend_urls, mailbox, admin_api_key=ADMIN_KEY, introspection=False, max_query_depth=3, max_aliases=2
    )
    async with serve(settings) as client:
        body = await admin_call(client, "{ __schema { queryType { name } } }")
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
        deep = "{ users(first: 1) { edges { node { sessions { id } } } } }"
        assert codes(await admin_call(client, deep, expect_status=400)) == ["GRAPHQL_VALIDATION_FAILED"]
        aliased = "{ a: adminKeys { id } b: adminKeys { id } c: adminKeys { id } }"
        assert codes(await admin_call(client, aliased, expect_status=400)) == ["GRAPHQL_VALIDATION_FAILED"]
        response = await client.post("/admin/graphql", content=b"{}", headers={"content-type": "text/plain"})
        assert response.status_code == 415
        # The public schema keeps its own switch.
        response = await client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})
        assert response.status_code == 400


async def test_the_admin_graphiql_page_and_its_files_are_served_offline(client):
    page = await client.get("/admin/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert 'src="graphiql/graphiql.min.js"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    script = await client.get("/admin/graphiql/graphiql.min.js")
    assert script.status_code == 200 and len(script.content) > 10_000


@pytest.mark.subprocess
async def test_a_revoked_key_and_a_disabled_account_are_refused_at_once_by_every_worker(
    admin_settings: Settings, tmp_path: Path
):
    async with served(admin_settings, tmp_path / "server.log", arguments=["--workers", "2"]) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            key_id, secret = await new_key(client, "USERS_READ")
            email = new_email()
            made = await admin_data(
                client,
                CREATE_USER,
                {
                    "input": {
                        "email": email,
                        "firstName": "A",
                        "lastName": "B",
                        "invite": False,
                        "password": PASSWORD,
                    }
                },
            )
            person = await data(client, LOGIN, {"email": email, "password": PASSWORD})
            token = person["accessToken"]

            async def fresh_call(call: Callable[[httpx.AsyncClient], Awaitable[list[str]]]) -> list[str]:
                async with httpx.AsyncClient(base_url=url) as fresh:  # a new connection: any worker
                    return await call(fresh)

            async def key_codes(fresh: httpx.AsyncClient) -> list[str]:
                return codes(await admin_call(fresh, USERS, {"first": 1}, key=secret))

            async def me_codes(fresh: httpx.AsyncClient) -> list[str]:
                return codes(await gql(fresh, ME, token=token))

            # Both workers have served the key and the person (and kept the person's copy).
            for _ in range(20):
                assert await fresh_call(key_codes) == [] and await fresh_call(me_codes) == []
            await admin_data(client, REVOKE_KEY, {"id": key_id})
            await admin_data(client, DISABLE_USER, {"id": made["user"]["id"]})
            answers = await asyncio.gather(
                *(fresh_call(key_codes) for _ in range(20)), *(fresh_call(me_codes) for _ in range(20))
            )
            assert all(answer == ["UNAUTHENTICATED"] for answer in answers), answers


def test_the_readme_admin_examples_validate_against_the_admin_schema():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = re.findall(r"```graphql admin\n(.*?)```", readme, re.S)
    assert len(blocks) >= 4
    schema = build_admin_schema()._schema
    for block in blocks:
        assert validate(schema, parse(block)) == [], block
