"""Schemathesis fuzzing of authql's live GraphQL schema over HTTP, for long runs.

    uv run python bench/fuzz.py --examples 1000              # starts Mongo, Redis, an SMTP sink and the app
                                                             # (~40 000 cases, ~15 min on 2 cores)
    uv run python bench/fuzz.py --examples 300 --seed 7      # another seed, another run
    uv run python bench/fuzz.py --only login --examples 5000 # operations whose label holds "login"
    uv run python bench/fuzz.py --url http://127.0.0.1:8000 --token <accessToken>   # a running server

Without --url the script starts nx-27017, redis-server and an SMTP sink in a temporary
directory and serves `create_app` on a free port with uvicorn, the way tests/test_fuzz.py
does in CI (where the same fuzzer runs bounded and seeded). With --url it fuzzes that
server: no mail is readable there, so protected operations are fuzzed signed in only with
--token, and forged tokens are signed with the real key only with --jwt-secret.

What is fuzzed (--examples is per operation and per kind):
  * every query and mutation of the schema read from the server by introspection, with
    schemathesis-generated documents: valid ones (positive), anonymous and, for protected
    fields, signed in as a real user; and invalid ones (negative);
  * valid documents whose string arguments are swapped for values the server knows
    (a real email, password, registrationId, code, refresh token, session id...) so the
    fuzzer gets past the first "unknown flow" answer into the deep paths;
  * the Authorization header (garbage, alg none, wrong key, right key with bad claims);
  * the HTTP request itself (bodies, content types, variables, GET parameters, batches).

The policy every response must keep: HTTP status below 500; a JSON object body; every
error with `extensions.code` in ALLOWED_CODES and never INTERNAL_SERVER_ERROR (an
unexpected exception) or SERVICE_UNAVAILABLE (the backends are up); protected fields
answer UNAUTHENTICATED without a token; invalid documents are refused; no traceback,
exception class or library name that the request did not itself contain.

Prints a summary (operations, cases, outcomes, failures) and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import string
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import graphql
import hypothesis
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/fuzz.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
GRAPHQL_PATH = "/graphql"
HTTP_TIMEOUT = 30

ALLOWED_CODES = frozenset(
    {
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST",
        "UNAUTHENTICATED",
        "SERVICE_UNAVAILABLE",
        "INTERNAL_SERVER_ERROR",
        "PAYLOAD_TOO_LARGE",
        "NOT_FOUND",
    }
)
# INTERNAL_SERVER_ERROR is an unexpected exception: a bug. SERVICE_UNAVAILABLE: the
# backends are up while we fuzz, so it would be a bug too (or a misclassified one).
FORBIDDEN_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})
# Nothing ran: the request itself was refused.
REQUEST_ERROR_CODES = frozenset(
    {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_REQUEST", "PAYLOAD_TOO_LARGE"}
)
PROTECTED = frozenset(
    {"me", "sessions", "updateProfile", "logout", "revokeSession", "changePassword", "deleteAccount"}
)
# Operations that may end the fuzzer's own session or account, whoever calls them.
DISRUPTIVE = frozenset(
    {"logout", "revokeSession", "changePassword", "deleteAccount", "refreshTokens", "completePasswordReset"}
)

# Operations that take a live flow: fresh ones are started before each of them is fuzzed.
FLOW_STEPS = frozenset(
    {
        "resendRegistrationCode",
        "verifyRegistrationCode",
        "setRegistrationPassword",
        "completeRegistration",
        "resendPasswordResetCode",
        "completePasswordReset",
    }
)

# What an unmasked exception looks like in a response. A match the request itself
# contained (an echoed input) does not count.
LEAKS = re.compile(
    "|".join(
        [
            r"Traceback \(most recent call last\)",
            r'File "[^"]*", line \d+',
            r"\b[A-Za-z_][\w.]*(?:Error|Exception|Warning)\b:",  # ValueError:, not "Syntax Error:"
            r"\b(?:pymongo|bson|beanie|motor|redis\.exceptions|pydantic|pydantic_core|strawberry|starlette)\b",
            r"\b(?:argon2|jwt\.exceptions|aiosmtplib|email_validator|phonenumbers|uvicorn|asyncio)\b",
            r"\bvalidation errors? for \w+",  # pydantic's ValidationError
            r"\[type=\w+",  # pydantic's error entries
            r"<[\w.]+ object at 0x[0-9a-fA-F]+>",
            r"\bNoneType\b|object has no attribute|not subscriptable|unhashable type|positional argument",
            r"\bE11000\b|\bWRONGTYPE\b|\bNOSCRIPT\b|user_script:\d+",
        ]
    )
)


class PolicyViolation(AssertionError):
    """A response broke the error policy; the message holds the request and the response."""


def check_response(
    status: int,
    text: str,
    *,
    sent: str,
    field_name: str | None = None,
    anonymous_protected: bool = False,
    negative: bool = False,
) -> dict[str, Any] | None:
    """The decoded body, or PolicyViolation naming every way the response broke the policy.

    `sent` is everything the request carried (echoed inputs are not leaks);
    `anonymous_protected`: a protected field asked for without a token;
    `negative`: a document the schema does not allow.
    """
    problems: list[str] = []
    if status >= 500:
        problems.append(f"HTTP {status}")
    payload: Any = None
    try:
        payload = json.loads(text)
    except ValueError:
        problems.append("the body is not JSON")
    scanned = text
    if payload is not None:
        if not isinstance(payload, dict):
            problems.append("the body is not a JSON object")
        else:
            scanned += "\n" + json.dumps(payload, ensure_ascii=False)  # \u escapes decoded
            problems.extend(_payload_problems(payload, field_name, anonymous_protected, negative))
    for match in LEAKS.finditer(scanned):
        if match.group(0) not in sent:
            problems.append(f"leaks {match.group(0)!r}")
    if problems:
        raise PolicyViolation(
            "; ".join(dict.fromkeys(problems))
            + f"\n--- request ---\n{_clip(sent)}\n--- response (HTTP {status}) ---\n{_clip(text)}"
        )
    return payload if isinstance(payload, dict) else None


def _payload_problems(
    payload: dict[str, Any], field_name: str | None, anonymous_protected: bool, negative: bool
) -> Iterator[str]:
    unknown = set(payload) - {"data", "errors", "extensions"}
    if unknown:
        yield f"unexpected top-level keys {sorted(unknown)}"
    errors = payload.get("errors")
    codes: list[Any] = []
    if errors is not None:
        if not isinstance(errors, list) or not errors:
            yield "`errors` is not a non-empty list"
            errors = []
        for error in errors:
            if not isinstance(error, dict) or not isinstance(error.get("message"), str):
                yield f"an error without a message: {error!r}"
                continue
            extensions = error.get("extensions")
            code = extensions.get("code") if isinstance(extensions, dict) else None
            codes.append(code)
            if code is None:
                yield f"an error without extensions.code: {error['message']!r}"
            elif code in FORBIDDEN_CODES:
                yield f"{code}: {error['message']!r}"
            elif code not in ALLOWED_CODES:
                yield f"unknown error code {code!r}"
    data = payload.get("data")
    if not errors and data is None:
        yield "neither data nor errors"
    if data is not None and not isinstance(data, dict):
        yield "`data` is not an object"
    if anonymous_protected:
        if isinstance(data, dict) and data.get(field_name) is not None:
            yield f"protected field {field_name} answered without a valid token"
        if not any(code == "UNAUTHENTICATED" or code in REQUEST_ERROR_CODES for code in codes):
            yield f"protected field {field_name} without a token did not answer UNAUTHENTICATED"
    if negative and not any(code in REQUEST_ERROR_CODES for code in codes):
        yield "a document the schema does not allow was accepted"


def _clip(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def sent_text(document: str | None, *extra: str) -> str:
    """The raw document, each of its string literals decoded, and `extra` (headers, variables)."""
    parts = [document or "", *extra]
    if document:
        with contextlib.suppress(graphql.GraphQLError, RecursionError):
            parts.extend(
                node.value
                for node in _walk(graphql.parse(document))
                if isinstance(node, graphql.StringValueNode)
            )
    return "\n".join(parts)


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, graphql.Node):
            yield current
            stack.extend(getattr(current, key) for key in current.keys)
        elif isinstance(current, (tuple, list)):
            stack.extend(current)


# --- Values the server knows, so fuzzed documents reach past "unknown flow" ---------------

# Argument or input field name -> the kind of known value it takes.
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


# --- The fuzzer's own account ----------------------------------------------------------------

USER = "id email"
AUTH = f"... on AuthPayload {{ accessToken refreshToken sessionId user {{ {USER} }} }}"
PROBLEM = "... on Problem { __typename message }"
START = f"""mutation($email: String!) {{ startRegistration(email: $email) {{ __typename
  ... on RegistrationStarted {{ registrationId }} {PROBLEM} }} }}"""
VERIFY = f"""mutation($id: ID!, $code: String!) {{ verifyRegistrationCode(registrationId: $id, code: $code) {{
  __typename ... on RegistrationVerified {{ registrationToken }} {PROBLEM} }} }}"""
SET_PASSWORD = f"""mutation($token: String!, $password: String!) {{
  setRegistrationPassword(registrationToken: $token, password: $password) {{ __typename {PROBLEM} }} }}"""
COMPLETE = f"""mutation($token: String!, $profile: ProfileInput!) {{
  completeRegistration(registrationToken: $token, profile: $profile) {{ __typename {AUTH} {PROBLEM} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ __typename {AUTH} {PROBLEM} }} }}"""
START_RESET = f"""mutation($email: String!) {{ startPasswordReset(email: $email) {{ __typename
  ... on PasswordResetStarted {{ resetId }} {PROBLEM} }} }}"""
WHO = "{ me { id email } sessions { id current } }"
PROFILE = {"firstName": "Fuzz", "lastName": "Tester", "phone": "+14155550123"}


class GraphQLClient:
    """Plain GraphQL over HTTP with requests, for the setup calls the fuzzer makes itself."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.url = base_url.rstrip("/") + GRAPHQL_PATH
        self.session = session

    def body(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=HTTP_TIMEOUT,
        )
        check_response(response.status_code, response.text, sent=query + json.dumps(variables))
        return response.json()

    def field(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The single root field's value; AssertionError on any top-level error."""
        body = self.body(query, variables, token)
        if body.get("errors"):
            raise AssertionError(f"setup call failed: {body}")
        return next(iter(body["data"].values()))


class Account:
    """A real user the fuzzer signs in as; registered again whenever the fuzzing took it away
    (password changed or reset, account deleted, login locked). Without `read_code` it only
    holds a given token."""

    PASSWORD = "fuzzing horse battery staple"

    def __init__(
        self,
        client: GraphQLClient,
        pool: Pool,
        read_code: Callable[[str], str] | None = None,
        token: str | None = None,
    ) -> None:
        self.client = client
        self.pool = pool
        self.read_code = read_code
        self.email: str | None = None
        self.user_id: str | None = None
        self.session_id: str | None = None
        self._token = token
        self.dirty = token is not None
        self.renewals = 0

    def token(self) -> str | None:
        """A valid access token, checked again after anything that may have revoked it."""
        if self._token is not None and not self.dirty:
            return self._token
        if self._token is not None and self._still_valid():
            self.dirty = False
            return self._token
        if self.read_code is None:
            return self._token  # a given token: nothing to renew it with
        self.renewals += 1
        if not self._login():
            self._register()
        self.dirty = False
        return self._token

    def _still_valid(self) -> bool:
        body = self.client.body(WHO, token=self._token)
        if body.get("errors"):
            return False
        self.pool.capture(body["data"])
        return True

    def _login(self) -> bool:
        if self.email is None:
            return False
        result = self.client.field(LOGIN, {"email": self.email, "password": self.PASSWORD})
        if result["__typename"] != "AuthPayload":
            return False
        self._signed_in(result)
        return True

    def _register(self) -> None:
        assert self.read_code is not None
        email = f"fuzz-{secrets.token_hex(6)}@example.com"
        token = self._verified(email)
        password_set = self.client.field(SET_PASSWORD, {"token": token, "password": self.PASSWORD})
        assert password_set["__typename"] == "RegistrationPasswordSet", password_set
        result = self.client.field(COMPLETE, {"token": token, "profile": PROFILE})
        assert result["__typename"] == "AuthPayload", result
        self.email = email
        self._signed_in(result)
        self.seed_flows()

    def _verified(self, email: str) -> str:
        """Registration steps 1 and 2 for `email`: the registration token."""
        assert self.read_code is not None
        started = self.client.field(START, {"email": email})
        assert started["__typename"] == "RegistrationStarted", started
        verified = self.client.field(VERIFY, {"id": started["registrationId"], "code": self.read_code(email)})
        assert verified["__typename"] == "RegistrationVerified", verified
        return str(verified["registrationToken"])

    def _signed_in(self, payload: dict[str, Any]) -> None:
        self._token = payload["accessToken"]
        self.user_id = payload["user"]["id"]
        self.session_id = payload["sessionId"]
        self.pool.add("email", self.email)
        self.pool.add("password", self.PASSWORD)
        self.pool.capture(payload)

    def seed_flows(self) -> None:
        """Live flows for the fuzzer to find in the pool: a started registration and a started
        reset (their codes in the mailbox), a verified registration, and one with its password
        set, so fuzzed documents reach the later steps too."""
        if self.read_code is None or self.email is None:
            return
        self.pool.capture(self.client.field(START, {"email": f"fuzz-{secrets.token_hex(6)}@example.com"}))
        self.pool.capture(self.client.field(START_RESET, {"email": self.email}))
        self.pool.add("registrationToken", self._verified(f"fuzz-{secrets.token_hex(6)}@example.com"))
        token = self._verified(f"fuzz-{secrets.token_hex(6)}@example.com")
        self.client.field(SET_PASSWORD, {"token": token, "password": self.PASSWORD})
        self.pool.add("registrationToken", token)


# --- Strategies for the Authorization header and the raw HTTP request ------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)


def _json_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)


json_values = st.recursive(json_scalars, _json_containers, max_leaves=12)
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=200
).map(str.lstrip)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenFacts:
    """What a forger could know: the issuer, the audience, perhaps the key, real ids."""

    issuer: str = "authql"
    audience: str = "authql"
    secret: str | None = None
    account: Account | None = None


@st.composite
def authorization_headers(draw: Any, facts: TokenFacts) -> str:
    """Authorization values from garbage to near-valid tokens signed with the real key."""
    now = int(time.time())
    account = facts.account
    real = account.token() if account is not None and draw(st.integers(0, 3)) == 0 else None
    claims: dict[str, Any] = {
        "iss": facts.issuer,
        "aud": facts.audience,
        "sub": (account.user_id if account else None) or "0" * 24,
        "sid": (account.session_id if account else None) or secrets.token_urlsafe(16),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "fuzz",
    }
    for name in draw(st.lists(st.sampled_from(sorted(claims)), unique=True, max_size=3)):
        if draw(st.booleans()):
            del claims[name]
        else:
            claims[name] = draw(json_values | st.text(string.hexdigits, min_size=24, max_size=24))
    header = {"alg": "HS256", "typ": "JWT"}
    if draw(st.integers(0, 4)) == 0:
        header = draw(st.dictionaries(st.sampled_from(["alg", "typ", "kid", "jku", "crit"]), json_values))
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    key = draw(st.sampled_from([facts.secret, "not-the-secret"] if facts.secret else ["not-the-secret"]))
    signature = b64(hashlib.sha256(signing_input.encode()).digest())
    signed = signing_input + "." + b64(hmac.new(key.encode(), signing_input.encode(), "sha256").digest())
    tampered = [real, real[:-3], real + "x", real.swapcase()] if real else [signed] * 4
    token = draw(
        st.sampled_from(
            [
                signed,
                signing_input + ".",  # alg none
                signing_input + "." + signature,  # a plain hash, no key
                *tampered,  # as many entries either way: hypothesis replays cases by their draws
            ]
        )
        | st.text(URLSAFE + ".", max_size=300)
        | header_text
    )
    scheme = draw(
        st.sampled_from(["Bearer ", "bearer ", "BEARER ", "Bearer  ", "Bearer\t", "Basic ", "", "Bearer"])
    )
    return (scheme + token).lstrip() if draw(st.integers(0, 9)) else draw(header_text)


@dataclass
class RawRequest:
    method: str
    headers: dict[str, str]
    params: dict[str, str] | None = None
    body: bytes | None = None

    def describe(self) -> str:
        body = (self.body or b"").decode("utf-8", "replace")
        return f"{self.method} {GRAPHQL_PATH} params={self.params} headers={self.headers}\n{body}"


# Valid documents with variables: the fuzzed part is the variables (and operationName).
DOCUMENTS = [
    START,
    VERIFY,
    LOGIN,
    COMPLETE,
    "mutation($input: ProfileUpdateInput!) { updateProfile(input: $input) { __typename } }",
    "mutation($scope: LogoutScope!) { logout(scope: $scope) { revokedSessions } }",
    "mutation($id: ID!) { revokeSession(id: $id) { __typename } }",
    "mutation($t: String!) { refreshTokens(refreshToken: $t) { __typename } }",
    "query Me { me { id } } query Sessions { sessions { id } }",
    "query($n: Int, $f: Float, $b: Boolean, $s: [String!]) { __typename }",
    "subscription { me { id } }",
    "{ __schema { queryType { name } } }",
    "query { a: __typename b: __typename }",
    "fragment F on Query { __typename } query { ...F ...F }",
    "query { " + "me { " * 20 + "}" * 21,
    "{" + " __typename" * 3000 + " }",
]
variable_names = st.sampled_from(
    ["email", "id", "code", "password", "token", "profile", "input", "scope", "t"]
)
variables = st.dictionaries(variable_names | st.text(max_size=8), json_values, max_size=4) | json_values
documents = st.sampled_from(DOCUMENTS) | st.text(max_size=200) | json_values
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "application/graphql",
        "application/graphql-response+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=fuzz",
        "",
    ]
)


JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
# Requests that broke the policy once, tried first by every run of fuzz_requests.
EXPLICIT_REQUESTS = {
    # Not UTF-8: json.loads(bytes) raises UnicodeDecodeError, which strawberry's parse_json
    # does not turn into a 400 (it catches JSONDecodeError only): HTTP 500, plain text.
    "not-utf8-body": RawRequest("POST", JSON_HEADERS, body=b"\x80"),
    # Leading NULs make json.detect_encoding pick UTF-32/UTF-16; the rest does not decode.
    "truncated-utf32-body": RawRequest("POST", JSON_HEADERS, body=b"\x00\x00\x00\x00\x00"),
    "truncated-utf16-body": RawRequest("POST", JSON_HEADERS, body=b"\xff\xfe\x00"),
    # A JSON scalar, not an object: strawberry's parse_http_body calls data.get(...) on it.
    "number-body": RawRequest("POST", JSON_HEADERS, body=b"5"),
    "null-body": RawRequest("POST", JSON_HEADERS, body=b"null"),
    "string-body": RawRequest("POST", JSON_HEADERS, body=b'"{ __typename }"'),
}


@st.composite
def raw_requests(draw: Any) -> RawRequest:
    """Whole HTTP requests to /graphql: odd bodies, content types, variables, GET parameters."""
    kinds = ["json", "json", "json", "batch", "scalar", "bytes", "multipart", "get", "huge"]
    kind = draw(st.sampled_from(kinds))
    headers = {"Accept": "application/json"}
    if kind == "get":
        params = {"query": draw(st.sampled_from(DOCUMENTS) | st.text(max_size=100))}
        for name in draw(
            st.lists(st.sampled_from(["variables", "operationName", "extensions"]), unique=True)
        ):
            params[name] = draw(st.text(max_size=60) | variables.map(json.dumps))
        return RawRequest("GET", headers, params=params)
    headers["Content-Type"] = draw(content_types) if kind in ("bytes", "multipart") else "application/json"
    if kind == "bytes":
        return RawRequest("POST", headers, body=draw(st.binary(max_size=300)))
    if kind == "scalar":
        return RawRequest("POST", headers, body=json.dumps(draw(json_scalars)).encode())
    if kind == "huge":
        size = draw(st.sampled_from([70_000, 200_000]))
        return RawRequest(
            "POST", headers, body=json.dumps({"query": "{ __typename }", "x": "y" * size}).encode()
        )
    if kind == "multipart":
        headers["Content-Type"] = "multipart/form-data; boundary=fuzz"
        parts = [
            f'--fuzz\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(["operations", "map", "query", "0", "file"])
                        | st.text(URLSAFE, max_size=5),
                        st.text(max_size=60) | json_values.map(json.dumps),
                    ),
                    max_size=3,
                )
            )
        ]
        return RawRequest("POST", headers, body=("".join(parts) + "--fuzz--\r\n").encode())
    request = {"query": draw(documents)}
    for name in draw(st.lists(st.sampled_from(["variables", "operationName", "extensions"]), unique=True)):
        request[name] = draw(variables if name == "variables" else json_values)
    body: Any = request if kind == "json" else draw(st.lists(st.just(request), max_size=3))
    return RawRequest("POST", headers, body=json.dumps(body).encode())


# --- Running -----------------------------------------------------------------------------------


@dataclass
class Stats:
    cases: Counter[str] = field(default_factory=Counter)
    outcomes: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)

    def record(self, key: str, payload: dict[str, Any] | None) -> None:
        """One case: its error codes, else the __typename of each root field answered."""
        self.cases[key] += 1
        codes = [
            (error.get("extensions") or {}).get("code", "?")
            for error in (payload or {}).get("errors") or []
            if isinstance(error, dict)
        ]
        data = (payload or {}).get("data") or {}
        answers = [
            value.get("__typename", "data") if isinstance(value, dict) else "data" for value in data.values()
        ]
        self.outcomes[key].update(codes or answers or ["data"])

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        lines = [f"{'cases':>6}  fuzzed  (outcomes)"]
        for key, count in sorted(self.cases.items()):
            outcomes = ", ".join(f"{name} {n}" for name, n in self.outcomes[key].most_common())
            lines.append(f"{count:>6}  {key}  ({outcomes})")
        lines.append(f"{self.total:>6}  cases in all, {len(self.failures)} failing")
        return "\n".join(lines)


class Target:
    """A live authql server, its schema read by introspection over HTTP, and what the fuzzer
    knows about it. Blocking: call from a thread, not from the server's event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        read_code: Callable[[str], str] | None = None,
        codes: Callable[[], list[str]] | None = None,
        token: str | None = None,
        facts: TokenFacts | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "authql-fuzz"
        self.schema = schemathesis.graphql.from_url(self.base_url + GRAPHQL_PATH, timeout=HTTP_TIMEOUT)
        self.pool = Pool(codes)
        self.client = GraphQLClient(self.base_url, self.session)
        self.account = Account(self.client, self.pool, read_code, token) if read_code or token else None
        self.facts = facts or TokenFacts()
        self.facts.account = self.account
        self.stats = Stats()
        if self.account is not None:
            self.account.token()

    def close(self) -> None:
        self.session.close()

    def operations(self) -> list[str]:
        return [result.ok().label for result in self.schema.get_all_operations()]

    def has_arguments(self, label: str) -> bool:
        return bool(self.schema.find_operation_by_label(label).definition.raw.args)

    def fuzz_operation(
        self,
        label: str,
        *,
        mode: GenerationMode = GenerationMode.POSITIVE,
        authenticated: bool = False,
        examples: int = 30,
        seed: int | None = None,
    ) -> None:
        """`examples` schemathesis cases for `label`; raises the first policy violation (shrunk)."""
        if authenticated and self.account is None:
            raise ValueError("no account to sign in with: pass read_code or token")
        operation = self.schema.find_operation_by_label(label)
        field_name = label.split(".", 1)[1]
        key = f"{label} {mode.value}" + (" signed-in" if authenticated else "")
        if mode is GenerationMode.POSITIVE and field_name in FLOW_STEPS and self.account is not None:
            self.account.seed_flows()
        strategy = fuzz_cases(operation, mode, self.pool if mode is GenerationMode.POSITIVE else None)

        def send(case: Any) -> None:
            case.body = with_root_typename(case.body)  # for the summary: which union member came back
            headers = {}
            if authenticated:
                assert self.account is not None
                headers["Authorization"] = f"Bearer {self.account.token()}"
            response = case.call(session=self.session, headers=headers, timeout=HTTP_TIMEOUT)
            negative = case.meta is not None and case.meta.generation.mode.is_negative
            payload = check_response(
                response.status_code,
                response.content.decode("utf-8", "replace"),
                sent=sent_text(case.body),
                field_name=field_name,
                anonymous_protected=field_name in PROTECTED and not authenticated,
                negative=negative,
            )
            self.stats.record(key, payload)
            self.pool.capture(payload)
            if field_name in DISRUPTIVE and self.account is not None:
                self.account.dirty = True

        self._run(hypothesis.given(strategy)(send), examples, seed)

    def fuzz_authorization(self, examples: int = 60, seed: int | None = None) -> None:
        """Protected fields with fuzzed Authorization headers: data or UNAUTHENTICATED, nothing else."""

        def send(authorization: str) -> None:
            response = self.session.post(
                self.base_url + GRAPHQL_PATH,
                json={"query": WHO},
                headers={"Authorization": authorization},
                timeout=HTTP_TIMEOUT,
            )
            payload = check_response(response.status_code, response.text, sent=WHO + "\n" + authorization)
            self.stats.record("Authorization header", payload)

        self._run(hypothesis.given(authorization_headers(self.facts))(send), examples, seed)

    def fuzz_requests(self, examples: int = 80, seed: int | None = None, explicit: bool = True) -> None:
        """Whole HTTP requests: bodies, content types, variables, GET, batches, oversize;
        EXPLICIT_REQUESTS first unless `explicit` is false."""

        def send(request: RawRequest) -> None:
            self.send_request(request)

        test = hypothesis.given(raw_requests())(send)
        for request in EXPLICIT_REQUESTS.values() if explicit else ():
            test = hypothesis.example(request)(test)
        self._run(test, examples, seed)

    def send_request(self, request: RawRequest) -> dict[str, Any] | None:
        """One whole request, its response checked against the policy; the decoded body."""
        response = self.session.request(
            request.method,
            self.base_url + GRAPHQL_PATH,
            params=request.params,
            data=request.body,
            headers=request.headers,
            timeout=HTTP_TIMEOUT,
        )
        payload = check_response(
            response.status_code,
            response.content.decode("utf-8", "replace"),
            sent=request.describe() + "\n" + sent_text(_document_of(request)),
        )
        self.stats.record("HTTP requests", payload)
        if self.account is not None:
            self.account.dirty = True  # a valid document may have logged out a captured session
        return payload

    def _run(self, test: Callable[[], None], examples: int, seed: int | None) -> None:
        test = hypothesis.settings(
            max_examples=examples,
            derandomize=seed is None,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
            print_blob=False,
        )(test)
        if seed is not None:
            test = hypothesis.seed(seed)(test)
        test()


def _document_of(request: RawRequest) -> str | None:
    if request.params:
        return request.params.get("query")
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        body = json.loads(request.body or b"")
        document = body.get("query") if isinstance(body, dict) else None
        return document if isinstance(document, str) else None
    return None


def code_in(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("plain",))
    match = CODE_IN_MAIL.search(part.get_content()) if part is not None else None
    return match.group(1) if match else None


def mail_readers(
    messages: Callable[[], list[EmailMessage]], timeout: float = 10.0
) -> tuple[Callable[[str], str], Callable[[], list[str]]]:
    """(read_code(email): the code of the first mail to `email`, waiting for it; codes(): the
    codes of every mail so far) over a list of received messages another thread appends to."""

    def read_code(email: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(messages()):
                if message["To"] == email and (code := code_in(message)):
                    return code
            time.sleep(0.02)
        raise AssertionError(f"no mail with a code for {email}")

    def codes() -> list[str]:
        return [code for message in list(messages())[-40:] if (code := code_in(message))]

    return read_code, codes


def run_all(target: Target, *, examples: int, seed: int | None, only: str | None = None) -> Stats:
    """Every kind of fuzzing at `examples` per operation and kind; failures are collected."""
    jobs: list[tuple[str, Callable[[int | None], None]]] = []
    for label in target.operations():
        if only and only.lower() not in label.lower():
            continue
        jobs.append((f"{label} positive", _job(target.fuzz_operation, label, examples=examples)))
        if target.has_arguments(label):
            negative = _job(target.fuzz_operation, label, mode=GenerationMode.NEGATIVE, examples=examples)
            jobs.append((f"{label} negative", negative))
        if label.split(".", 1)[1] in PROTECTED and target.account is not None:
            signed_in = _job(target.fuzz_operation, label, authenticated=True, examples=examples)
            jobs.append((f"{label} signed-in", signed_in))
    if not only:
        jobs.append(("Authorization header", _job(target.fuzz_authorization, examples=examples)))
        jobs.append(("HTTP requests", _job(target.fuzz_requests, examples=examples)))
    for index, (name, job) in enumerate(jobs):
        started = time.monotonic()
        try:
            job(None if seed is None else seed + index)
            status = "ok"
        except Exception as error:  # every kind of failure is reported, then the next job runs
            status = "FAILED"
            target.stats.failures.append(f"{name}: {type(error).__name__}: {error}")
        print(f"[{index + 1}/{len(jobs)}] {name}: {status} ({time.monotonic() - started:.1f}s)", flush=True)
    return target.stats


def _job(method: Callable[..., None], *args: Any, **kwargs: Any) -> Callable[[int | None], None]:
    return lambda seed: method(*args, seed=seed, **kwargs)


# --- Serving the app for a fuzz run ------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process that runs it keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None, startup_timeout: float = 30.0) -> AsyncIterator[str]:
    """`app` served by uvicorn on 127.0.0.1 in the running loop, lifespan included, until
    /health/ready answers 200; yields the base URL, then stops the server."""
    import httpx  # noqa: PLC0415 - only needed here

    from embedded import free_port  # noqa: PLC0415

    port = port or free_port()
    # proxy_headers off as in production: the app's TRUSTED_PROXIES alone reads X-Forwarded-For.
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    base_url = f"http://{HOST}:{port}"
    try:
        deadline = asyncio.get_running_loop().time() + startup_timeout
        async with httpx.AsyncClient(base_url=base_url) as client:
            while True:
                if task.done():
                    task.result()
                    raise RuntimeError("the server stopped during start-up")
                if server.started:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get("/health/ready")).status_code == 200:
                            break
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{base_url} was not ready in {startup_timeout}s")
                await asyncio.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)


class MailSink:
    """An SMTP server that keeps what it receives, for reading codes."""

    def __init__(self) -> None:
        import email  # noqa: PLC0415
        import email.policy  # noqa: PLC0415

        from aiosmtpd.controller import Controller  # noqa: PLC0415

        from embedded import free_port  # noqa: PLC0415

        self.messages: list[EmailMessage] = []
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname=HOST, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def fuzz_settings(base: dict[str, Any]) -> dict[str, Any]:
    """Overrides for an app under fuzzing: per-IP limits out of the way (one fuzzing IP), cheap
    argon2 so login-shaped cases do not dominate the run, a generous mail budget."""
    from settings import RATE_LIMITED_OPERATIONS, Settings  # noqa: PLC0415

    overrides: dict[str, Any] = {
        **{f"rate_limit_{operation}": "100000/minute" for operation in RATE_LIMITED_OPERATIONS},
        "argon2_time_cost": 2,
        "argon2_memory_kib": 19_456,
        "argon2_parallelism": 1,
        "mails_per_hour": 1_000_000,
        "introspection": True,  # the fuzzer reads the schema by introspection
        "mails_per_ip_per_hour": 1_000_000,
        "code_failures_per_address_per_day": 100,
        **base,
    }
    return {
        name: value for name, value in overrides.items() if name in Settings.model_fields or name[0] == "_"
    }


async def fuzz_embedded(args: argparse.Namespace) -> Stats:
    """Start the backends, a mail sink and the app; fuzz it from a worker thread."""
    from embedded import start_mongo, start_redis, stop_services  # noqa: PLC0415
    from server import create_app  # noqa: PLC0415
    from settings import Settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="authql-fuzz-") as data_dir:
        services = []
        sink = MailSink()
        try:
            services.append(start_mongo(Path(data_dir)))
            services.append(start_redis(Path(data_dir)))
            secret = secrets.token_urlsafe(48)
            settings = Settings(
                **fuzz_settings(
                    {
                        "_env_file": None,
                        "mongo_url": services[0].url,
                        "redis_url": services[1].url,
                        "mongo_db": "authql_fuzz",
                        "jwt_secret": secret,
                        "smtp_host": HOST,
                        "smtp_port": sink.port,
                        "smtp_security": "none",
                    }
                )
            )
            async with serving(create_app(settings)) as base_url:
                print(f"fuzzing {base_url} (Mongo {services[0].url}, Redis {services[1].url})", flush=True)
                read_code, codes = mail_readers(lambda: sink.messages)
                facts = TokenFacts(settings.jwt_issuer, settings.jwt_audience, secret)
                return await asyncio.to_thread(
                    _fuzz, base_url, args, read_code=read_code, codes=codes, facts=facts
                )
        finally:
            sink.stop()
            stop_services(services)


def _fuzz(base_url: str, args: argparse.Namespace, **target_kwargs: Any) -> Stats:
    target = Target(base_url, **target_kwargs)
    try:
        return run_all(target, examples=args.examples, seed=args.seed, only=args.only)
    finally:
        target.close()


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="cases per operation and kind (200)")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: derandomized)")
    parser.add_argument("--only", default=None, help="fuzz only operations whose label holds this")
    parser.add_argument("--url", default=None, help="fuzz this running server instead of starting one")
    parser.add_argument("--token", default=None, help="with --url: an access token for protected fields")
    parser.add_argument("--jwt-secret", default=None, help="with --url: its HS256 secret, to forge tokens")
    parser.add_argument("--issuer", default="authql", help="with --url: its JWT_ISSUER")
    parser.add_argument("--audience", default="authql", help="with --url: its JWT_AUDIENCE")
    args = parser.parse_args(None if argv is None else list(argv))
    started = time.monotonic()
    if args.url:
        facts = TokenFacts(args.issuer, args.audience, args.jwt_secret)
        stats = _fuzz(args.url, args, token=args.token, facts=facts)
    else:
        stats = asyncio.run(fuzz_embedded(args))
    print(stats.summary())
    for failure in stats.failures:
        print(f"\nFAILURE {failure}")
    operations = len({key.split(" ")[0] for key in stats.cases if "." in key.split(" ")[0]})
    print(
        f"\n{operations} operations, {stats.total} cases, {len(stats.failures)} failures "
        f"in {time.monotonic() - started:.0f}s"
    )
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
