"""Every mutation that hashes a password or checks a code is limited per client IP
(black-box attack 1: enrollTotp, disableTotp and regenerateRecoveryCodes verified the
password with argon2 and had no limit, so one client could take the hashing pool).

Which mutations hash or check a code is read from the built schema, not from a list kept
by hand: a mutation that takes a password or a code (an argument named like `password`,
`currentPassword`, `newPassword` or `code`) costs an argon2 hash or a guess at a code,
whatever its resolver does with it. A new operation of that kind fails here until it has
a `RateLimit` extension, a `RATE_LIMIT_*` setting and a line in the README.
"""

from __future__ import annotations

import re
from pathlib import Path

from graphql import GraphQLField

from schema.rate_limit import RateLimit
from schema.root import build_schema
from settings import RATE_LIMITED_OPERATIONS, Settings

SECRET_ARGUMENT = re.compile(r"password|code", re.IGNORECASE)
README = Path(__file__).resolve().parent.parent / "README.md"


def mutations() -> dict[str, GraphQLField]:
    mutation_type = build_schema()._schema.mutation_type
    assert mutation_type is not None
    return dict(mutation_type.fields)


def limits_of(field: GraphQLField) -> list[str]:
    """The operations the field's RateLimit extensions count it as."""
    definition = field.extensions["strawberry-definition"]
    return [extension.operation for extension in definition.extensions if isinstance(extension, RateLimit)]


def takes_a_secret(field: GraphQLField) -> bool:
    return any(SECRET_ARGUMENT.search(name) for name in field.args)


def test_the_walk_finds_the_operations_that_hash_or_check_codes():
    found = {name for name, field in mutations().items() if takes_a_secret(field)}
    # The walk is not vacuous: it finds the password and code operations of every domain.
    assert {"login", "changePassword", "verifyRegistrationCode", "enrollTotp", "confirmTotp"} <= found
    assert "refreshTokens" not in found and "updateProfile" not in found


def test_every_mutation_that_hashes_or_checks_a_code_is_limited_per_client_ip():
    unlimited = [
        name for name, field in mutations().items() if takes_a_secret(field) and not limits_of(field)
    ]
    assert unlimited == [], f"mutations taking a password or a code without a RateLimit: {unlimited}"


def test_every_limit_has_its_setting_and_every_setting_its_field():
    used = [operation for field in mutations().values() for operation in limits_of(field)]
    assert sorted(used) == sorted(RATE_LIMITED_OPERATIONS)
    for operation in RATE_LIMITED_OPERATIONS:
        assert f"rate_limit_{operation}" in Settings.model_fields, operation


def test_every_limit_is_in_the_readme_configuration_table():
    readme = README.read_text()
    missing = [
        operation for operation in RATE_LIMITED_OPERATIONS if f"RATE_LIMIT_{operation.upper()}" not in readme
    ]
    assert missing == [], missing
