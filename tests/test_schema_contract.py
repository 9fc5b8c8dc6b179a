"""The live schema honours the public contract and the last release, and matches the
exported schema.graphql.

The contract is kept beside the tests (tests/contract/), so a clone of this repository
alone runs green; where the shared contract folder sits beside the checkout (as in CI),
the kept copy must equal it, so the two cannot drift apart unseen. schema.released.graphql
is the schema of the last release: clients generated from it must keep working, so the
live schema may add to it (dangerous changes such as a new enum value or union member
are allowed) but never break it. Refresh it on release (README, "The API at a glance").
"""

from pathlib import Path

from contract_files import roles_contract
from graphql import build_schema, find_breaking_changes

from schema.admin_root import build_admin_schema
from schema.root import build_schema as build_live_schema

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "tests" / "contract"
SHARED_CONTRACT = ROOT.parent / "shared" / "api"
schema = build_live_schema()


def test_live_schema_is_a_compatible_superset_of_the_core_contract():
    contract = build_schema((CONTRACT / "core.graphql").read_text())
    assert find_breaking_changes(contract, schema._schema) == []


def test_live_schema_is_a_compatible_superset_of_core_and_sessions_together():
    files = ("core.graphql", "sessions.graphql")
    contract = build_schema("\n".join((CONTRACT / name).read_text() for name in files))
    assert find_breaking_changes(contract, schema._schema) == []


def test_live_schema_is_a_compatible_superset_of_all_three_contract_files_together():
    files = ("core.graphql", "sessions.graphql", "account.graphql")
    contract = build_schema("\n".join((CONTRACT / name).read_text() for name in files))
    assert find_breaking_changes(contract, schema._schema) == []


def test_live_schema_is_a_compatible_superset_of_all_four_contract_files_together():
    files = ("core.graphql", "sessions.graphql", "account.graphql", "social.graphql")
    contract = build_schema("\n".join((CONTRACT / name).read_text() for name in files))
    assert find_breaking_changes(contract, schema._schema) == []


def test_live_schema_is_a_compatible_superset_of_all_five_contract_files_together():
    files = ("core.graphql", "sessions.graphql", "account.graphql", "social.graphql", "passkeys.graphql")
    contract = build_schema("\n".join((CONTRACT / name).read_text() for name in files))
    assert find_breaking_changes(contract, schema._schema) == []


def test_live_schema_is_a_compatible_superset_of_the_contract_files_with_hooks():
    # hooks.graphql extends core's StartRegistrationResult and social's CompleteSocialSignInResult.
    files = ("core.graphql", "sessions.graphql", "account.graphql", "social.graphql", "passkeys.graphql")
    files += ("hooks.graphql",)
    contract = build_schema("\n".join((CONTRACT / name).read_text() for name in files))
    assert find_breaking_changes(contract, schema._schema) == []


def test_live_schema_has_no_breaking_change_against_the_last_release():
    released = build_schema((ROOT / "schema.released.graphql").read_text())
    assert find_breaking_changes(released, schema._schema) == []


def test_exported_schema_graphql_matches_the_code():
    exported = (ROOT / "schema.graphql").read_text()
    assert exported.strip() == schema.as_str().strip(), (
        "schema.graphql is stale: run `./run python -m schema.root > schema.graphql`"
    )


def test_kept_contract_equals_the_shared_one_where_it_is_present():
    kept = {path.name: path.read_text() for path in CONTRACT.glob("*.graphql")}
    assert set(kept) == {
        "core.graphql",
        "sessions.graphql",
        "account.graphql",
        "social.graphql",
        "hooks.graphql",
        "passkeys.graphql",
        "admin.graphql",
        "roles.graphql",
    }
    if not SHARED_CONTRACT.is_dir():
        return  # a clone on its own: the kept copy is the contract
    for name, text in kept.items():
        assert (SHARED_CONTRACT / name).read_text() == text, (
            f"tests/contract/{name} differs from the shared one"
        )


def test_live_schema_is_a_compatible_superset_of_roles_with_the_files_it_extends():
    text, left_out = roles_contract()
    assert set(left_out) <= {"CompleteSocialSignInResult", "FinishPasskeySignInResult"}
    assert find_breaking_changes(build_schema(text), schema._schema) == []


def test_admin_schema_is_a_compatible_superset_of_the_admin_contract():
    contract = build_schema((CONTRACT / "admin.graphql").read_text())
    assert find_breaking_changes(contract, build_admin_schema()._schema) == []


def test_exported_admin_schema_graphql_matches_the_code():
    exported = (ROOT / "admin.schema.graphql").read_text()
    assert exported.strip() == build_admin_schema().as_str().strip(), (
        "admin.schema.graphql is stale: run `./run python -m schema.admin_root > admin.schema.graphql`"
    )
