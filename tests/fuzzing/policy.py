"""The error policy every fuzzed response must keep, and what counts as a leak."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import graphql

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
        "UNSUPPORTED_MEDIA_TYPE",
        "REQUEST_HEADERS_TOO_LARGE",
    }
)
# INTERNAL_SERVER_ERROR is an unexpected exception: a bug. SERVICE_UNAVAILABLE: the
# backends are up while we fuzz, so it would be a bug too (or a misclassified one).
FORBIDDEN_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})
# Nothing ran: the request itself was refused.
REQUEST_ERROR_CODES = frozenset(
    {
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST",
        "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "REQUEST_HEADERS_TOO_LARGE",
    }
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
