"""Depth and alias limits as graphql-core validation rules, linear in the document's size.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk a fragment again at every
spread, so a document of 40 fragments that each spread the previous one twice costs
2^40 steps on the event loop, and a spread of an unknown fragment raises KeyError.
Here every fragment is measured once (its depth below the spread and the aliases it
expands to), in an order where a fragment's own spreads are measured first; unknown
fragments count as nothing (KnownFragmentNamesRule reports them) and so do spreads
that close a cycle (NoFragmentCyclesRule reports those).

Semantics as before: depth counts nesting of fields below the operation (inline
fragments and spreads add none; fields named `__*`, the introspection fields and
`__typename`, are not descended into; by the field's name, not its alias, so `__x: me`
is counted); aliases are counted as the operation expands them, so a fragment spread
twice counts its aliases twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

from schema.error_codes import ErrorCode

# Set here, so that classify passes these messages even with introspection off: they
# name the client's own operation and numbers, nothing of the schema.
VALIDATION_FAILED = {"code": ErrorCode.GRAPHQL_VALIDATION_FAILED}


@dataclass(frozen=True)
class Measure:
    """How deep a selection set nests below its owner's level, and how many aliases it expands to."""

    depth: int = 0
    aliases: int = 0


def depth_limit_rule(max_depth: int) -> type[ValidationRule]:
    """A rule class refusing operations nested deeper than `max_depth`; build it once."""

    class DepthLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            for operation, measure in measure_operations(node):
                if measure.depth > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    message = f"'{name}' exceeds maximum operation depth of {max_depth}"
                    self.report_error(GraphQLError(message, operation, extensions=dict(VALIDATION_FAILED)))

    return DepthLimit


def alias_limit_rule(max_aliases: int) -> type[ValidationRule]:
    """A rule class refusing documents whose operations expand to over `max_aliases` aliases."""

    class AliasLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            total = sum(measure.aliases for _, measure in measure_operations(node))
            if total > max_aliases:
                message = f"{total} aliases found. Allowed: {max_aliases}"
                self.report_error(GraphQLError(message, extensions=dict(VALIDATION_FAILED)))

    return AliasLimit


def measure_operations(document: DocumentNode) -> list[tuple[OperationDefinitionNode, Measure]]:
    """Each operation of `document` with its measure, every fragment measured once."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    measured: dict[str, Measure] = {}
    for name in fragment_order(fragments):
        measured[name] = measure(fragments[name].selection_set, measured)
    return [
        (definition, measure(definition.selection_set, measured))
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def measure(selection_set: SelectionSetNode | None, fragments: dict[str, Measure]) -> Measure:
    """The measure of one selection set; spreads read `fragments` (missing ones count as nothing)."""
    depth = 0
    aliases = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            aliases += 1 if selection.alias else 0
            if selection.name.value.startswith("__") or selection.selection_set is None:
                inner = Measure(depth=-1, aliases=measure(selection.selection_set, fragments).aliases)
            else:
                inner = measure(selection.selection_set, fragments)
            depth = max(depth, 1 + inner.depth)
            aliases += inner.aliases
        else:
            inner = (
                measure(selection.selection_set, fragments)
                if isinstance(selection, InlineFragmentNode)
                else fragments.get(selection.name.value, Measure())
            )
            depth = max(depth, inner.depth)
            aliases += inner.aliases
    return Measure(depth=depth, aliases=aliases)


def fragment_order(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names with every fragment after the ones it spreads (depth-first post-order,
    iterative: a chain of thousands of fragments must not exhaust the Python stack)."""
    spreads = {name: spread_names(fragment.selection_set) for name, fragment in fragments.items()}
    order: list[str] = []
    state: dict[str, str] = {}  # "open" while its spreads are being ordered, then "done"
    for root in fragments:
        if root in state:
            continue
        state[root] = "open"
        stack = [(root, iter(spreads[root]))]
        while stack:
            name, pending = stack[-1]
            child = next((c for c in pending if c in fragments and c not in state), None)
            if child is None:
                stack.pop()
                state[name] = "done"
                order.append(name)
            else:
                state[child] = "open"
                stack.append((child, iter(spreads[child])))
    return order


def spread_names(selection_set: SelectionSetNode | None) -> list[str]:
    """The fragments spread directly in a selection set (not through other fragments)."""
    names: list[str] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FragmentSpreadNode):
            names.append(selection.name.value)
        else:
            names.extend(spread_names(selection.selection_set))
    return names


def limit_rules(max_depth: int, max_aliases: int) -> list[type[ValidationRule]]:
    """Both rules; built once per schema so the validation cache's key stays the same."""
    return [depth_limit_rule(max_depth), alias_limit_rule(max_aliases)]
