"""The sign-in by emailed code and the email change honour account.graphql.

Two-factor, the rest of that contract, is built on its own branch: until both are
served, this checks the contract's breaking changes for the names of these two
features only (where the shared contract sits beside the checkout)."""

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from schema.root import build_schema as build_live_schema

SHARED_CONTRACT = Path(__file__).resolve().parent.parent.parent / "shared" / "api"
FILES = ("core.graphql", "sessions.graphql", "account.graphql")
OURS = (
    "CodeLoginStarted",
    "StartCodeLoginResult",
    "CompleteCodeLoginResult",
    "EmailChangeStarted",
    "StartEmailChangeResult",
    "EmailChanged",
    "ConfirmEmailChangeResult",
    "startCodeLogin",
    "completeCodeLogin",
    "startEmailChange",
    "confirmEmailChange",
    "SecondFactorRequired.",
    "SecondFactorMethod",
    "SecondFactorRequired was removed.",
)


def test_code_sign_in_and_email_change_are_served_as_the_contract_says():
    if not all((SHARED_CONTRACT / name).is_file() for name in FILES):
        pytest.skip("the shared contract is not beside this checkout")
    contract = build_schema("\n".join((SHARED_CONTRACT / name).read_text() for name in FILES))
    changes = find_breaking_changes(contract, build_live_schema()._schema)
    ours = [change.description for change in changes if any(name in change.description for name in OURS)]
    assert ours == []
    # The check would see them: each of the four operations is in the contract.
    mutation = contract.mutation_type
    assert mutation is not None
    assert {"startCodeLogin", "completeCodeLogin", "startEmailChange", "confirmEmailChange"} <= set(
        mutation.fields
    )
