"""What a request to /graphql may be, decided once for both executors.

- A POST must be `application/json` (the parsed media type, as Strawberry parses it,
  not a substring): `text/plain; application/json` and the like are CORS-safelisted, so a
  browser sends them cross-site without a preflight. Anything else is 415.
- Its body is read and parsed once (UTF-8 JSON holding an object; a lone surrogate is
  refused before any resolver could count an attempt).
- The query text, from the body or from a GET's parameters, is looked up among the
  prepared documents; a text not kept there counts against the caller's DOCUMENTS rate
  limit before it is parsed (429 past it), then is parsed and checked once.
What the gate read travels on the request itself (`GraphQLRequest`), to the short way
and to Strawberry's way alike.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import orjson
from graphql import GraphQLError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from strawberry.http.parse_content_type import parse_content_type

from endpoints.documents import Document, Documents
from endpoints.errors import refused
from schema.error_codes import ErrorCode
from schema.errors import is_backend_failure
from security.client_ip import client_bucket, client_ip

if TYPE_CHECKING:
    from security.rate_limits import RateLimits
    from settings import Settings

JSON = "application/json"
UNSUPPORTED = "Unsupported content type: a GraphQL POST is application/json."
UNENCODABLE = "A string in the request is not valid Unicode (a lone surrogate such as \\ud800)."
# Bodies with more brackets than this go to the standard library, whose verdict on deep
# nesting (RecursionError: 400 "nested too deeply") orjson, which nests to 1024, would skip.
ORJSON_MAX_BRACKETS = 256


class GraphQLRequest(Request):
    """A request to /graphql with what the gate read of it, each read once: the JSON body
    of a POST, and the prepared document its query names."""

    json_body: object = None
    document: Document | None = None


@lru_cache(maxsize=64)  # parsing a media type costs 30 µs, 2 % of a signed-in read
def is_json(content_type: str | None) -> bool:
    """True for the media type `application/json` (any parameters), the only JSON POST.
    Spelled so, as Strawberry's own parsing of the body requires."""
    return parse_content_type(content_type or "")[0] == JSON


def asks_for_page(request: Request, graphiql: bool) -> bool:
    """A browser's GET for the GraphiQL page: without a query as Strawberry decides it
    (text/html or */*), or, with GraphiQL on, a `?query=` link a browser opened (text/html),
    which the page then fills in."""
    if request.method != "GET":
        return False
    accept = request.headers.get("accept", "")
    if request.query_params.get("query") is None:
        return "text/html" in accept or "*/*" in accept
    return graphiql and "text/html" in accept


def answers_one_json(request: GraphQLRequest) -> bool:
    """A POST that asks for one JSON answer (no event stream or multipart subscription):
    the only kind the short way answers."""
    accept = request.headers.get("accept", "")
    return request.method == "POST" and "event-stream" not in accept and "multipart" not in accept


class Gate:
    """The one decision before either executor runs."""

    def __init__(
        self,
        settings: Settings,
        documents: Documents,
        rate_limits: RateLimits,
        answer_error: Callable[[GraphQLRequest, GraphQLError], Awaitable[Response]],
    ) -> None:
        self.settings = settings
        self.documents = documents
        self.rate_limits = rate_limits
        self.answer_error = answer_error  # the view's own answer to a document that does not parse

    async def check(self, request: GraphQLRequest) -> Response | None:
        """The answer that ends the request here, or None (the request then carries its body
        and document)."""
        if request.method == "POST":
            if not is_json(request.headers.get("content-type")):
                return refused(415, UNSUPPORTED, ErrorCode.UNSUPPORTED_MEDIA_TYPE)
            problem = await read_body(request)
            if problem is not None:
                return problem
            body = request.json_body
            query = body.get("query") if isinstance(body, dict) else None
        elif request.method == "GET" and not asks_for_page(request, self.settings.graphiql):
            query = request.query_params.get("query")
        else:
            return None
        if not isinstance(query, str):
            return None  # Strawberry's way says what is missing
        document = self.documents.cached(query)
        if document is None:
            retry_after = await self.documents_allowed(request)
            if retry_after is not None:
                return refused(
                    429,
                    "Too many new documents from this address; send known ones, or wait.",
                    ErrorCode.RATE_LIMITED,
                    {"Retry-After": str(retry_after)},
                )
            try:
                document = self.documents.prepare(query)
            except GraphQLError as error:
                return await self.answer_error(request, error)
        request.document = document
        return None

    async def documents_allowed(self, request: Request) -> int | None:
        """Count one new document against the caller's DOCUMENTS limit: None, or seconds to wait.

        With Redis down or hung the document goes on uncounted: every new document
        failing would take reads down with the limiter, and the resolvers that need
        Redis answer SERVICE_UNAVAILABLE on their own."""
        try:
            return await self.rate_limits.hit("documents", self.client(request)[1])
        except Exception as error:
            if not is_backend_failure(error):
                raise
            return None  # counted and logged where the request's own resolvers meet the outage

    def client(self, request: Request) -> tuple[str | None, str]:
        """The caller's address (TRUSTED_PROXIES decide X-Forwarded-For) and its rate-limit bucket."""
        settings = self.settings
        address = client_ip(
            request.client.host if request.client else None,
            request.headers.getlist("x-forwarded-for"),
            settings.trusted_proxy_networks,
        )
        return address, client_bucket(address, settings.ipv6_prefix_length)


async def read_body(request: GraphQLRequest) -> Response | None:
    """Read and parse a JSON POST's body into `request.json_body`, or the 400 answer for one
    that cannot be a GraphQL request.

    Strawberry expects UTF-8 JSON holding an object (or a list, refused as a batch);
    anything else would reach it as an exception and a 500. A string that cannot be
    UTF-8 encoded (JSON's `\\ud800`, a lone surrogate) is accepted by no hash, HMAC,
    store or log: refused here, before any resolver runs, so nothing is counted for it
    (no lockout attempt, no code attempt).
    """
    raw = await read_all(request)
    try:
        body = parse_body(raw)
    except (UnicodeDecodeError, ValueError):
        return refused(400, "The request body is not valid UTF-8 JSON.", ErrorCode.BAD_REQUEST)
    if not isinstance(body, (dict, list)):
        return refused(400, "The request body must be a JSON object with a `query`.", ErrorCode.BAD_REQUEST)
    # A lone surrogate can only arrive as an escape, `\\uD800` to `\\uDFFF`: look only then.
    if (b"\\ud" in raw or b"\\uD" in raw) and holds_unencodable_text(body):
        return refused(400, UNENCODABLE, ErrorCode.BAD_USER_INPUT)
    request.json_body = body
    return None


async def read_all(request: Request) -> bytes:
    """The whole body, read as `Request.body()` reads it (ClientDisconnect when the client
    hangs up first) and kept where it keeps it, without its stream generator: a body
    nearly always arrives in one message."""
    receive = request.receive
    message = await receive()
    chunks: list[bytes] = []
    while True:
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()
        message = await receive()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._stream_consumed = True
    request._body = body  # what Request.body() answers from now on
    return body


def parse_body(raw: bytes) -> object:
    """orjson for the common case; what orjson refuses (a lone surrogate, NaN, an integer
    over 64 bits) and bodies that could nest deeply get the standard library's verdict,
    as before."""
    if raw.count(b"[") + raw.count(b"{") <= ORJSON_MAX_BRACKETS:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode("utf-8"))


def holds_unencodable_text(body: object) -> bool:
    """True when the parsed JSON body holds a string (or key) that cannot be UTF-8 encoded."""
    pending = [body]
    while pending:  # no recursion: the body's nesting is the client's choice
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
