"""Every `errors[].extensions.code` a client may see, in one enum.

The server emits codes only as members of `ErrorCode` (a `StrEnum`, so a member is its
string in JSON and in metric labels), and the schema publishes the same members as the
GraphQL enum `ErrorCode`, so a client can switch over them with generated types.
"""

from __future__ import annotations

from enum import Enum, StrEnum

import strawberry


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    NOT_FOUND = "NOT_FOUND"
    CLIENT_CLOSED_REQUEST = "CLIENT_CLOSED_REQUEST"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    REQUEST_HEADERS_TOO_LARGE = "REQUEST_HEADERS_TOO_LARGE"
    FORBIDDEN = "FORBIDDEN"


# What each code means for a client; the README's error-code table says the same.
DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.UNAUTHENTICATED: (
        'A protected field (every field whose description begins "Requires a valid access token", '
        "and me) was asked for without a valid access token: missing, expired, signed out, or "
        "its session's key lost by Redis. Call refreshTokens once; if that answers InvalidRefreshToken, "
        "the user is signed out. HTTP 200 (401 on /metrics without the metrics token)."
    ),
    ErrorCode.SERVICE_UNAVAILABLE: (
        "Redis or MongoDB is down or hung, or too many password hashes are waiting: nobody's fault, "
        "retry in a moment (unlike the RateLimited answer, which tells a client it asked too often). "
        "HTTP 200."
    ),
    ErrorCode.INTERNAL_SERVER_ERROR: (
        "Something unexpected failed; the details are masked and logged on the server. "
        "HTTP 200 (500 when it happened before the GraphQL request could run)."
    ),
    ErrorCode.GRAPHQL_PARSE_FAILED: "The document is not valid GraphQL syntax. HTTP 400; nothing ran.",
    ErrorCode.GRAPHQL_VALIDATION_FAILED: (
        "The document does not validate against this schema, or is deeper, has more aliases, more "
        "operations or more fragments than the server allows. HTTP 400; nothing ran."
    ),
    ErrorCode.BAD_REQUEST: (
        "Malformed HTTP: a body that is not a JSON object with a query, JSON nested too deeply, a batch "
        "(a JSON list), or a mutation sent over GET. HTTP 400; nothing ran."
    ),
    ErrorCode.BAD_USER_INPUT: (
        "A string in the request is not valid Unicode (a lone surrogate such as \\ud800): HTTP 400; "
        "nothing ran, so no attempt was counted. Also a codeChallenge that is not 43 base64url "
        "characters (startSocialSignIn, startSocialLink), and on the admin API a `first` out of "
        "1-200, an `after` cursor the server did not give out, or user() without exactly one of id "
        "and email: HTTP 200, the field null."
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: (
        "The request body is over the server's MAX_BODY_BYTES. HTTP 413; nothing ran."
    ),
    ErrorCode.REQUEST_TIMEOUT: (
        "The request body did not fully arrive within BODY_READ_TIMEOUT_SECONDS; the connection is "
        "closed. HTTP 408; nothing ran."
    ),
    ErrorCode.NOT_FOUND: (
        "An HTTP route that is off on this server: /.well-known/jwks.json with HS256 (no public key), "
        "/metrics with metrics off, /graphiql/ and the page at /graphql with GraphiQL off. HTTP 404. "
        "(A session not found by revokeSession is the NotFound result type instead.)"
    ),
    ErrorCode.CLIENT_CLOSED_REQUEST: (
        "The client hung up while its password hash still waited for a worker; the hash is dropped. "
        "Only seen in the server's metrics: nobody is left to read the answer."
    ),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (
        "A POST to /graphql whose Content-Type is not application/json (text/plain, a form, or "
        "text/plain with an application/json parameter, which browsers send cross-site without a "
        "preflight). HTTP 415; nothing ran."
    ),
    ErrorCode.RATE_LIMITED: (
        "This address sent more new GraphQL documents (texts the server had not prepared, or refused) "
        "than RATE_LIMIT_DOCUMENTS allows; known documents are still answered. HTTP 429 with "
        "Retry-After; nothing ran. (A rate-limited operation is the RateLimited result type instead.)"
    ),
    ErrorCode.REQUEST_HEADERS_TOO_LARGE: (
        "The request head (target and headers) is over 16 KiB. HTTP 431, connection closed; nothing ran."
    ),
    ErrorCode.FORBIDDEN: (
        "Admin API only (/admin/graphql): the admin key is valid but lacks the scope the field needs; "
        "extensions.scope names it. HTTP 200."
    ),
}

# The GraphQL face of ErrorCode: the same names and values, each with its description.
ErrorCodeEnum = strawberry.enum(
    Enum(  # type: ignore[misc]
        "ErrorCode",
        {code.name: strawberry.enum_value(code.value, description=DESCRIPTIONS[code]) for code in ErrorCode},
    ),
    name="ErrorCode",
    description=(
        "The values of errors[].extensions.code: why a request or a root field was answered with a "
        "top-level error instead of data. Expected outcomes (a wrong password, a rate limit, an invalid "
        "field) are never top-level errors: they are result types implementing Problem."
    ),
)


def error_codes() -> list[ErrorCodeEnum]:  # type: ignore[valid-type]
    """Every code, for the `errorCodes` query: a client can check its handling against the server's."""
    return [ErrorCodeEnum[code.name] for code in ErrorCode]


def queries() -> type:
    """The `errorCodes` query field."""

    @strawberry.type
    class ErrorCodesQuery:
        error_codes: list[ErrorCodeEnum] = strawberry.field(  # type: ignore[valid-type]
            resolver=error_codes,
            description=(
                "Every value errors[].extensions.code may take (the ErrorCode enum), so a client can check "
                "its error handling against this server. No access token needed."
            ),
        )

    return ErrorCodesQuery
