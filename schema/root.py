"""The schema root: each domain's Query and Mutation fields (declared in its own schema
module, beside its types) merged into the two root types, and the Schema with its
extensions and limits. The HTTP layer (endpoints/) and tests import it; nothing is built at import."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types import ExecutionContext

from schema import (
    account,
    code_login,
    email_change,
    error_codes,
    login,
    passkeys,
    password,
    password_reset,
    profile,
    registration,
    sessions,
    social,
    two_factor,
)
from schema.limits import limit_rules
from schema.measure import measure_root_fields

if TYPE_CHECKING:
    from endpoints.documents import Document

# Strawberry's DateTime, with the standard its values follow named, so code generators
# map it to their date-time type without a hand-written mapping.
DATE_TIME = dataclasses.replace(
    DateTimeDefinition,
    description="A UTC date and time in RFC 3339 form, e.g. 2026-11-30T19:16:00.123000+00:00.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
)


QUERY_DESCRIPTION = (
    "What a client may read: the signed-in user, their sessions, the error codes and the social providers."
)
MUTATION_DESCRIPTION = (
    "What a client may change: the four registration steps, login and sign-in by emailed code with "
    "its second factor, the session and password operations, the password reset, the email change, "
    "two-factor enrolment, social sign-in and linking, the profile and the account's deletion. "
    "Expected failures are result types implementing Problem; only the causes listed in ErrorCode "
    "become top-level errors."
)


def root_type(name: str, description: str, domains: tuple[type, ...]) -> type:
    """One root type holding every domain's fields, in the order `domains` lists them
    (Strawberry's `merge_types`, which would drop the description)."""
    return strawberry.type(type(name, domains, {}), description=description)


def root_types() -> tuple[type, type]:
    """Query and Mutation, built fresh for each schema (the measuring extension is added
    to their fields in place)."""
    query = root_type(
        "Query",
        QUERY_DESCRIPTION,
        (profile.queries(), sessions.queries(), error_codes.queries(), social.queries()),
    )
    mutation = root_type(
        "Mutation",
        MUTATION_DESCRIPTION,
        (
            registration.mutations(),
            login.mutations(),
            profile.mutations(),
            sessions.mutations(),
            password.mutations(),
            password_reset.mutations(),
            account.mutations(),
            code_login.mutations(),
            email_change.mutations(),
            two_factor.mutations(),
            social.mutations(),
            passkeys.mutations(),
        ),
    )
    return query, mutation


class GatedDocument(SchemaExtension):
    """Strawberry's parse and validation, skipped for the document the HTTP gate already
    parsed and validated (endpoints/documents.py): one parse per request, one cache of
    documents for both executors. Without one (the schema used outside the HTTP view),
    Strawberry parses and validates as usual, under the same token limit and rules."""

    def _document(self) -> Document | None:
        context = self.execution_context
        document: Document | None = getattr(getattr(context.context, "request", None), "document", None)
        return document if document is not None and document.query == context.query else None

    def on_parse(self) -> Iterator[None]:
        document = self._document()
        if document is not None:
            self.execution_context.graphql_document = document.node
        yield

    def on_validate(self) -> Iterator[None]:
        document = self._document()
        if document is not None:
            self.execution_context.pre_execution_errors = document.errors
        yield


class AuthqlSchema(strawberry.Schema):
    """Strawberry's schema, holding the validation rules and token limit it was built
    with, so the gate's documents (endpoints/documents.py) are checked exactly the same."""

    def __init__(self, *, rules: list[type[ASTValidationRule]], max_tokens: int, **options: Any) -> None:
        super().__init__(
            **options,
            extensions=[
                partial(AddValidationRules, rules),
                partial(MaxTokensLimiter, max_tokens),
                GatedDocument,
            ],
        )
        self.rules = tuple(rules)
        self.max_tokens = max_tokens

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging is `schema.errors.classify`'s job: unexpected errors once, with traceback."""


@dataclass(frozen=True)
class Limits:
    """What one GraphQL document may ask for; defaults let every contract operation pass."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 500
    introspection: bool = True


@cache
def build_schema(limits: Limits = Limits()) -> AuthqlSchema:
    """The schema for `limits`, built once per process: a server builds one; the tests'
    apps (over a hundred in a run, 70 ms of CPU each) share the one of their limits."""
    # The limiter rules are built once, here: rule classes made per request would
    # change the validation's rule set per request. Factories give each request fresh
    # extension objects; parsed and validated documents are kept by the HTTP gate.
    # Our own depth and alias rules (schema/limits.py): Strawberry's walk a fragment
    # again at every spread, exponential in the number of fragments.
    rules = limit_rules(limits.max_depth, limits.max_aliases)
    query, mutation = root_types()
    measure_root_fields(query, mutation)
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return AuthqlSchema(
        rules=rules,
        max_tokens=limits.max_tokens,
        query=query,
        mutation=mutation,
        scalar_overrides={datetime: DATE_TIME},
    )


if __name__ == "__main__":
    # `python -m schema.root > schema.graphql` refreshes the exported schema.
    print(build_schema().as_str())
