"""GraphQL hardening: document limits, body size, introspection and CORS switches."""

import httpx
from conftest import serve
from conftest import test_settings as settings_with
from flows import START, gql, new_email


def validation_error(body: dict) -> str:
    assert body["data"] is None, body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
    return body["errors"][0]["message"]


async def post(client: httpx.AsyncClient, query: str, **kwargs) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, **kwargs)


async def test_too_many_aliases_are_refused_before_anything_runs(client, mailbox):
    email = new_email()
    fields = " ".join(f'a{i}: startRegistration(email: "{email}") {{ __typename }}' for i in range(16))
    response = await post(client, f"mutation {{ {fields} }}")
    assert response.status_code == 400
    assert "aliases" in validation_error(response.json()).lower()
    assert mailbox.received(email) == []


async def test_depth_limit_applies_and_introspection_depth_is_not_counted(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, max_query_depth=1)) as client:
        deep = 'mutation { login(email: "a@b.co", password: "x") { ... on AuthPayload { user { id } } } }'
        response = await post(client, deep)
        assert response.status_code == 400
        assert "depth" in validation_error(response.json()).lower()
        shallow = await post(client, 'mutation { login(email: "a@b.co", password: "x") { __typename } }')
        assert shallow.status_code == 200, shallow.text
        introspection = "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }"
        assert (await post(client, introspection)).status_code == 200


async def test_documents_over_the_token_limit_are_refused(client):
    fields = " ".join("__typename" for _ in range(2100))
    response = await post(client, f"{{ {fields} }}")
    assert response.status_code == 400, response.text
    assert "token" in response.json()["errors"][0]["message"].lower()


async def test_request_bodies_over_the_limit_get_413(client):
    padding = " " * 70_000
    response = await client.post(
        "/graphql",
        content=f'{{"query": "{{ __typename }}{padding}"}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    # A streamed body with no declared length is cut off too.

    async def chunks():
        for _ in range(20):
            yield b" " * 8192

    streamed = await client.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


async def test_introspection_off_refuses_schema_queries_and_hides_suggestions(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, introspection=False)) as client:
        response = await post(client, "{ __schema { types { name } } }")
        assert response.status_code == 400
        typo = validation_error((await post(client, "{ mee { id } }")).json())
        assert "Did you mean" not in typo
        assert (await gql(client, START, {"email": new_email()}))["data"]["startRegistration"]
    # With introspection on (the default), the hint helps the developer.
    async with serve(settings_with(backend_urls, mailbox)) as client:
        assert "Did you mean" in validation_error((await post(client, "{ mee { id } }")).json())


async def test_cors_allows_only_the_configured_origins(client, backend_urls, mailbox):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    default = await client.options("/graphql", headers=preflight)
    assert "access-control-allow-origin" not in default.headers
    async with serve(settings_with(backend_urls, mailbox, cors_origins="https://app.example")) as other:
        allowed = await other.options("/graphql", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        foreign = await other.options("/graphql", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers
        answered = await post(other, "{ __typename }", headers={"Origin": "https://app.example"})
        assert answered.headers["access-control-allow-origin"] == "https://app.example"


SCHEMA_PROBES = [
    # (document, variables, a name the message would otherwise reveal)
    ('mutation { startRegistration(email: "a@b.co") }', None, "StartRegistrationResult"),
    ('mutation { login(emial: "a", password: "b") { __typename } }', None, "Mutation.login(email:)"),
    (
        'mutation { completeRegistration(registrationToken: "t", profile: {}) { __typename } }',
        None,
        "ProfileInput",
    ),
    ("mutation { logout(scope: AL) { revokedSessions } }", None, "LogoutScope"),
    (
        'mutation ($p: ProfileInput!) { completeRegistration(registrationToken: "t", profile: $p) '
        "{ __typename } }",
        {"p": {"firstNam": "Ada"}},
        "firstName",
    ),
    ("{ mee { id } }", None, "Query"),
]


async def test_introspection_off_names_nothing_of_the_schema_in_validation_errors(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, introspection=False)) as client:
        for document, variables, name in SCHEMA_PROBES:
            response = await client.post("/graphql", json={"query": document, "variables": variables})
            assert response.status_code == 400, response.text
            assert name not in response.text, response.text
            errors = response.json()["errors"]
            for error in errors:
                assert error["message"] == "The query is not valid for this API.", error
                assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", error
            assert errors[0]["locations"], errors
        # The limits still say what was exceeded: that names only the client's own numbers.
        aliases = " ".join(f"a{i}: __typename" for i in range(16))
        assert "aliases" in validation_error((await post(client, f"{{ {aliases} }}")).json())
    # With introspection on (the default), the same mistakes are explained.
    async with serve(settings_with(backend_urls, mailbox)) as client:
        for document, variables, name in SCHEMA_PROBES:
            response = await client.post("/graphql", json={"query": document, "variables": variables})
            assert name in response.text, response.text


async def test_graphiql_page_cannot_be_framed(client):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"].split("; ")


async def test_with_a_mongo_url_graphiql_and_introspection_are_off_unless_asked(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, graphiql=None, introspection=None)) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404, page.text
        assert "graphiql" not in page.text.lower()
        assert (await post(client, "{ __schema { types { name } } }")).status_code == 400
        assert (await post(client, "{ __typename }")).json() == {"data": {"__typename": "Query"}}


async def test_an_alias_that_looks_like_introspection_does_not_escape_the_depth_limit(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, max_query_depth=1)) as client:
        disguised = (
            'mutation { __x: login(email: "a@b.co", password: "x") { ... on AuthPayload { user { id } } } }'
        )
        response = await post(client, disguised)
        assert response.status_code == 400, response.text
        assert "depth" in validation_error(response.json()).lower()
