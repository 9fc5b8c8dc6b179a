"""The one place that decides what a client sees of an error (the HTTP view calls it
on every result, so parse errors are covered too).

Errors we raise on purpose (UNAUTHENTICATED) pass as they are; request errors
(syntax, validation) get a code; a backend that is down or hung, or a full
password-hash queue, becomes SERVICE_UNAVAILABLE; anything else is masked as
INTERNAL_SERVER_ERROR and its traceback goes to the server log, never to the client.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from pymongo.errors import ConnectionFailure, ExecutionTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mail import MailUnavailable
from security.passwords import CallerGone, PasswordQueueFull

logger = logging.getLogger("authql.errors")
# With introspection off, what a validation error says instead: graphql-core's messages
# name types, fields, arguments, input fields and enum values (and suggest them).
SCHEMA_HIDDEN = "The query is not valid for this API."

BACKEND_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionFailure,
    ExecutionTimeout,
    MailUnavailable,
    TimeoutError,
)


def is_backend_failure(error: BaseException | None) -> bool:
    """True if `error`, or anything it was raised from, is a backend outage."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, BACKEND_ERRORS):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def classify(error: GraphQLError, hide_schema: bool = False) -> GraphQLError:
    """The error as the client may see it, with an `extensions.code` in every case.

    With introspection off (`hide_schema`), validation messages become one generic
    sentence (locations kept): they would otherwise reveal the schema one guess at a
    time. Errors that already carry a code (our depth and alias limits) name nothing
    of the schema and pass as they are.
    """
    original = error.original_error
    if error.extensions and "code" in error.extensions:
        return error
    if error.path is None and (original is None or isinstance(original, GraphQLError)):
        # Nothing ran: a syntax error, a validation error or a bad variable.
        code = (
            "GRAPHQL_PARSE_FAILED"
            if error.message.startswith("Syntax Error")
            else "GRAPHQL_VALIDATION_FAILED"
        )
        message = SCHEMA_HIDDEN if hide_schema and code == "GRAPHQL_VALIDATION_FAILED" else error.message
        return _with_code(error, message, code)
    if isinstance(original, PasswordQueueFull):
        # Logged once per overload by Passwords; the client retries in a moment.
        return _with_code(error, "The server is busy; try again in a moment.", "SERVICE_UNAVAILABLE")
    if isinstance(original, CallerGone):
        return _with_code(error, "The client went away.", "CLIENT_CLOSED_REQUEST")
    if is_backend_failure(original):
        logger.warning("backend unavailable at %s: %s", error.path, type(original).__name__)
        return _with_code(
            error, "A backend service is unavailable; try again shortly.", "SERVICE_UNAVAILABLE"
        )
    logger.error("unexpected error at %s", error.path, exc_info=original)
    return _with_code(error, "Internal server error", "INTERNAL_SERVER_ERROR")


def _with_code(error: GraphQLError, message: str, code: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code},
    )
