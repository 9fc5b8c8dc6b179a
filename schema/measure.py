"""Counts and times every root field: one field extension per root field, added by
`measure_root_fields` when the schema is built, so nested fields cost nothing.

The outcome of a field is the type name of its result (`AuthPayload`,
`InvalidCredentials`, `RateLimited`, ...), `ok` for a result that is not an object
(a list), or the top-level error code it will be answered with (`UNAUTHENTICATED`,
`SERVICE_UNAVAILABLE`, ...). The operation label is the field's name in the schema,
never the client's operation name, so the series stay bounded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Histogram
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

import metrics
from schema.errors import error_code


class Measured(FieldExtension):
    """Outermost on its root field (after the permission check is added), so refusals count too.

    The labelled children are looked up once per outcome and kept, so a request
    allocates nothing here beyond its timing.
    """

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self._outcomes: dict[str, Counter] = {}
        self._seconds: Histogram | None = None

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = next_(source, info, **kwargs)
        except Exception as error:
            self.record(error_code(error), started)
            raise
        self.record(outcome_of(result), started)
        return result

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            result = await next_(source, info, **kwargs)
        except Exception as error:
            self.record(error_code(error), started)
            raise
        self.record(outcome_of(result), started)
        return result

    def record(self, outcome: str, started: float) -> None:
        seconds = self._seconds
        if seconds is None:
            seconds = self._seconds = metrics.OPERATION_SECONDS.labels(self.operation)
        seconds.observe(time.perf_counter() - started)
        counter = self._outcomes.get(outcome)
        if counter is None:
            counter = self._outcomes[outcome] = metrics.OPERATIONS.labels(self.operation, outcome)
        counter.inc()


def outcome_of(result: Any) -> str:
    """The GraphQL type name of a root field's result, or `ok` for a list or a scalar."""
    definition = getattr(type(result), "__strawberry_definition__", None)
    return definition.name if definition is not None else "ok"


def measure_root_fields(*root_types: type) -> None:
    """Make `Measured` the outermost extension of every field of `root_types`, once.

    Strawberry appends the permission check to a field's extensions when the field is
    declared, and the last extension runs first: appending ours afterwards lets it see
    UNAUTHENTICATED answers as well as rate limits and results.
    """
    for root_type in root_types:
        fields: list[StrawberryField] = root_type.__strawberry_definition__.fields  # type: ignore[attr-defined]
        for field in fields:
            if not any(isinstance(extension, Measured) for extension in field.extensions):
                field.extensions.append(Measured(field.graphql_name or to_camel_case(field.python_name)))
