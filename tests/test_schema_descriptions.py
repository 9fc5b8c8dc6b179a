"""Every part of the served schema a client developer reads is described, and the contract's
own descriptions are kept (as the start of ours, where we say more).

The same rules graphql-schema-linter applies in CI (fields-, types-, arguments-,
input-object-values- and enum-values-have-descriptions), checked here without node.
"""

from __future__ import annotations

from collections.abc import Iterator

from contract_files import ADMIN, CONTRACT, public_contract
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

from schema.admin_root import build_admin_schema
from schema.root import build_schema as build_live_schema


def described_parts(schema: GraphQLSchema) -> Iterator[tuple[str, str | None]]:
    """(coordinate, description) of every type, field, argument, input field and enum value
    defined by the schema itself (built-in scalars and introspection types left out)."""
    for name, kind in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        yield name, kind.description
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in kind.fields.items():
                yield f"{name}.{field_name}", field.description
                for argument_name, argument in field.args.items():
                    yield f"{name}.{field_name}({argument_name}:)", argument.description
        elif isinstance(kind, GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                yield f"{name}.{field_name}", field.description
        elif isinstance(kind, GraphQLEnumType):
            for value_name, value in kind.values.items():
                yield f"{name}.{value_name}", value.description
        elif isinstance(kind, GraphQLUnionType):
            pass  # its own description, yielded above


def test_every_type_field_argument_input_field_union_and_enum_value_is_described():
    parts = dict(described_parts(build_live_schema()._schema))
    assert "Mutation.login(password:)" in parts and "ProfileInput.firstName" in parts
    missing = sorted(
        coordinate for coordinate, description in parts.items() if not (description or "").strip()
    )
    assert missing == []


def test_every_part_of_the_admin_schema_is_described():
    parts = dict(described_parts(build_admin_schema()._schema))
    assert "Mutation.disableUser(until:)" in parts and "UserFilter.emailPrefix" in parts
    missing = sorted(
        coordinate for coordinate, description in parts.items() if not (description or "").strip()
    )
    assert missing == []


def test_the_contract_descriptions_are_kept():
    contract = build_schema(public_contract())
    live = dict(described_parts(build_live_schema()._schema))
    changed = [
        coordinate
        for coordinate, description in described_parts(contract)
        if description and not (live.get(coordinate) or "").startswith(description)
    ]
    assert changed == []


def test_the_admin_contract_descriptions_are_kept():
    contract = build_schema((CONTRACT / ADMIN).read_text())
    live = dict(described_parts(build_admin_schema()._schema))
    changed = [
        coordinate
        for coordinate, description in described_parts(contract)
        if description and not (live.get(coordinate) or "").startswith(description)
    ]
    assert changed == []
