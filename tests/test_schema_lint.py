"""schema.graphql passes graphql-schema-linter with the rules a client author relies on:
every type, field, argument, input field and enum value described; names in their casing."""

from __future__ import annotations

import json

import pytest
from npm import TYPESCRIPT, npm_ci, npx

pytestmark = pytest.mark.node


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    npm_ci()


def test_the_schema_passes_the_schema_linter():
    # The rules and the schema path are in clients/typescript/package.json ("graphql-schema-linter").
    configured = json.loads((TYPESCRIPT / "package.json").read_text())["graphql-schema-linter"]
    assert set(configured["rules"]) == {
        "fields-have-descriptions",
        "types-have-descriptions",
        "arguments-have-descriptions",
        "input-object-values-have-descriptions",
        "enum-values-have-descriptions",
        "deprecations-have-a-reason",
        "enum-values-all-caps",
        "input-object-values-are-camel-cased",
    }

    run = npx(["graphql-schema-linter", "--format", "json"])

    assert run.stdout.strip(), run.stderr
    errors = json.loads(run.stdout)["errors"]
    listed = "\n".join(f"schema.graphql:{e['location']['line']} {e['message']} ({e['rule']})" for e in errors)
    if errors:
        pytest.fail(f"{len(errors)} schema lint errors:\n{listed}", pytrace=False)
    assert run.returncode == 0, run.stderr
