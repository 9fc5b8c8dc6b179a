"""Plans for the commonest documents: one query field, no arguments, scalar leaves.

`{ me { id email } }` is most of what a server like this answers. graphql-core executes it
with its general machinery: an executor, field collection, a resolve info per field,
completion of every value through the general type switch. A document of this shape is
planned once, when first executed (and kept with the document): the planned execution
calls the root field's own resolver (Strawberry's, so its permission check and the
`Measured` metrics run as ever; for the chain every signed-in read has, a permission check
and `Measured` around a resolver taking only `info`, DirectCall calls those three itself,
without Strawberry's per-call argument parsing and extension partials), then reads the
leaves as graphql-core would (each leaf is a plain attribute: Strawberry's default
resolver), coerced by their own scalar types.

Only the plain outcome is built here. Anything else (the resolver raised, returned null
or an error, a leaf that is null where it may not be or does not coerce) is handed to
graphql-core with that very outcome in place of a second call of the resolver, so every
error answer is graphql-core's own, word for word.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path
from strawberry.permission import PermissionExtension
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo as ResolveInfo

from schema.errors import error_code
from schema.measure import Measured, outcome_of

# graphql-core's middleware hook: what the fallback uses to give the root field its outcome.
Middleware = Callable[..., Any]


class Fallback(Exception):  # noqa: N818 - a signal, not an error
    """The outcome is not a plain one: graphql-core completes it."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One scalar field of the root field's object: its response key, how to read it."""

    key: str
    resolve: Callable[..., Any] | None  # None: `__typename`
    coerce: Callable[[Any], Any]
    non_null: bool


@dataclass(frozen=True, slots=True)
class DirectCall:
    """The field's own Strawberry chain, called without its machinery: a resolver taking
    only `info`, behind exactly a permission check and the `Measured` metrics (the chain
    every signed-in read has). Only the granted, plain outcome is had here; a refusal or
    an error takes the field's whole chain again (which then refuses, counts and raises
    as ever: the identity it checks is loaded once per request)."""

    info_class: Callable[..., Any]
    field: Any  # the StrawberryField
    permissions: tuple[Any, ...]
    resolver: Callable[..., Any]
    measured: Measured

    async def __call__(self, chain: Callable[..., Any], info: Any) -> Any:
        started = time.perf_counter()
        strawberry_info = self.info_class(_raw_info=info, _field=self.field)
        try:
            granted = True
            for permission in self.permissions:
                granted = granted and await permission.has_permission(None, strawberry_info) is True
        except Exception:
            granted = False
        if not granted:
            return await chain(None, info)
        try:
            result = await self.resolver(strawberry_info)
        except Exception as error:
            self.measured.record(error_code(error), started)
            raise
        self.measured.record(outcome_of(result), started)
        return result


def direct_call(schema: Any, field: GraphQLField) -> DirectCall | None:
    """The DirectCall of `field`, when its chain is exactly the one DirectCall knows."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if definition is None or definition.arguments or getattr(schema, "exception_handlers", ()):
        return None
    extensions = definition.extensions
    if [type(extension) for extension in extensions] != [PermissionExtension, Measured]:
        return None
    permission, measured = extensions
    resolver = definition.base_resolver
    if (
        permission.fail_silently
        or resolver is None
        or not resolver.is_async
        or list(resolver.signature.parameters) != ["info"]
        or not all(inspect.iscoroutinefunction(each.has_permission) for each in permission.permissions)
    ):
        return None
    return DirectCall(
        info_class=schema.config.info_class,
        field=definition,
        permissions=tuple(permission.permissions),
        resolver=resolver.wrapped_func,
        measured=measured,
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """One planned query field: `{ key: field { leaf leaf ... } }`."""

    operation: OperationDefinitionNode
    node: FieldNode
    key: str
    resolve: Callable[..., Any]
    return_type: Any
    parent_type: GraphQLObjectType
    object_type: GraphQLObjectType
    leaves: tuple[Leaf, ...]
    direct: DirectCall | None = None

    def call(self, info: Any) -> Any:
        """The field's outcome (an awaitable), by its DirectCall when it has one."""
        if self.direct is not None:
            return self.direct(self.resolve, info)
        return self.resolve(None, info)

    def info(self, schema: GraphQLSchema, context: object, extensions: Any, is_awaitable: Any) -> Any:
        """The resolve info graphql-core's executor (Strawberry's class of it) would build."""
        return ResolveInfo(
            self.node.name.value,
            [self.node],
            self.return_type,
            self.parent_type,
            Path(None, self.key, self.parent_type.name),
            schema,
            {},
            None,
            self.operation,
            {},
            context,
            is_awaitable,
            None,
            None,
            extensions,
        )

    def complete(self, result: Any) -> dict[str, Any]:
        """The object's answer, or Fallback for anything graphql-core would have more to say on."""
        if result is None or isinstance(result, Exception):
            raise Fallback
        answer: dict[str, Any] = {}
        for leaf in self.leaves:
            if leaf.resolve is None:
                answer[leaf.key] = self.object_type.name
                continue
            try:
                value = leaf.resolve(result, None)
                if value is None or value is Undefined:
                    if leaf.non_null:
                        raise Fallback
                    answer[leaf.key] = None
                    continue
                if isinstance(value, Exception):
                    raise Fallback
                coerced = leaf.coerce(value)
            except Exception as error:
                raise Fallback from error
            if coerced is None or coerced is Undefined:
                raise Fallback
            answer[leaf.key] = coerced
        return {self.key: answer}


def plan_for(schema: GraphQLSchema, document: DocumentNode, strawberry_schema: Any = None) -> Plan | None:
    """The plan of a document of the planned shape, or None (graphql-core executes it)."""
    if len(document.definitions) != 1:
        return None
    operation = document.definitions[0]
    if not (
        isinstance(operation, OperationDefinitionNode)
        and operation.operation == OperationType.QUERY
        and not operation.variable_definitions
        and not operation.directives
        and len(operation.selection_set.selections) == 1
    ):
        return None
    node = operation.selection_set.selections[0]
    query_type = schema.query_type
    if not plain_field(node) or node.selection_set is None or query_type is None:
        return None
    field = query_type.fields.get(node.name.value)
    if field is None or field.args or field.resolve is None:
        return None
    object_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
        return None
    leaves = []
    for selection in node.selection_set.selections:
        if not plain_field(selection) or selection.selection_set is not None:
            return None
        leaf = leaf_of(object_type, selection)
        if leaf is None:
            return None
        leaves.append(leaf)
    keys = [leaf.key for leaf in leaves]
    if len(set(keys)) != len(keys):
        return None  # merged fields: graphql-core's field collection decides
    return Plan(
        operation=operation,
        node=node,
        key=response_key(node),
        resolve=field.resolve,
        return_type=field.type,
        parent_type=query_type,
        object_type=object_type,
        leaves=tuple(leaves),
        direct=direct_call(strawberry_schema, field) if strawberry_schema is not None else None,
    )


def plain_field(node: object) -> bool:
    """A field with no arguments and no directives (no fragment, no @skip or @include)."""
    return isinstance(node, FieldNode) and not node.arguments and not node.directives


def response_key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def leaf_of(object_type: GraphQLObjectType, node: FieldNode) -> Leaf | None:
    """The leaf of `node`, when it is `__typename` or a scalar read as a plain attribute."""
    key = response_key(node)
    if node.name.value == "__typename":
        return Leaf(key, None, str, True)
    field = object_type.fields.get(node.name.value)
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None  # a resolver of its own: graphql-core calls it
    non_null = isinstance(field.type, GraphQLNonNull)
    leaf_type = field.type.of_type if non_null else field.type
    if not is_leaf_type(leaf_type):
        return None
    return Leaf(key, field.resolve, leaf_type.coerce_output_value, non_null)


def outcome_middleware(value: Any = None, error: Exception | None = None) -> Middleware:
    """graphql-core middleware answering the root field with the outcome its resolver
    already had (raising `error`, or returning `value`): the resolver ran once."""

    def middleware(next_: Callable[..., Any], source: Any, info: Any, **arguments: Any) -> Any:
        if info.path.prev is None:
            if error is not None:
                raise error
            return value
        return next_(source, info, **arguments)

    return middleware


def plain_result(data: dict[str, Any]) -> ExecutionResult:
    return ExecutionResult(data, None)
