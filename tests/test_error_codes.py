"""The ErrorCode enum a client sees is exactly the set of `extensions.code` values the server emits.

The server names a code only through `schema.error_codes.ErrorCode`: the source scan below
finds every `ErrorCode.X` the server uses and every bare string that spells a code, so a new
code cannot be emitted without joining the enum (and the schema, and the README table), and
no enum value is left that nothing emits. The HTTP tests check the codes a client can provoke
cheaply against the enum the server publishes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from flows import gql

from schema.error_codes import DESCRIPTIONS, ErrorCode
from schema.root import build_schema

ROOT = Path(__file__).resolve().parent.parent
# Clients of the server (tests, the fuzzer) and the environment are not the server.
NOT_SERVER = {"tests", "bench", ".venv", ".uv", "var", "graphiql", "clients", "examples", "node_modules"}
CODE_LIKE = re.compile(r"[A-Z][A-Z_]*[A-Z]")


def server_modules() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not NOT_SERVER & set(path.relative_to(ROOT).parts[:-1]) and path.name != "error_codes.py"
    ]


def test_the_server_emits_every_error_code_and_only_through_the_enum():
    used: set[str] = set()
    spelled: list[str] = []
    for path in server_modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "ErrorCode":
                    used.add(node.attr)
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in set(ErrorCode) or (
                    CODE_LIKE.fullmatch(node.value) and node.value.endswith(("_FAILED", "_ERROR"))
                ):
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert spelled == [], "error codes must be ErrorCode members, not strings"
    assert used == {code.name for code in ErrorCode}


def test_the_schema_publishes_exactly_the_error_codes_each_described():
    enum = build_schema()._schema.type_map["ErrorCode"]
    assert set(enum.values) == {code.value for code in ErrorCode}
    assert "errors[].extensions.code" in enum.description
    for name, value in enum.values.items():
        assert value.description == DESCRIPTIONS[ErrorCode(name)]
        assert len(value.description) > 40, name


def test_the_readme_error_code_table_lists_exactly_the_error_codes():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("top-level errors carry `extensions.code`", 1)[1].split("\n\n", 2)[1]
    listed = {
        code for row in table.splitlines()[2:] for code in re.findall(r"`([A-Z_]+)`", row.split("|")[1])
    }
    assert listed == {code.value for code in ErrorCode}


async def test_codes_a_client_provokes_are_in_the_published_enum(client, settings):
    published = (await gql(client, "{ errorCodes }"))["data"]["errorCodes"]
    assert sorted(published) == sorted(code.value for code in ErrorCode)
    seen = {
        (await gql(client, "{ me { id } }"))["errors"][0]["extensions"]["code"],
        (await gql(client, "{ me { id ", expect_status=400))["errors"][0]["extensions"]["code"],
        (await gql(client, "{ nothingHere }", expect_status=400))["errors"][0]["extensions"]["code"],
    }
    answers = [
        await client.post("/graphql", content=b"{not json", headers={"content-type": "application/json"}),
        await client.post(
            "/graphql",
            content=b'{"query": "{ me { id } }", "variables": {"x": "\\ud800"}}',
            headers={"content-type": "application/json"},
        ),
        await client.post("/graphql", json={"query": "{ me { id } }", "pad": "x" * settings.max_body_bytes}),
        await client.get("/.well-known/jwks.json"),
    ]
    seen |= {answer.json()["errors"][0]["extensions"]["code"] for answer in answers}
    assert seen == {
        "UNAUTHENTICATED",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST",
        "BAD_USER_INPUT",
        "PAYLOAD_TOO_LARGE",
        "NOT_FOUND",
    }
    assert seen <= set(published)
