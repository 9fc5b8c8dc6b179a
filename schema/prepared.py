"""The common request's short way: a document parsed and validated once, then executed
straight on graphql-core, as Strawberry's own `Schema.execute` does.

Strawberry's view spends about a fifth of a signed-in read on per-request machinery
(fresh extension objects and their hooks, an execution context, a sub-response) that
does nothing for a query text already known to be valid. Here a query text is parsed
under the token limit and validated under the schema's rules once, and kept. A text
that does not parse or validate, a missing or ambiguous operation name, or anything
else unusual is not answered here: it takes Strawberry's way, so every refusal keeps
the one wording and status it has always had.
"""

from __future__ import annotations

from functools import lru_cache
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
)
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import validate_document

if TYPE_CHECKING:
    from schema.root import AuthqlSchema


class PreparedOperations:
    """Valid documents by query text (an LRU of `size`), and their execution."""

    def __init__(self, schema: AuthqlSchema, size: int) -> None:
        self._schema = schema._schema  # the graphql-core schema Strawberry built, resolvers wrapped
        self._rules = (*specified_rules, *schema.rules)  # what Strawberry's way validates with
        self._max_tokens = schema.max_tokens
        # Strawberry's execution context class, passed as Strawberry passes it.
        self._executor = execution_context_class_kwargs(schema.execution_context_class)
        self._prepared = lru_cache(maxsize=size)(self._prepare)

    def document(self, query: str, operation_name: str | None) -> DocumentNode | None:
        """The valid document for `query` when it names one operation to run, else None."""
        prepared = self._prepared(query)
        if prepared is None:
            return None
        document, names = prepared
        chosen = operation_name in names if operation_name is not None else len(names) == 1
        return document if chosen else None

    def cache_info(self) -> Any:
        """The LRU's hits and misses (functools' CacheInfo)."""
        return self._prepared.cache_info()

    async def execute(
        self,
        document: DocumentNode,
        context: object,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        result = execute(
            self._schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,
            operation_extensions=extensions,
            **self._executor,
        )
        if isawaitable(result):
            result = await result
        return result  # type: ignore[return-value]

    def _prepare(self, query: str) -> tuple[DocumentNode, list[str | None]] | None:
        """The parsed document and its operations' names, or None when it is not valid."""
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        if validate_document(self._schema, document, self._rules):
            return None
        names = [
            definition.name.value if definition.name else None
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ]
        return document, names
