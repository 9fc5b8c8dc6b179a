"""Hypothesis strategies for the Authorization header and for whole HTTP requests to /graphql."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.fuzzing.account import COMPLETE, LOGIN, START, VERIFY, Account
from tests.fuzzing.policy import GRAPHQL_PATH
from tests.fuzzing.values import URLSAFE

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
