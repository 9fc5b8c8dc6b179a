"""Values the server knows (ids, tokens, codes), so fuzzed documents reach past "unknown flow"."""

from __future__ import annotations

import re
import string
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import graphql
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

ARGUMENT_KINDS = {
    "email": "email",
    "password": "password",
    "currentPassword": "password",
    "newPassword": "password",
    "registrationId": "registrationId",
    "resetId": "resetId",
    "registrationToken": "registrationToken",
    "refreshToken": "refreshToken",
    "id": "id",
    "code": "code",
}
# Response key -> the kind of value it holds.
CAPTURED_KEYS = {
    "registrationId": "registrationId",
    "resetId": "resetId",
    "registrationToken": "registrationToken",
    "refreshToken": "refreshToken",
    "sessionId": "id",
    "id": "id",
}
CODE_IN_MAIL = re.compile(r"^\s*(\d{6,10})\s*$", re.MULTILINE)
URLSAFE = string.ascii_letters + string.digits + "-_"


class Pool:
    """Recent values of each kind: seeded by the fuzzer's account, grown from responses."""

    def __init__(self, codes: Callable[[], list[str]] | None = None, size: int = 24) -> None:
        self._values: defaultdict[str, deque[str]] = defaultdict(lambda: deque(maxlen=size))
        self._codes = codes
        self._lock = threading.Lock()

    def add(self, kind: str, value: str | None) -> None:
        if not value:
            return
        with self._lock:
            values = self._values[kind]
            if value not in values:
                values.append(value)

    def get(self, kind: str) -> list[str]:
        with self._lock:
            values = list(self._values[kind])
        if kind == "code" and self._codes is not None:
            values.extend(self._codes()[-12:])
        return values

    def capture(self, value: Any, *, of_user: bool = False) -> None:
        """Remember every id, token and handle in a response body; the `id` of a user
        (under `user` or `me`) is kept apart from session ids."""
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and key in CAPTURED_KEYS:
                    self.add("userId" if of_user and key == "id" else CAPTURED_KEYS[key], item)
                else:
                    self.capture(item, of_user=key in ("user", "me"))
        elif isinstance(value, list):
            for item in value:
                self.capture(item, of_user=of_user)


def realistic(name: str) -> st.SearchStrategy[str]:
    """Plausible and borderline values for an argument or input field called `name`."""
    kind = ARGUMENT_KINDS.get(name, name)
    if kind == "email":
        return st.emails() | st.sampled_from(
            [
                "fuzz@example.com",
                "  Fuzz@Example.COM ",
                "a@b",
                "@example.com",
                "x@",
                "x" * 250 + "@example.com",
            ]
        )
    if kind == "password":
        return st.text(max_size=140) | st.sampled_from(["correct horse battery staple", "short", "x" * 129])
    if kind in ("registrationId", "resetId", "id"):
        return st.text(URLSAFE, min_size=43, max_size=43) | st.text(URLSAFE, max_size=64)
    if kind in ("registrationToken", "refreshToken"):
        return st.text(URLSAFE + ".", max_size=160)
    if kind == "code":
        return st.from_regex(r"[0-9]{6,10}", fullmatch=True) | st.text(max_size=12)
    if kind == "phone":
        return st.from_regex(r"\+?[0-9 ()-]{0,24}", fullmatch=True) | st.sampled_from(
            ["+14155550123", "+44 20 7946 0018", "+1 415 555 0123 ext. 5", "+999", "+", "", "00"]
        )
    if kind in ("firstName", "lastName"):
        return st.text(max_size=110) | st.sampled_from(
            ["Ada", " ", "x" * 101, "Ada\x00", "Zoë", "\u202eevil"]
        )
    return st.text(max_size=64)


def with_known_values(draw: Callable[[st.SearchStrategy[Any]], Any], document: str, pool: Pool) -> str:
    """`document` with some string arguments (and input fields) swapped for known or plausible values."""
    parsed = graphql.parse(document)

    def value_for(name: str, node: Any) -> Any:
        # Int literals too: hypothesis-graphql writes many ID arguments as integers.
        swappable = isinstance(node, (graphql.StringValueNode, graphql.IntValueNode))
        if not swappable or draw(st.integers(0, 3)) == 0:
            return node
        # The same draws whatever the pool holds: hypothesis replays a case by its draws.
        plausible = draw(realistic(name))
        pick = draw(st.integers(0, 255))
        known = pool.get(ARGUMENT_KINDS[name]) if name in ARGUMENT_KINDS else []
        if not known or pick % 4 == 3:
            return graphql.StringValueNode(value=plausible)
        # Newest first (small picks): the newest code was mailed for the newest flow.
        return graphql.StringValueNode(value=known[-1 - pick // 4 % len(known)])

    class Swap(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            value = value_for(node.name.value, node.value)
            return None if value is node.value else graphql.ArgumentNode(name=node.name, value=value)

        def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> Any:
            value = value_for(node.name.value, node.value)
            return None if value is node.value else graphql.ObjectFieldNode(name=node.name, value=value)

    return graphql.print_ast(graphql.visit(parsed, Swap()))


def with_root_typename(document: str) -> str:
    """`document` with __typename asked of each root field that has a selection set."""
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return document
    typename = graphql.FieldNode(name=graphql.NameNode(value="__typename"))

    def field(node: Any) -> Any:
        if not isinstance(node, graphql.FieldNode) or node.selection_set is None:
            return node
        selections = (*node.selection_set.selections, typename)
        return _replace(node, selection_set=_replace(node.selection_set, selections=selections))

    definitions = [
        _replace(node, selection_set=_replace(node.selection_set, selections=tuple(map(field, selections))))
        if isinstance(node, graphql.OperationDefinitionNode) and (selections := node.selection_set.selections)
        else node
        for node in parsed.definitions
    ]
    return graphql.print_ast(_replace(parsed, definitions=tuple(definitions)))


def _replace(node: Any, **changes: Any) -> Any:
    """A copy of a (frozen) graphql-core AST node with `changes`."""
    return type(node)(**{**{key: getattr(node, key) for key in node.keys if key != "loc"}, **changes})


@st.composite
def fuzz_cases(draw: Any, operation: Any, mode: GenerationMode, pool: Pool | None) -> Any:
    """schemathesis cases for `operation`; positive ones half the time with known values."""
    case = draw(operation.as_strategy(generation_mode=mode))
    if pool is not None and mode is GenerationMode.POSITIVE and draw(st.booleans()):
        case.body = with_known_values(draw, case.body, pool)
    return case
