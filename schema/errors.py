"""The one place that decides what a client sees of an error (the HTTP view calls it
on every result, so parse errors are covered too).

Errors we raise on purpose (UNAUTHENTICATED) pass as they are; request errors
(syntax, validation) get a code; a backend that is down or hung, or a full
password-hash queue, becomes SERVICE_UNAVAILABLE; anything else is masked as
INTERNAL_SERVER_ERROR and its traceback goes to the server log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError
from redis.exceptions import (
    AskError,
    ClusterError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

import metrics
from schema.error_codes import ErrorCode
from security.hooks import HookFailed
from security.passwords import CallerGone, PasswordQueueFull

logger = logging.getLogger("authql.errors")
# With introspection off, what a validation error says instead: graphql-core's messages
# name types, fields, arguments, input fields and enum values (and suggest them).
SCHEMA_HIDDEN = "The query is not valid for this API."

BACKEND_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,  # a replica left read-only by a failover: Redis cannot take writes
    OutOfMemoryError,  # maxmemory reached under noeviction: the same for every write
    ConnectionFailure,
    ExecutionTimeout,
    TimeoutError,
    # A Redis Cluster mid-failover: a shard without a primary (CLUSTERDOWN), a slot on the
    # move (TRYAGAIN, MOVED/ASK after the client's retries), no node known for a slot.
    ClusterError,
    TryAgainError,
    AskError,
)


# What Redis says when it refuses a write made inside a script: redis-py raises a plain
# ResponseError ("Error running script ... -READONLY ..."), not the subclasses above.
REFUSED_WRITE_MARKERS = ("READONLY You can't write", "OOM command not allowed")


def is_backend_failure(error: BaseException | None) -> bool:
    """True if `error`, or anything it was raised from, is a backend outage."""
    return any(
        isinstance(link, BACKEND_ERRORS) or _refused_write(link) or _cluster_unsettled(link)
        for link in _chain(error)
    )


def _cluster_unsettled(error: BaseException) -> bool:
    """redis-py's RedisClusterException: no node reachable, a slot no node serves yet, the
    slot map unreadable; all outages, except keys of several slots in one call (a bug)."""
    return isinstance(error, RedisClusterException) and "same slot" not in str(error)


def _refused_write(error: BaseException) -> bool:
    return isinstance(error, ResponseError) and any(marker in str(error) for marker in REFUSED_WRITE_MARKERS)


def failed_backend(error: BaseException | None) -> str:
    """Which backend an outage comes from (for the metrics): redis, mongo, or other. (SMTP
    is never on a request's path: the outbox sends, mail/outbox.py.)"""
    for link in _chain(error):
        if isinstance(link, (RedisError, RedisClusterException)):
            return "redis"
        if isinstance(link, PyMongoError):
            return "mongo"
    return "other"


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """`error`, then what it was raised from, and so on (each once)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        yield error
        seen.add(id(error))
        error = error.__cause__ or error.__context__


def error_code(error: BaseException) -> str:
    """The `extensions.code` a root field that raised `error` is answered with (see classify)."""
    if isinstance(error, GraphQLError):
        if error.extensions and "code" in error.extensions:
            return str(error.extensions["code"])
        if error.original_error is not None:
            return error_code(error.original_error)
    return failure_answer(error)[0]


BACKEND_DOWN = "A backend service is unavailable; try again shortly."
HOOK_DOWN = "A service this server must ask is unavailable; try again shortly."


def failure_answer(error: BaseException | None) -> tuple[ErrorCode, str]:
    """The code and message a root field that raised `error` is answered with."""
    if isinstance(error, PasswordQueueFull):
        # Logged once per overload by Passwords; the client retries in a moment.
        return ErrorCode.SERVICE_UNAVAILABLE, "The server is busy; try again in a moment."
    if isinstance(error, HookFailed):
        # Logged by Hooks; fail closed: no sign-up past the policy, no token without its claims.
        return ErrorCode.SERVICE_UNAVAILABLE, HOOK_DOWN
    if isinstance(error, CallerGone):
        return ErrorCode.CLIENT_CLOSED_REQUEST, "The client went away."
    if is_backend_failure(error):
        return ErrorCode.SERVICE_UNAVAILABLE, BACKEND_DOWN
    return ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error"


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
            ErrorCode.GRAPHQL_PARSE_FAILED
            if error.message.startswith("Syntax Error")
            else ErrorCode.GRAPHQL_VALIDATION_FAILED
        )
        message = (
            SCHEMA_HIDDEN if hide_schema and code == ErrorCode.GRAPHQL_VALIDATION_FAILED else error.message
        )
        return _with_code(error, message, code)
    code, message = failure_answer(original)
    if message == BACKEND_DOWN:
        metrics.BACKEND_ERRORS.labels(failed_backend(original)).inc()
        logger.warning("backend unavailable at %s: %s", error.path, type(original).__name__)
    elif code == ErrorCode.INTERNAL_SERVER_ERROR:
        logger.error("unexpected error at %s", error.path, exc_info=original)
    return _with_code(error, message, code)


def _with_code(error: GraphQLError, message: str, code: ErrorCode) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code},
    )
