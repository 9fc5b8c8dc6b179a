"""Parsed and validated GraphQL documents, by query text: one cache for both executors
(the short way and Strawberry's), bounded by what its documents weigh, not by count.

A query text is parsed once per request at most: under MAX_TOKENS, then refused at once,
before any validation, when it defines more than MAX_OPERATIONS operations or
MAX_FRAGMENTS fragments (clients send one operation and a few fragments; hundreds are
only a way to make validation expensive). A small document is kept with its validation
result; a large one is parsed and validated for its request only, so a stream of
distinct large documents cannot fill memory.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    specified_rules,
)
from graphql.language.parser import Parser
from strawberry.schema.schema import validate_document

from schema.error_codes import ErrorCode

if TYPE_CHECKING:
    from schema.root import AuthqlSchema

# A parsed document costs up to about this much memory per token (graphql-core's nodes
# and locations; tracemalloc measured 410-615 bytes on client operations and on documents
# of a few hundred tokens).
BYTES_PER_TOKEN = 640
# Only documents this small are kept: the largest client operation is about 110 tokens.
ADMIT_TOKENS = 300


UNPLANNED = object()


class Document:
    """A parsed document, its operations' names, and what validating it found (empty: valid)."""

    __slots__ = ("cost", "errors", "names", "node", "plan", "query")

    def __init__(
        self, query: str, node: DocumentNode, names: list[str | None], errors: list[GraphQLError], tokens: int
    ) -> None:
        self.query = query
        self.node = node
        self.names = names
        self.errors = errors
        self.cost = len(query) + tokens * BYTES_PER_TOKEN
        # endpoints/plans.py's plan for it: UNPLANNED until first executed, then a Plan or None.
        self.plan: object = UNPLANNED

    def runs(self, operation_name: str | None) -> bool:
        """True when the document is valid and `operation_name` picks exactly one operation."""
        if self.errors:
            return False
        if operation_name is None:
            return len(self.names) == 1
        return operation_name in self.names


class Documents:
    """The parse, the shape limits and the validation of query texts, and the cache of
    small ones (least recently used first out once over `budget_bytes`)."""

    def __init__(
        self, schema: AuthqlSchema, max_operations: int, max_fragments: int, budget_bytes: int
    ) -> None:
        self._schema = schema._schema  # the graphql-core schema Strawberry built
        self._rules = (*specified_rules, *schema.rules)  # what Strawberry's way validates with
        self._max_tokens = schema.max_tokens
        self._max_operations = max_operations
        self._max_fragments = max_fragments
        self.budget_bytes = budget_bytes
        self.cost = 0
        self._kept: OrderedDict[str, Document] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    def cached(self, query: str) -> Document | None:
        """The kept document for `query`, or None (then `prepare` it)."""
        document = self._kept.get(query)
        if document is None:
            return None
        self.hits += 1
        self._kept.move_to_end(query)
        return document

    def prepare(self, query: str) -> Document:
        """Parse, check the shape, validate; kept when small. Raises the GraphQLError of a
        syntax error, too many tokens, or too many operations or fragments."""
        self.misses += 1
        parser = Parser(query, max_tokens=self._max_tokens)
        node = parser.parse_document()
        names: list[str | None] = []
        fragments = 0
        for definition in node.definitions:
            if isinstance(definition, OperationDefinitionNode):
                names.append(definition.name.value if definition.name else None)
            elif isinstance(definition, FragmentDefinitionNode):
                fragments += 1
        if len(names) > self._max_operations or fragments > self._max_fragments:
            raise GraphQLError(
                f"The document defines {len(names)} operations and {fragments} fragments; "
                f"this server allows at most {self._max_operations} and {self._max_fragments}.",
                extensions={"code": ErrorCode.GRAPHQL_VALIDATION_FAILED},
            )
        errors = validate_document(self._schema, node, self._rules)
        document = Document(query, node, names, errors, parser.token_count)
        if parser.token_count <= ADMIT_TOKENS and document.cost <= self.budget_bytes:
            self._keep(document)
        return document

    def _keep(self, document: Document) -> None:
        if document.query in self._kept:  # prepared meanwhile by a request of the same text
            return
        self._kept[document.query] = document
        self.cost += document.cost
        while self.cost > self.budget_bytes:
            _, dropped = self._kept.popitem(last=False)
            self.cost -= dropped.cost
