"""The JSON error answers of the HTTP layer: `{"errors": [{"message", "extensions": {"code"}}]}`."""

from __future__ import annotations

from starlette.responses import JSONResponse

import metrics
from schema.error_codes import ErrorCode


def refused(
    status_code: int, message: str, code: ErrorCode, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A GraphQL request answered with an error before it could run, counted by code."""
    metrics.REQUESTS_REFUSED.labels(code).inc()
    return error_response(status_code, message, code, headers)


def error_response(
    status_code: int, message: str, code: ErrorCode, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code, headers=headers
    )
